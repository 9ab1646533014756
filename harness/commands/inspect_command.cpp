// attn-harness inspect CASE --tensor X (--at b,h,i[,d] | --worst K): one element in the
// reference and every recorded producer, with its row's context; or the K worst elements.
// --at reads the rows it shows (from a cached reference, or computed for those rows alone).
#include <algorithm>
#include <cmath>
#include <iomanip>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>

#include "datasets/case_store.hpp"
#include "datasets/errors.hpp"
#include "datasets/input_hash.hpp"
#include "harness/commands/command.hpp"
#include "harness/exit_codes.hpp"
#include "harness/judge_case.hpp"
#include "harness/reference_cache.hpp"
#include "harness/reference_rows.hpp"
#include "reports/detail/number_format.hpp"
#include "reports/accuracy/error_metrics.hpp"
#include "reports/accuracy/output_tensors.hpp"
#include "reports/accuracy/row_context.hpp"
#include "reports/accuracy/tensor_comparison.hpp"
#include "reports/detail/text_table.hpp"

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

std::string row_context_line(const report::RowContext& r) {
  std::ostringstream o;
  o << "query row (b=" << r.b << ", h=" << r.h << ", i=" << r.i << "): "
    << (r.valid ? "valid" : "INVALID (not judged)") << " (" << r.valid_rows << " valid rows)";
  o << "; max logit " << std::setprecision(6) << r.max_logit;
  if (r.valid) {
    o << "; reference lse " << std::setprecision(8) << r.lse << "; largest weight "
      << std::setprecision(4) << r.max_weight;
    for (size_t m = 0; m < r.singleton_logits.size(); ++m)
      o << "\n    singleton m=" << m + 1 << ": logit " << std::setprecision(6)
        << r.singleton_logits[m] << ", weight pi " << sci(r.singleton_weights[m], 4);
  }
  return o.str();
}

/// The row's lse as each shown producer recorded it, beside the reference's, and the singleton
/// weights exp(c_m - lse) each implies: a producer that merged with a wrong lse shows it here.
std::string producer_lse_table(const data::CaseManifest& m, const std::string& hash,
                               const std::vector<std::string>& shown, const report::RowContext& ctx) {
  if (!ctx.valid) return "";
  std::vector<std::string> header{"", "lse", "lse - reference"};
  for (size_t k = 0; k < ctx.singleton_logits.size(); ++k) header.push_back("pi m=" + std::to_string(k + 1));
  std::vector<bool> right(header.size(), true);
  right[0] = false;
  report::TextTable t(header, right);
  std::vector<std::string> ref{"reference", sci(ctx.lse, 8), "-"};
  for (double w : ctx.singleton_weights) ref.push_back(sci(w, 4));
  t.add(ref);
  for (const auto& name : shown) {
    const data::RecordInfo& info = require_current_producer(m, name, hash, "producer");
    if (!std::count(info.tensors.begin(), info.tensors.end(), std::string("lse"))) continue;
    const double lse = data::read_record_rows(m, info, "lse", ctx.b, ctx.h, ctx.i, 1).at(0);
    std::vector<std::string> row{name, sci(lse, 8), sci(lse - ctx.lse, 2)};
    for (double c : ctx.singleton_logits) row.push_back(sci(std::exp(c - lse), 4));
    t.add(row);
  }
  if (t.empty()) return "";
  return "    the row's lse in each producer, and the singleton weights pi = exp(logit - lse) it implies:\n" +
         t.str("      ");
}

