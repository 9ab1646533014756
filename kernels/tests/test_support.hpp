// Shared helpers of the kernels tests: seeded cases, the fp64 reference, and the provisional
// gate of docs/gate.md evaluated on valid elements.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "datasets/case.hpp"
#include "kernels/backend.hpp"
#include "references/ttt_problem.hpp"

namespace attn::kern::test {

struct CaseSpec {
  int64_t B = 1, H = 4, Hkv = 2, L = 64, D = 64, t = 0;
  data::DType dtype = data::DType::bf16;
  std::vector<int64_t> pad;  ///< right padding per batch element (empty: none)
  uint64_t seed = 1;
  double q_std = 1.0, k_std = 1.0, v_std = 1.0, grad_std = 1.0;
};

std::string describe(const CaseSpec& s);
/// GoogleTest prints parameters with this.
inline void PrintTo(const CaseSpec& s, std::ostream* os) { *os << describe(s); }

/// Normal inputs rounded exactly into the dtype (std::mt19937_64, reproducible per seed).
data::CaseInputs make_case(const CaseSpec& s);

/// The Eigen fp64 reference (structured form) of a case.
ref::TttResult reference(const data::CaseInputs& in);

/// One tensor of the comparison: errors over valid elements (valid rows for out, lse, dq; all
/// of dk_m, dv_m).
struct TensorError {
  std::string name;
  double err = 0.0;      ///< max |X - X_ref|
  double ref_max = 0.0;  ///< max |X_ref|
  double floor = 0.0;    ///< 2 max |(X_ref + 0.3 - 0.3) - X_ref| in the floor dtype
  bool finite = true;    ///< no NaN / Inf on the compared elements
  double rel() const { return ref_max > 0 ? err / ref_max : err; }
};

/// Errors of `o` against `r` for out, lse, dq, dk0..dkt, dv0..dvt (in that order). `floor_type`:
/// the candidate's dtype for the floor of out and gradients (lse's floor is always in fp32).
std::vector<TensorError> compare(const TorchOutputs& o, const ref::TttResult& r,
                                 const data::CaseInputs& in, at::ScalarType floor_type);

/// The provisional rule: err_c <= r err_b + floor (r = 2 for out and lse, 3 for gradients), and
/// finite. Returns the names of the tensors that fail ("" when all pass); writes one line per
/// tensor with the ratio err_c / err_b to `report` when given.
std::string gate_failures(const std::vector<TensorError>& candidate,
                          const std::vector<TensorError>& baseline, std::string* report = nullptr);

/// Max |x| over the invalid rows of a [B, H, L(, D)] tensor (0 when there are none).
double invalid_rows_max_abs(const at::Tensor& x, const data::CaseInputs& in);

}  // namespace attn::kern::test
