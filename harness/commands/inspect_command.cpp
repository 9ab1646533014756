// attn-harness inspect CASE --tensor X (--at b,h,i[,d] | --worst K): one element in the
// reference and every recorded producer, with its row's context; or the K worst elements.
#include <algorithm>
#include <cmath>
#include <iomanip>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>

#include "datasets/case_file.hpp"
#include "datasets/errors.hpp"
#include "harness/commands/command.hpp"
#include "harness/exit_codes.hpp"
#include "harness/judge_case.hpp"
#include "harness/reference_cache.hpp"
#include "reports/detail/number_format.hpp"
#include "reports/error_metrics.hpp"
#include "reports/output_tensors.hpp"
#include "reports/row_context.hpp"
#include "reports/tensor_comparison.hpp"

namespace attn::cli {
namespace {

using report::detail::count;
using report::detail::sci;

struct Options {
  std::string path, tensor, baseline = "sdpa";
  std::vector<int64_t> at;
  std::vector<std::string> candidates;
  int worst = 0;
  bool quiet = false;
};

// The largest |ref| over valid elements: the relative-error floor uses it as compare does.
double valid_max_abs(const data::Tensor& t, const std::vector<int64_t>& rows) {
  const int64_t B = t.shape[0], X = t.shape[1], L = t.shape[2];
  const int64_t D = t.shape.size() == 4 ? t.shape[3] : 1;
  double m = 0;
  for (int64_t b = 0; b < B; ++b)
    for (int64_t x = 0; x < X; ++x)
      for (int64_t i = 0; i < std::min(rows[size_t(b)], L); ++i)
        for (int64_t d = 0; d < D; ++d) {
          const double v = t.values[size_t(((b * X + x) * L + i) * D + d)];
          if (std::isfinite(v)) m = std::max(m, std::fabs(v));
        }
  return m;
}

std::string row_context_line(const report::RowContext& r) {
  std::ostringstream o;
  o << "query row (b=" << r.b << ", h=" << r.h << ", i=" << r.i << "): "
    << (r.valid ? "valid" : "INVALID (not judged)") << " (" << r.valid_rows << " valid rows)";
  o << "; max logit " << std::setprecision(6) << r.max_logit;
  if (r.valid) {
    o << "; reference lse " << std::setprecision(8) << r.lse << "; largest weight "
      << std::setprecision(4) << r.max_weight;
    for (size_t m = 0; m < r.singleton_weights.size(); ++m)
      o << "\n    singleton m=" << m + 1 << ": logit " << std::setprecision(6)
        << r.singleton_logits[m] << ", weight pi " << sci(r.singleton_weights[m], 4);
  }
  return o.str();
}

int run_inspect(const Options& o) {
  const auto id = report::parse_tensor_name(o.tensor);
  if (!id) throw data::InputError("--tensor must be out, lse, dq, dk<m> or dv<m>, found '" + o.tensor + "'");
  const data::CaseInputs in = data::read_case_inputs(o.path);
  const data::CaseConfig& c = in.config;
  if (id->per_kv_head() && (id->block < 0 || id->block > c.t))
    throw data::InputError("--tensor " + o.tensor + ": this case has blocks 0.." + std::to_string(c.t));
  if (o.at.empty() == (o.worst == 0))
    throw data::InputError("give exactly one of --at b,h,i[,d] and --worst K");

  const std::vector<std::string> present = data::list_producers(o.path);
  const auto has = [&](const std::string& n) { return std::find(present.begin(), present.end(), n) != present.end(); };
  std::vector<std::string> shown = o.candidates;
  for (const auto& n : shown)
    if (!has(n)) throw data::InputError(o.path + ": no recorded producer '" + n + "' (producers: " + producer_list(present) + ")");
  const std::optional<std::string> baseline = has(o.baseline) ? std::optional(o.baseline) : std::nullopt;
  if (shown.empty()) {
    if (o.worst > 0) {
      if (has("flash")) shown = {"flash"};
      else if (!present.empty()) shown = {present.front()};
    } else {
      shown = present;
    }
  } else if (baseline && o.at.size() && std::find(shown.begin(), shown.end(), *baseline) == shown.end()) {
    shown.push_back(*baseline);
  }
  if (shown.empty()) throw data::InputError(o.path + ": no recorded producers to inspect");

  ReferenceOptions ropt;
  ropt.quiet = o.quiet;
  const data::ProducerOutputs ref = ensure_reference(o.path, in, ropt).reference;
  const data::Tensor& rt = report::select_tensor(ref.outputs, *id, "reference");
  const std::vector<int64_t> rows = report::valid_rows(in.valid_len, c.t);
  const double rel_floor = [&] {
    const double m = valid_max_abs(rt, rows);
    return m > 0 ? report::CompareOptions{}.relative_floor_fraction * m : 1.0;
  }();

  if (o.worst > 0) {
    const std::string cand_name = shown.front();
    const data::ProducerOutputs cand = data::read_producer(o.path, cand_name, in);
    std::optional<data::ProducerOutputs> base;
    if (baseline && *baseline != cand_name) base = data::read_producer(o.path, *baseline, in);
    report::CompareOptions copt;
    copt.worst_k = o.worst;
    copt.floor_factor = 0;
    const report::TensorComparison tc = report::compare_tensor(
        *id, rt, report::select_tensor(cand.outputs, *id, cand_name),
        base ? &report::select_tensor(base->outputs, *id, *baseline) : nullptr, rows,
        id->per_kv_head() ? 1 : c.H / c.Hkv, copt);
    std::cout << o.worst << " worst elements of " << tc.name << " for " << cand_name
              << (base ? " (baseline " + *baseline + ")" : "") << " in " << o.path << ", over "
              << tc.valid_elements << " valid elements; max |err| " << sci(tc.candidate.max_abs)
              << ", mean " << sci(tc.candidate.mean_abs) << "\n";
    std::cout << std::left << std::setw(6) << "b" << std::setw(8) << (id->per_kv_head() ? "kvh" : "h")
              << std::setw(8) << "row" << std::setw(6) << "d" << std::setw(14) << "reference"
              << std::setw(14) << "candidate" << std::setw(14) << "baseline" << std::setw(11)
              << "abs err" << std::setw(11) << "rel err" << "ulp\n";
    for (const auto& w : tc.worst)
      std::cout << std::setw(6) << w.b << std::setw(8) << w.head << std::setw(8) << w.row << std::setw(6)
                << (w.col >= 0 ? std::to_string(w.col) : "-") << std::setw(14) << sci(w.reference, 5)
                << std::setw(14) << sci(w.candidate, 5) << std::setw(14)
                << (base ? sci(w.baseline, 5) : "-") << std::setw(11) << sci(w.abs_err) << std::setw(11)
                << sci(w.rel_err) << count(w.ulp) << "\n";
    return kExitOk;
  }

  // --at: one element.
  const size_t want = id->kind == report::TensorKind::lse ? 3 : 4;
  if (o.at.size() != want)
    throw data::InputError("--at for " + id->name() + " takes " + std::to_string(want) + " coordinates (" +
                           (want == 3 ? "b,h,i" : id->per_kv_head() ? "b,kv_head,row,d" : "b,h,i,d") +
                           "), found " + std::to_string(o.at.size()));
  for (size_t a = 0; a < want; ++a)
    if (o.at[a] < 0 || o.at[a] >= rt.shape[a])
      throw data::InputError("--at coordinate " + std::to_string(a + 1) + " is " + std::to_string(o.at[a]) +
                             ", outside [0, " + std::to_string(rt.shape[a]) + ") of " + id->name() +
                             " " + data::shape_string(rt.shape));
  size_t flat = 0;
  for (size_t a = 0; a < want; ++a) flat = flat * size_t(rt.shape[a]) + size_t(o.at[a]);
  const int64_t b = o.at[0], x = o.at[1], row = o.at[2];
  const bool valid = row < rows[size_t(b)];

  std::cout << id->name() << "[" << (id->per_kv_head() ? "b=" : "b=") << b
            << (id->per_kv_head() ? ", kv_head=" : ", h=") << x << (id->per_kv_head() ? ", row=" : ", i=") << row;
  if (want == 4) std::cout << ", d=" << o.at[3];
  std::cout << "] in " << o.path << (id->per_kv_head() ? " (cache block " + std::to_string(id->block) + ")" : "")
            << ": " << (valid ? "valid" : "INVALID row (not judged)") << "\n";
  const double r = rt.values[flat];
  std::cout << std::left << std::setw(22) << "  reference (fp64)" << std::setprecision(12) << r << "\n";
  std::cout << std::setw(22) << "  producer" << std::setw(7) << "dtype" << std::setw(16) << "value"
            << std::setw(12) << "abs err" << std::setw(12) << "rel err" << "ulp\n";
  for (const auto& name : shown) {
    const data::ProducerOutputs p = data::read_producer(o.path, name, in);
    const data::Tensor& t = report::select_tensor(p.outputs, *id, name);
    const double v = t.values[flat];
    const double err = std::fabs(v - r);
    std::cout << std::setw(22) << ("  " + name + (baseline && name == *baseline ? " (baseline)" : ""))
              << std::setw(7) << data::to_string(t.dtype) << std::setw(16) << sci(v, 7) << std::setw(12)
              << sci(err) << std::setw(12) << sci(err / std::max(std::fabs(r), rel_floor))
              << count(report::ulp_distance(t.dtype, r, v)) << " (" << data::to_string(t.dtype) << " steps)\n";
  }
  std::cout << std::right << "context:\n";
  if (!id->per_kv_head()) {
    std::cout << "  " << row_context_line(report::row_context(in, ref.outputs, b, x, row)) << "\n";
  } else {
    const int64_t group = c.H / c.Hkv;
    if (id->block == 0) {
      const int64_t seen = std::max<int64_t>(0, rows[size_t(b)] - row);
      std::cout << "  key row " << row << " of block 0 (prefix): ";
      if (seen > 0)
        std::cout << "receives gradient from " << seen << " valid query rows (" << row << ".."
                  << rows[size_t(b)] - 1 << ") of heads " << x * group << ".." << (x + 1) * group - 1 << "\n";
      else
        std::cout << "no valid query row sees it (" << rows[size_t(b)] << " valid rows): the reference is 0\n";
    } else {
      std::cout << "  singleton key " << row << " of block " << id->block
                << ": receives gradient only from query row " << row << " of heads " << x * group << ".."
                << (x + 1) * group - 1 << "\n";
      for (int64_t h = x * group; h < (x + 1) * group; ++h)
        std::cout << "  " << row_context_line(report::row_context(in, ref.outputs, b, h, row)) << "\n";
    }
  }
  return kExitOk;
}

}  // namespace

void add_inspect_command(CLI::App& root, std::vector<Command>& commands) {
  auto o = std::make_shared<Options>();
  CLI::App* app = root.add_subcommand(
      "inspect",
      "Show one element (--at) of an output tensor in the fp64 reference and in each recorded "
      "producer (abs/rel error, ULP distance), with its row's context (valid or not, reference "
      "lse, max logit, singleton weights); or list the K worst elements of the tensor (--worst).");
  app->add_option("CASE", o->path, "case file")->required();
  app->add_option("--tensor", o->tensor, "out, lse, dq, dk<m> or dv<m>")->required();
  app->add_option("--at", o->at, "coordinates b,h,i,d (lse: b,h,i; dk/dv: b,kv_head,row,d)")
      ->delimiter(',')
      ->allow_extra_args(false);
  app->add_option("--worst", o->worst, "list the K worst elements of the tensor for one producer");
  app->add_option("--candidate", o->candidates,
                  "producers to show, comma-separated or repeated (default: all for --at; flash or the first for --worst)")
      ->delimiter(',')
      ->allow_extra_args(false);
  app->add_option("--baseline", o->baseline, "baseline producer, shown when present")->capture_default_str();
  app->add_flag("-q,--quiet", o->quiet, "no progress on stderr");
  commands.push_back({app, [o] { return run_inspect(*o); }});
}

}  // namespace attn::cli
