// Counter-based random numbers: value n of stream (seed, id) is a pure function of
// (seed, id, n), so any element of a tensor can be generated on any thread, in any order, with
// the same bits on every machine. The mixing function is SplitMix64's output function (Steele,
// Lea, Flood, "Fast splittable pseudorandom number generators", OOPSLA 2014): the n-th output
// of a SplitMix64 generator with state `key` is mix64(key + n * gamma).
#pragma once

#include <cmath>
#include <cstdint>

#include "datasets/detail/portable_math.hpp"

namespace attn::data::detail {

inline uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

class CounterRng {
 public:
  static constexpr uint64_t kGamma = 0x9e3779b97f4a7c15ULL;

  CounterRng(uint64_t seed, uint64_t stream) : key_(mix64(seed ^ (stream * 0xd1342543de82ef95ULL))) {}

  /// The n-th 64-bit value of the stream.
  uint64_t bits(uint64_t n) const { return mix64(key_ + (n + 1) * kGamma); }

  /// Normals 2p and 2p + 1 of the stream (Box-Muller on values 2p and 2p + 1), through
  /// portable_math so the result does not depend on the machine's libm.
  void normal_pair(uint64_t p, double* a, double* b) const {
    const double u1 = double((bits(2 * p) >> 11) + 1) * 0x1.0p-53;  // (0, 1]
    const double u2 = double(bits(2 * p + 1) >> 11) * 0x1.0p-53;    // [0, 1)
    const double radius = std::sqrt(-2.0 * portable_log(u1));      // sqrt is correctly rounded
    double s = 0.0, c = 0.0;
    portable_sincos(6.283185307179586477 * u2, &s, &c);
    *a = radius * c;
    *b = radius * s;
  }

  /// Normal n of the stream.
  double normal(uint64_t n) const {
    double a, b;
    normal_pair(n / 2, &a, &b);
    return (n & 1) ? b : a;
  }

 private:
  uint64_t key_;
};

}  // namespace attn::data::detail
