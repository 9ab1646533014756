#include "datasets/generator.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "datasets/case_store.hpp"
#include "datasets/detail/counter_rng.hpp"
#include "datasets/detail/fast_round.hpp"
#include "datasets/detail/portable_math.hpp"
#include "datasets/detail/rng.hpp"
#include "datasets/errors.hpp"
#include "datasets/limits.hpp"
#include "datasets/presets.hpp"

namespace attn::data {
namespace {

using detail::CounterRng;

// Stream ids: each tensor draws from its own stream, so adding a tensor or changing the
// generation order never changes the others.
constexpr uint64_t kStreamQ = 1, kStreamK = 100, kStreamV = 200, kStreamGrad = 300,
                   kStreamOutliers = 400;
constexpr const char* kRngScheme = "counter-splitmix64-v2";

struct Shape {
  int64_t B, H, Hkv, L, D, t;
};

/// cos and sin of pos * theta^(-2d/D) for pos in [0, positions) and d < D/2 ("rotate half"
/// pairing, Su et al., RoFormer, 2021), computed once with portable_math.
class RopeTable {
 public:
  RopeTable(int64_t D, double theta, int64_t positions) : half_(D / 2), cos_(size_t(positions * half_)), sin_(cos_.size()) {
    std::vector<double> inv_freq(static_cast<size_t>(half_));
    for (int64_t d = 0; d < half_; ++d)
      inv_freq[size_t(d)] =
          detail::portable_exp(-detail::portable_log(theta) * double(2 * d) / double(D));
#pragma omp parallel for schedule(static)
    for (int64_t pos = 0; pos < positions; ++pos)
      for (int64_t d = 0; d < half_; ++d)
        detail::portable_sincos(double(pos) * inv_freq[size_t(d)], &sin_[size_t(pos * half_ + d)],
                                &cos_[size_t(pos * half_ + d)]);
  }

  /// Rotates one row x[0..D) in place as at position `pos`; an odd D leaves its last channel.
  void apply(double* x, int64_t pos) const {
    const double* c = &cos_[size_t(pos * half_)];
    const double* s = &sin_[size_t(pos * half_)];
    for (int64_t d = 0; d < half_; ++d) {
      const double a = x[d], b = x[d + half_];
      x[d] = a * c[d] - b * s[d];
      x[d + half_] = b * c[d] + a * s[d];
    }
  }

