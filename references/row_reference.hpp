// Pointwise fp64 reference: the values of a few rows of the TTT attention function (the same
// function as dense_reference and structured_reference, see ttt_problem.hpp), computed from
// those rows' own dependencies only, for questions about single elements of large cases
// (`inspect` at L = 32K) without computing the whole case.
//
// Cost, with n = valid rows of the batch element and G = H / Hkv:
//   query_row(b, h, i)          O(i D): row i's scores, softmax, out, delta and dq;
//   singleton_kv_row(b, kvh, i) O(G i D): row i of every head of the group;
//   key_row(b, kvh, j)          O(G (n - j) n D): lse and delta of every valid row i >= j of
//                               every head of the group (their forward), threaded over rows.
// Conventions as TttInputs / TttResult: row-major fp64 views, a row of a [.., L, D] tensor is
// D values; grad_out == nullptr gives zero gradients. Invalid rows (i >= valid_len[b] - t) have
// valid = false and exact zeros everywhere, as in the full references; so do key rows j no
// valid row reads (j >= valid_len[b] - t).
// Everything is computed with plain loops in a fixed order (no Eigen products): the values are
// bitwise reproducible (thread count, addresses) and agree with the full references to about
// 1e-14 relative, not bit for bit.
#pragma once

#include <cstdint>
#include <vector>

#include "references/ttt_problem.hpp"

namespace attn::ref {

/// Row i of query head h of batch element b.
struct QueryRow {
  bool valid = false;            ///< i < valid_len[b] - t
  int64_t valid_rows = 0;        ///< valid rows of batch element b: max(0, valid_len[b] - t)
  std::vector<double> out;       ///< out_i [D]
  double lse = 0.0;              ///< lse_i
  std::vector<double> dq;        ///< dq_i [D]
  double delta = 0.0;            ///< g_i . out_i
  double max_logit = 0.0;        ///< max(max_{j<=i} s q_i.k0_j, max_m c_im): the softmax's shift
  double max_weight0 = 0.0;      ///< the largest block-0 weight max_{j<=i} p_ij
  int64_t max_weight0_key = -1;  ///< its key j (the smallest such j); -1 on invalid rows
  /// Singleton blocks m = 1..t at index m - 1: logit c_im = s q_i.k_m,i, weight
  /// pi_im = exp(c_im - lse_i), and this head's contributions to row i of dk_m and dv_m:
  /// s pi_im (g_i.v_m,i - delta_i) q_i and pi_im g_i ([D] each). dk_m and dv_m themselves sum
  /// these over the heads of the kv group: singleton_kv_row.
  std::vector<double> singleton_logit, singleton_weight;
  std::vector<std::vector<double>> dk_singleton, dv_singleton;
};

/// Row i of dk_m and dv_m (m = 1..t) of kv head kvh: sums over the group's query heads.
struct SingletonKvRow {
  bool valid = false;                       ///< row i is a valid query row
  std::vector<std::vector<double>> dk, dv;  ///< [t][D]: dk_m,i at index m - 1
};

/// Row j of dk0 and dv0 of kv head kvh (key j of block 0).
struct KeyRow {
  bool valid = false;          ///< j < valid_len[b] - t (some valid row reads key j)
  std::vector<double> dk, dv;  ///< dk0_j, dv0_j [D]
  int64_t rows = 0;            ///< (query head, row) pairs that contributed: G (n - j)
};

/// Throw std::invalid_argument for an invalid `in` (validate) or an index out of range,
/// naming the index, its value and the range.
QueryRow query_row(const TttInputs& in, int64_t b, int64_t h, int64_t i);
SingletonKvRow singleton_kv_row(const TttInputs& in, int64_t b, int64_t kvh, int64_t i);
/// `threads`: OpenMP threads over the contributing rows (0: the OpenMP default, fewer for small
/// work); the result does not depend on it.
KeyRow key_row(const TttInputs& in, int64_t b, int64_t kvh, int64_t j, int threads = 0);

}  // namespace attn::ref
