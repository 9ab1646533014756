// The TTT attention problem as the fp64 reference sees it (docs/design.md, "The function").
// Plain views over caller-owned fp64 buffers; this header has no dependency beyond the STL.
#pragma once

#include <cstdint>
#include <vector>

namespace attn::ref {

/// Sizes of one TTT step. H % Hkv == 0; head h reads kv head h / (H / Hkv).
struct TttShape {
  int64_t B = 1, H = 1, Hkv = 1, L = 1, D = 1;
  int64_t t = 0;  ///< TTT step: the cache holds blocks 0..t.

  int64_t group() const { return H / Hkv; }
  int64_t blocks() const { return t + 1; }
  int64_t q_numel() const { return B * H * L * D; }    ///< q, out, dq, grad_out
  int64_t kv_numel() const { return B * Hkv * L * D; }  ///< each k_m, v_m, dk_m, dv_m
  int64_t lse_numel() const { return B * H * L; }
};

/// Inputs, all row-major contiguous fp64:
///   q, grad_out: [B, H, L, D]; k[m], v[m]: [B, Hkv, L, D] for m = 0..t; valid_len: [B].
/// grad_out may be null: then only out and lse are computed and the gradients stay zero.
struct TttInputs {
  TttShape shape;
  double scale = 0.0;  ///< softmax scale s (callers pass 1/sqrt(D) when the case has none)
  const double* q = nullptr;
  std::vector<const double*> k, v;
  const double* grad_out = nullptr;
  std::vector<int64_t> valid_len;
};

/// Results: out, dq: [B, H, L, D]; lse: [B, H, L]; dk[m], dv[m]: [B, Hkv, L, D].
/// Invalid rows (i >= valid_len[b] - t) hold exact zeros in out, lse and dq and contribute
/// nothing to dk, dv.
struct TttResult {
  std::vector<double> out, lse, dq;
  std::vector<std::vector<double>> dk, dv;

  /// All tensors allocated for `shape` and zero-filled (the pages are touched).
  static TttResult zeros(const TttShape& shape);
};

/// Number of valid query rows of batch element b: max(0, min(L, valid_len[b]) - t).
int64_t valid_rows(const TttInputs& in, int64_t b);

/// Throws std::invalid_argument naming the first inconsistency (sizes, null pointers,
/// block counts, valid_len out of [0, L], H not a multiple of Hkv, non-positive scale).
void validate(const TttInputs& in);

}  // namespace attn::ref