int run_worst(const Options& o, const data::CaseManifest& m, const data::CaseInputs& in,
              const std::string& hash, const report::TensorId& id,
              const std::vector<std::string>& shown, const std::optional<std::string>& baseline) {
  const data::CaseConfig& c = m.config;
  ReferenceOptions ropt;
  ropt.quiet = o.quiet;
  const data::ProducerOutputs ref = ensure_reference(m, in, hash, ropt).reference;
  const std::string cand_name = shown.front();
  const data::RecordInfo& ci = require_current_producer(m, cand_name, hash, "producer");
  const data::AttentionOutputs cand = data::read_record(m, ci, {id.name()});
  std::optional<data::AttentionOutputs> base;
  if (baseline && *baseline != cand_name) {
    const data::RecordInfo& bi = require_current_producer(m, *baseline, hash, "baseline");
    if (std::count(bi.tensors.begin(), bi.tensors.end(), id.name()))
      base = data::read_record(m, bi, {id.name()});
  }
  report::CompareOptions copt;
  copt.worst_k = o.worst;
  copt.floor_factor = 0;
  const report::TensorComparison tc = report::compare_tensor(
      id, report::select_tensor(ref.outputs, id, "reference"),
      report::select_tensor(cand, id, cand_name),
      base ? &report::select_tensor(*base, id, *baseline) : nullptr,
      report::valid_rows(m.valid_len, c.t), id.per_kv_head() ? 1 : c.H / c.Hkv, copt);
  std::cout << o.worst << " worst elements of " << tc.name << " for " << cand_name
            << (base ? " (baseline " + *baseline + ")" : "") << " in " << o.path << ", over "
            << tc.valid_elements << " valid elements; max |err| " << sci(tc.candidate.max_abs)
            << ", mean " << sci(tc.candidate.mean_abs) << "\n"
            << "rel err = |err| / max(|reference|, 1e-3 * max|reference| = "
            << sci(tc.relative_floor) << ")\n";
  report::TextTable table({"b", id.per_kv_head() ? "kvh" : "h", "row", "d", "reference", "candidate",
                           "baseline", "abs err", "rel err", "ulp"},
                          {true, true, true, true, true, true, true, true, true, true});
  for (const auto& w : tc.worst)
    table.add({std::to_string(w.b), std::to_string(w.head), std::to_string(w.row),
               w.col >= 0 ? std::to_string(w.col) : "-", sci(w.reference, 5), sci(w.candidate, 5),
               base ? sci(w.baseline, 5) : "-", sci(w.abs_err), sci(w.rel_err), count(w.ulp)});
  std::cout << table.str();
  // Which heads hold the largest errors (region tables of compare, here the five worst).
  std::vector<const report::RegionStats*> heads;
  for (const auto& r : tc.regions)
    if (r.kind == "head") heads.push_back(&r);
  std::sort(heads.begin(), heads.end(), [](const auto* a, const auto* b) {
    return a->candidate_max_abs > b->candidate_max_abs;
  });
  if (!heads.empty()) {
    std::cout << (id.per_kv_head() ? "kv heads" : "heads") << " with the largest errors (of "
              << heads.size() << "):";
    for (size_t i = 0; i < std::min<size_t>(5, heads.size()); ++i)
      std::cout << (i ? ", " : " ") << heads[i]->first << " (max " << sci(heads[i]->candidate_max_abs)
                << ", mean " << sci(heads[i]->candidate_mean_abs) << ")";
    std::cout << "\n";
  }
  return kExitOk;
}

