// Deterministic random numbers: splitmix64 seeding, xoshiro256** (Blackman and Vigna, 2018),
// Box-Muller normals through portable_math. One independent stream per (seed, stream id).
#pragma once

#include <cmath>
#include <cstdint>

#include "datasets/detail/portable_math.hpp"

namespace attn::data::detail {

inline uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

class Rng {
 public:
  Rng(uint64_t seed, uint64_t stream) {
    uint64_t sm = seed ^ (stream * 0xd1342543de82ef95ULL);
    for (auto& w : s_) w = splitmix64(sm);
  }

  uint64_t next() {
    const uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }

  /// Uniform in [0, 1) with 53 random bits.
  double uniform() { return double(next() >> 11) * 0x1.0p-53; }

  /// Standard normal (Box-Muller; both values of a pair are used).
  double normal() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    const double u1 = double((next() >> 11) + 1) * 0x1.0p-53;  // (0, 1]
    const double u2 = uniform();
    const double radius = std::sqrt(-2.0 * portable_log(u1));  // sqrt is correctly rounded
    double s = 0.0, c = 0.0;
    portable_sincos(6.283185307179586477 * u2, &s, &c);
    spare_ = radius * s;
    has_spare_ = true;
    return radius * c;
  }

 private:
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t s_[4];
  double spare_ = 0.0;
  bool has_spare_ = false;
};

}  // namespace attn::data::detail
