#include "datasets/generator.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "datasets/case_file.hpp"
#include "datasets/detail/portable_math.hpp"
#include "datasets/detail/rng.hpp"
#include "datasets/errors.hpp"
#include "datasets/presets.hpp"

namespace attn::data {
namespace {

using detail::Rng;

// Stream ids: each tensor draws from its own stream, so adding a tensor or changing the
// generation order never changes the others.
constexpr uint64_t kStreamQ = 1, kStreamK = 100, kStreamV = 200, kStreamGrad = 300,
                   kStreamOutliers = 400;

struct Shape {
  int64_t B, H, Hkv, L, D, t;
};

/// Rotary embedding, "rotate half" pairing (channel d with d + D/2), frequencies
/// theta^(-2d/D) (Su et al., RoFormer, 2021). An odd D leaves its last channel unrotated.
class Rope {
 public:
  Rope(int64_t D, double theta) : half_(D / 2), inv_freq_(D / 2) {
    for (int64_t d = 0; d < half_; ++d)
      inv_freq_[d] = detail::portable_exp(-detail::portable_log(theta) * double(2 * d) / double(D));
  }

  /// Rotates one row x[0..D) in place as at position `pos`.
  void apply(double* x, int64_t pos) const {
    for (int64_t d = 0; d < half_; ++d) {
      double s = 0.0, c = 0.0;
      detail::portable_sincos(double(pos) * inv_freq_[d], &s, &c);
      const double a = x[d], b = x[d + half_];
      x[d] = a * c - b * s;
      x[d + half_] = b * c + a * s;
    }
  }

 private:
  int64_t half_;
  std::vector<double> inv_freq_;
};

/// The outlier channels of each kv head (distinct, drawn among the low-frequency rotary
/// channels, where large key activations sit in trained models) and their signs.
struct Outliers {
  std::vector<std::vector<int64_t>> channels;  // [Hkv][n]
  std::vector<std::vector<double>> signs;
};

Outliers draw_outliers(const Shape& s, int64_t n, uint64_t seed) {
  Outliers o;
  Rng rng(seed, kStreamOutliers);
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

void round_all(Tensor& t) {
  for (double& x : t.values) x = round_to(t.dtype, x);
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
  const Shape s{spec.batch, H, Hkv, spec.seq, D, spec.ttt_step};
  if (s.B <= 0 || s.L <= 0) throw InputError("--batch and --seq must be positive");
  if (s.H % s.Hkv != 0)
    throw InputError("--heads must be a multiple of --kv-heads: found heads " + std::to_string(H) +
                     ", kv-heads " + std::to_string(Hkv));
  if (s.t < 0 || s.t >= s.L)
    throw InputError("--ttt-step must be in [0, seq): found " + std::to_string(s.t) + " with seq " +
                     std::to_string(s.L));
  std::vector<int64_t> pad = spec.pad;
  if (pad.empty()) pad.assign(size_t(s.B), 0);
  if (pad.size() == 1 && s.B > 1) pad.assign(size_t(s.B), pad[0]);
  if (int64_t(pad.size()) != s.B)
    throw InputError("--pad needs one value or one per batch element: expected " +
                     std::to_string(s.B) + ", found " + std::to_string(pad.size()));
  for (int64_t p : pad)
    if (p < 0 || p >= s.L)
      throw InputError("--pad values must be in [0, seq): found " + std::to_string(p));
  if (spec.logit_std <= 0 || spec.grad_scale <= 0 || spec.outlier_gain < 0 || spec.outlier_channels < 0)
    throw InputError("--logit-std and --grad-scale must be positive, outlier options non-negative");

  CaseInputs c;
  c.config = CaseConfig{s.B, s.H, s.Hkv, s.L, s.D, s.t, spec.dtype, 1.0 / std::sqrt(double(s.D))};
  for (int64_t p : pad) c.valid_len.push_back(s.L - p);

  const Rope rope(s.D, theta);
  const Outliers outliers = draw_outliers(s, spec.outlier_channels, spec.seed);
  const std::vector<int64_t> q_shape{s.B, s.H, s.L, s.D}, kv_shape{s.B, s.Hkv, s.L, s.D};

  // q: temperature logit_std (s * q.k has that std over ordinary channels, since s = 1/sqrt(D)
  // and the ordinary key channels are unit normal); position i + t (the step's offset).
  c.q = Tensor::zeros(spec.dtype, q_shape);
  {
    Rng rng(spec.seed, kStreamQ);
    double* x = c.q.values.data();
    for (int64_t bh = 0; bh < s.B * s.H; ++bh)
      for (int64_t i = 0; i < s.L; ++i, x += s.D) {
        for (int64_t d = 0; d < s.D; ++d) x[d] = spec.logit_std * rng.normal();
        rope.apply(x, i + s.t);
      }
  }
  // Keys of block m at position i + m. Outlier channels (channel-wise key outliers, as seen in
  // trained models) hold outlier_gain * (sign + 0.5 noise): the constant part shifts every logit
  // of a row (large lse), the varying part widens the logit spread (peaked rows).
  for (int64_t m = 0; m <= s.t; ++m) {
    Tensor k = Tensor::zeros(spec.dtype, kv_shape), v = Tensor::zeros(spec.dtype, kv_shape);
    Rng rk(spec.seed, kStreamK + uint64_t(m)), rv(spec.seed, kStreamV + uint64_t(m));
    double* xk = k.values.data();
    double* xv = v.values.data();
    for (int64_t b = 0; b < s.B; ++b)
      for (int64_t g = 0; g < s.Hkv; ++g)
        for (int64_t i = 0; i < s.L; ++i, xk += s.D, xv += s.D) {
          for (int64_t d = 0; d < s.D; ++d) xk[d] = rk.normal();
          for (size_t o = 0; o < outliers.channels[size_t(g)].size(); ++o) {
            double& x = xk[outliers.channels[size_t(g)][o]];
            x = spec.outlier_gain * (outliers.signs[size_t(g)][o] + 0.5 * x);
          }
          rope.apply(xk, i + m);
          for (int64_t d = 0; d < s.D; ++d) xv[d] = rv.normal();
        }
    round_all(k);
    round_all(v);
    c.k.push_back(std::move(k));
    c.v.push_back(std::move(v));
  }
  c.grad_out = Tensor::zeros(spec.dtype, q_shape);
  {
    Rng rng(spec.seed, kStreamGrad);
    for (double& x : c.grad_out.values) x = spec.grad_scale * rng.normal();
  }
  round_all(c.q);
  round_all(c.grad_out);

  GeneratorParams gp;
  gp.preset = preset_name;
  gp.seed = spec.seed;
  gp.pad = pad;
  gp.rope_theta = theta;
  gp.logit_std = spec.logit_std;
  gp.outlier_channels = int64_t(outliers.channels.empty() ? 0 : outliers.channels[0].size());
  gp.outlier_gain = spec.outlier_gain;
  gp.grad_scale = spec.grad_scale;
  c.generator = gp;
  validate_case(c, "generated case");
  return c;
}

}  // namespace attn::data
