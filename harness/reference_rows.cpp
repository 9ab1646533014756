#include "harness/reference_rows.hpp"
#include <cstdio>

#include "datasets/errors.hpp"
#include "harness/reference_adapter.hpp"
#include "references/row_reference.hpp"

namespace attn::cli {

ReferenceRowSource::ReferenceRowSource(const data::CaseManifest& m, const data::CaseInputs& in,
                                       std::string hash, bool quiet)
    : m_(m), in_(in), hash_(std::move(hash)), quiet_(quiet) {}

ReferenceRowSource::~ReferenceRowSource() = default;

ReferenceRows ReferenceRowSource::rows(const std::string& tensor, int64_t b, int64_t x,
                                       int64_t row) {
  const data::CaseManifest& m = m_;
  const std::string& hash = hash_;
  const bool quiet = quiet_;
  ReferenceRows r;
  const bool query_row = tensor == "out" || tensor == "lse" || tensor == "dq";
  if (m.reference && data::record_state(*m.reference, hash) == data::RecordState::current) {
    r.source = "cached";
    r.value = data::read_record_rows(m, *m.reference, tensor, b, x, row, 1);
    if (query_row) r.lse = data::read_record_rows(m, *m.reference, "lse", b, x, row, 1).at(0);
    return r;
  }
  // Not cached: the row's own dependencies only (references/row_reference.hpp).
  if (!problem_) problem_ = reference_problem(in_);
  const ReferenceProblem* problem = problem_.get();
  const int64_t D = m.config.D;
  auto row_tensor = [&](std::vector<double> v) {
    const int64_t n = int64_t(v.size());
    return data::Tensor::from_f64(data::DType::f64, {n}, std::move(v));
  };
  try {
    if (query_row) {
      r.source = "computed for this row";
      const ref::QueryRow q = ref::query_row(problem->view, b, x, row);
      r.lse = q.lse;
      r.value = tensor == "lse" ? row_tensor({q.lse}) : row_tensor(tensor == "out" ? q.out : q.dq);
      return r;
    }
    const int64_t block = std::stoll(tensor.substr(2));
    const bool is_k = tensor[1] == 'k';
    if (block == 0) {
      if (!quiet) std::fprintf(stderr, "inspect: computing key row %lld of block 0 from every later row...\n", (long long)row);
      r.source = "computed for this row";
      const ref::KeyRow k = ref::key_row(problem->view, b, x, row);
      r.value = row_tensor(is_k ? k.dk : k.dv);
    } else {
      r.source = "computed for this row";
      const ref::SingletonKvRow s = ref::singleton_kv_row(problem->view, b, x, row);
      r.value = s.valid ? row_tensor(is_k ? s.dk[size_t(block - 1)] : s.dv[size_t(block - 1)])
                        : row_tensor(std::vector<double>(size_t(D), 0.0));
    }
  } catch (const std::invalid_argument& e) {
    throw data::InputError(e.what());
  }
  return r;
}

}  // namespace attn::cli