 private:
  int64_t half_;
  std::vector<double> cos_, sin_;
};

/// The outlier channels of each kv head (distinct, drawn among the low-frequency rotary
/// channels, where large key activations sit in trained models) and their signs.
struct Outliers {
  std::vector<std::vector<int64_t>> channels;  // [Hkv][n]
  std::vector<std::vector<double>> signs;
};

Outliers draw_outliers(const Shape& s, int64_t n, uint64_t seed) {
  Outliers o;
  detail::Rng rng(seed, kStreamOutliers);
  const int64_t half = std::max<int64_t>(s.D / 2, 1);
  const int64_t pool = std::max<int64_t>(half / 4, 1);  // lowest-frequency quarter of each half
  n = std::min(n, 2 * pool);
  for (int64_t g = 0; g < s.Hkv; ++g) {
    std::vector<int64_t> chosen;
    while (int64_t(chosen.size()) < n) {
      const int64_t r = int64_t(rng.next() % uint64_t(2 * pool));
      const int64_t ch = (r < pool ? half - 1 - r : std::min(s.D - 1, 2 * half - 1 - (r - pool)));
      if (std::find(chosen.begin(), chosen.end(), ch) == chosen.end()) chosen.push_back(ch);
    }
    std::vector<double> signs;
    for (size_t i = 0; i < chosen.size(); ++i) signs.push_back((rng.next() & 1) ? 1.0 : -1.0);
    o.channels.push_back(chosen);
    o.signs.push_back(signs);
  }
  return o;
}

/// Stores row `x` (D values) at element offset `at` of `t`, rounded into t.dtype.
void store_row(Tensor& t, int64_t at, const double* x, int64_t D) {
  switch (t.dtype) {
    case DType::bf16: {
      uint16_t* p = t.mutable_data<uint16_t>() + at;
      for (int64_t d = 0; d < D; ++d) p[d] = detail::bf16_bits_rne(x[d]);
      return;
    }
    case DType::f32: {
      float* p = t.mutable_data<float>() + at;
      for (int64_t d = 0; d < D; ++d) p[d] = static_cast<float>(x[d]);  // one rounding, to nearest even
      return;
    }
    case DType::f64: {
      double* p = t.mutable_data<double>() + at;
      for (int64_t d = 0; d < D; ++d) p[d] = x[d];
      return;
    }
  }
}

/// Fills x[0..D) with normals e0 .. e0 + D - 1 of `rng`, times `scale`.
void draw_row(const CounterRng& rng, uint64_t e0, int64_t D, double scale, double* x) {
  int64_t d = 0;
  if (e0 & 1) x[d++] = scale * rng.normal(e0);
  for (; d + 1 < D; d += 2) {
    double a, b;
    rng.normal_pair((e0 + uint64_t(d)) / 2, &a, &b);
    x[d] = scale * a;
    x[d + 1] = scale * b;
  }
  if (d < D) x[d] = scale * rng.normal(e0 + uint64_t(d));
}

void check_size(const char* option, int64_t value, int64_t limit) {
  if (value <= 0 || value > limit)
    throw InputError(std::string(option) + " must be in [1, " + std::to_string(limit) +
                     "]: found " + std::to_string(value));
}

}  // namespace

CaseInputs generate_case(const GeneratorSpec& spec) {
  int64_t H = spec.heads, Hkv = spec.kv_heads, D = spec.head_dim;
  double theta = spec.rope_theta;
  std::string preset_name = spec.preset;
  if (spec.preset != "custom") {
    const ModelPreset& p = find_preset(spec.preset);
    if (H <= 0) H = p.heads;
    if (Hkv <= 0) Hkv = p.kv_heads;
    if (D <= 0) D = p.head_dim;
    if (theta <= 0) theta = p.rope_theta;
    if (H != p.heads || Hkv != p.kv_heads || D != p.head_dim) preset_name += "+custom";
  } else if (H <= 0 || Hkv <= 0 || D <= 0) {
    throw InputError("preset 'custom' needs --heads, --kv-heads and --head-dim (all > 0)");
  }
  if (theta <= 0) theta = 10000.0;
  check_size("--batch", spec.batch, kMaxBatch);
  check_size("--seq", spec.seq, kMaxSeq);
  check_size("--heads", H, kMaxHeads);
  check_size("--kv-heads", Hkv, kMaxHeads);
  check_size("--head-dim", D, kMaxHeadDim);
  const Shape s{spec.batch, H, Hkv, spec.seq, D, spec.ttt_step};
  if (s.H % s.Hkv != 0)
    throw InputError("--heads must be a multiple of --kv-heads: found heads " + std::to_string(H) +
                     ", kv-heads " + std::to_string(Hkv));
  if (s.t < 0 || s.t >= s.L || s.t > kMaxTttStep)
    throw InputError("--ttt-step must be in [0, min(seq, " + std::to_string(kMaxTttStep + 1) +
                     ")): found " + std::to_string(s.t) + " with seq " + std::to_string(s.L));
  std::vector<int64_t> pad = spec.pad;
  if (pad.empty()) pad.assign(size_t(s.B), 0);
  if (pad.size() == 1 && s.B > 1) pad.assign(size_t(s.B), pad[0]);
  if (int64_t(pad.size()) != s.B)
    throw InputError("--pad needs one value or one per batch element: expected " +
                     std::to_string(s.B) + ", found " + std::to_string(pad.size()));
  for (int64_t p : pad)
    if (p < 0 || p >= s.L)
      throw InputError("--pad values must be in [0, seq): found " + std::to_string(p));
  if (!(spec.logit_std > 0) || !(spec.grad_scale > 0) || !(spec.outlier_gain >= 0) ||
      spec.outlier_channels < 0 || !std::isfinite(spec.logit_std) ||
      !std::isfinite(spec.grad_scale) || !std::isfinite(spec.outlier_gain))
    throw InputError("--logit-std and --grad-scale must be positive, outlier options non-negative");

  const std::vector<int64_t> q_shape{s.B, s.H, s.L, s.D}, kv_shape{s.B, s.Hkv, s.L, s.D};
  const int64_t q_numel = checked_numel(q_shape, "the generated q");
  const int64_t kv_numel = checked_numel(kv_shape, "the generated k and v blocks");
  require_memory(uint64_t(2 * q_numel + 2 * (s.t + 1) * kv_numel) * element_size(spec.dtype),
                 "generating this case");

  CaseInputs c;
  c.config = CaseConfig{s.B, s.H, s.Hkv, s.L, s.D, s.t, spec.dtype, 1.0 / std::sqrt(double(s.D))};
  for (int64_t p : pad) c.valid_len.push_back(s.L - p);

  const RopeTable rope(s.D, theta, s.L + s.t);
  const Outliers outliers = draw_outliers(s, spec.outlier_channels, spec.seed);

  // q: temperature logit_std (s * q.k has that std over ordinary channels, since s = 1/sqrt(D)
  // and the ordinary key channels are unit normal); position i + t (the step's offset). Every
  // row is a function of its index alone, so rows are filled in parallel.
  c.q = Tensor::empty(spec.dtype, q_shape);
  {
    const CounterRng rng(spec.seed, kStreamQ);
#pragma omp parallel
    {
      std::vector<double> x(static_cast<size_t>(s.D));
#pragma omp for schedule(static)
      for (int64_t row = 0; row < s.B * s.H * s.L; ++row) {
        draw_row(rng, uint64_t(row * s.D), s.D, spec.logit_std, x.data());
        rope.apply(x.data(), row % s.L + s.t);
        store_row(c.q, row * s.D, x.data(), s.D);
      }
    }
  }
  // Keys of block m at position i + m. Outlier channels (channel-wise key outliers, as seen in
  // trained models) hold outlier_gain * (sign + 0.5 noise): the constant part shifts every logit
  // of a row (large lse), the varying part widens the logit spread (peaked rows).
  for (int64_t m = 0; m <= s.t; ++m) {
    Tensor k = Tensor::empty(spec.dtype, kv_shape), v = Tensor::empty(spec.dtype, kv_shape);
    const CounterRng rk(spec.seed, kStreamK + uint64_t(m)), rv(spec.seed, kStreamV + uint64_t(m));
#pragma omp parallel
    {
      std::vector<double> xk(static_cast<size_t>(s.D)), xv(static_cast<size_t>(s.D));
#pragma omp for schedule(static)
      for (int64_t row = 0; row < s.B * s.Hkv * s.L; ++row) {
        const int64_t g = (row / s.L) % s.Hkv, i = row % s.L;
        draw_row(rk, uint64_t(row * s.D), s.D, 1.0, xk.data());
        for (size_t o = 0; o < outliers.channels[size_t(g)].size(); ++o) {
          double& x = xk[size_t(outliers.channels[size_t(g)][o])];
          x = spec.outlier_gain * (outliers.signs[size_t(g)][o] + 0.5 * x);
        }
        rope.apply(xk.data(), i + m);
        draw_row(rv, uint64_t(row * s.D), s.D, 1.0, xv.data());
        store_row(k, row * s.D, xk.data(), s.D);
        store_row(v, row * s.D, xv.data(), s.D);
      }
    }
    c.k.push_back(std::move(k));
    c.v.push_back(std::move(v));
  }
  c.grad_out = Tensor::empty(spec.dtype, q_shape);
  {
    const CounterRng rng(spec.seed, kStreamGrad);
#pragma omp parallel
    {
      std::vector<double> x(static_cast<size_t>(s.D));
#pragma omp for schedule(static)
      for (int64_t row = 0; row < s.B * s.H * s.L; ++row) {
        draw_row(rng, uint64_t(row * s.D), s.D, spec.grad_scale, x.data());
        store_row(c.grad_out, row * s.D, x.data(), s.D);
      }
    }
  }

  GeneratorParams gp;
  gp.preset = preset_name;
  gp.seed = spec.seed;
  gp.pad = pad;
  gp.rope_theta = theta;
  gp.logit_std = spec.logit_std;
  gp.outlier_channels = int64_t(outliers.channels.empty() ? 0 : outliers.channels[0].size());
  gp.outlier_gain = spec.outlier_gain;
  gp.grad_scale = spec.grad_scale;
  gp.rng = kRngScheme;
  c.generator = gp;
  validate_case(c, "generated case");
  return c;
}

}  // namespace attn::data