int run_inspect(const Options& o) {
  const auto id = report::parse_tensor_name(o.tensor);
  if (!id) throw data::InputError("--tensor must be out, lse, dq, dk<m> or dv<m>, found '" + o.tensor + "'");
  const data::CaseManifest m = data::read_manifest(o.path);
  const data::CaseConfig& c = m.config;
  if (id->per_kv_head() && (id->block < 0 || id->block > c.t))
    throw data::InputError("--tensor " + o.tensor + ": this case has blocks 0.." + std::to_string(c.t));
  if (o.at.empty() == (o.worst == 0))
    throw data::InputError("give exactly one of --at b,h,i[,d] and --worst K");

  const std::vector<std::string> present = m.producer_names();
  const auto has = [&](const std::string& n) { return std::find(present.begin(), present.end(), n) != present.end(); };
  std::vector<std::string> shown = o.candidates;
  for (const auto& n : shown)
    if (!has(n))
      throw data::InputError(o.path + ": no recorded producer '" + n + "' (producers: " +
                             producer_list(present) + "); record one with `attn-harness run " +
                             o.path + " --backend NAME`");
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
  if (shown.empty()) throw data::InputError(o.path + ": no recorded producers to inspect; record one with `attn-harness run " + o.path + " --backend flash`");

  const data::CaseInputs in = data::read_case_inputs(m);
  const std::string hash = data::input_hash(in);
  if (o.worst > 0) return run_worst(o, m, in, hash, *id, shown, baseline);

  // --at: one element.
  const std::vector<int64_t> shape = report::expected_shape(*id, c);
  const size_t want = shape.size();
  if (o.at.size() != want)
    throw data::InputError("--at for " + id->name() + " takes " + std::to_string(want) + " coordinates (" +
                           (want == 3 ? "b,h,i" : id->per_kv_head() ? "b,kv_head,row,d" : "b,h,i,d") +
                           "), found " + std::to_string(o.at.size()));
  for (size_t a = 0; a < want; ++a)
    if (o.at[a] < 0 || o.at[a] >= shape[a])
      throw data::InputError("--at coordinate " + std::to_string(a + 1) + " is " + std::to_string(o.at[a]) +
                             ", outside [0, " + std::to_string(shape[a]) + ") of " + id->name() +
                             " " + data::shape_string(shape));
  const int64_t b = o.at[0], x = o.at[1], row = o.at[2], d = want == 4 ? o.at[3] : 0;
  const std::vector<int64_t> rows = report::valid_rows(m.valid_len, c.t);
  const bool valid = row < rows[size_t(b)];

  // The reference's row: from the cache when it is current, else computed for this row alone.
  ReferenceRowSource reference(m, in, hash, o.quiet);
  ReferenceRows truth = reference.rows(id->name(), b, x, row);
  const double r = truth.value.at(d);

  std::cout << id->name() << "[b=" << b << (id->per_kv_head() ? ", kv_head=" : ", h=") << x
            << (id->per_kv_head() ? ", row=" : ", i=") << row;
  if (want == 4) std::cout << ", d=" << d;
  std::cout << "] in " << o.path << (id->per_kv_head() ? " (cache block " + std::to_string(id->block) + ")" : "")
            << ": " << (valid ? "valid" : "INVALID row (not judged)") << "\n";
  std::cout << "  reference (fp64, " << truth.source << ")  " << std::setprecision(12) << r << "\n";
  report::TextTable values({"producer", "dtype", "value", "abs err", "rel err", "ulp (in its dtype)"},
                           {false, false, true, true, true, true});
  for (const auto& name : shown) {
    const data::RecordInfo& info = require_current_producer(m, name, hash, "producer");
    const std::string label = name + (baseline && name == *baseline ? " (baseline)" : "");
    if (!std::count(info.tensors.begin(), info.tensors.end(), id->name())) {
      values.add({label, "-", "did not record " + id->name()});
      continue;
    }
    const data::Tensor t = data::read_record_rows(m, info, id->name(), b, x, row, 1);
    const double v = t.at(d);
    const double err = std::fabs(v - r);
    values.add({label, data::to_string(t.dtype), sci(v, 7), sci(err), r != 0 ? sci(err / std::fabs(r)) : "-",
                count(report::ulp_distance(t.dtype, r, v))});
  }
  std::cout << values.str("  ");
  std::cout << "  (rel err = |err| / |reference|)\n";
  std::cout << "context:\n";
  if (!id->per_kv_head()) {
    const report::RowContext ctx = report::row_context(in, truth.lse, b, x, row);
    std::cout << "  " << row_context_line(ctx) << "\n" << producer_lse_table(m, hash, shown, ctx);
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
      for (int64_t h = x * group; h < (x + 1) * group; ++h) {
        const ReferenceRows hr = reference.rows("lse", b, h, row);
        const report::RowContext ctx = report::row_context(in, hr.lse, b, h, row);
        std::cout << "  " << row_context_line(ctx) << "\n" << producer_lse_table(m, hash, shown, ctx);
      }
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
  app->add_option("CASE", o->path, "case folder or bundle")->required();
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
