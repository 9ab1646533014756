#include "harness/selftest/calibration.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <map>
#include <optional>
#include <set>

#include "datasets/case_store.hpp"
#include "datasets/errors.hpp"
#include "datasets/generator.hpp"
#include "datasets/input_hash.hpp"
#include "harness/judge_case.hpp"
#include "harness/selftest/case_runner.hpp"
#include "reports/accuracy/case_comparison.hpp"

namespace attn::cli::selftest {

Distribution distribution(std::vector<double> x) {
  Distribution d;
  d.n = int64_t(x.size());
  if (x.empty()) return d;
  std::sort(x.begin(), x.end(), [](double a, double b) {
    return std::isnan(b) ? !std::isnan(a) : a < b;  // NaN last
  });
  auto rank = [&](double p) {  // nearest rank
    const size_t k = size_t(std::ceil(p * double(x.size())));
    return x[std::min(x.size() - 1, k == 0 ? 0 : k - 1)];
  };
  d.min = x.front();
  d.median = rank(0.5);
  d.p95 = rank(0.95);
  d.max = x.back();
  return d;
}

int CalibrationResult::real_failures() const {
  int n = 0;
  for (const auto& b : backends) n += b.failures;
  return n;
}

namespace {

const std::vector<std::string> kKinds{"out", "lse", "dq", "dk", "dv"};

struct Samples {
  std::map<std::string, std::vector<double>> rel, ratio, use;
  std::map<std::string, std::pair<double, std::string>> worst_rel, worst_use;
};

void add_samples(Samples& s, const report::CaseComparison& cc, const std::string& name) {
  for (const report::TensorComparison& t : cc.tensors) {
    const std::string kind = t.id.kind_name();
    const double ec = t.candidate.max_abs, eb = t.baseline ? t.baseline->max_abs : NAN;
    const double rel = t.reference_max_abs > 0 ? ec / t.reference_max_abs : ec;
    s.rel[kind].push_back(rel);
    if (!(rel <= s.worst_rel[kind].first)) s.worst_rel[kind] = {rel, name + ":" + t.name};
    s.ratio[kind].push_back(eb > 0 ? ec / eb : ec > 0 ? std::numeric_limits<double>::infinity() : 0.0);
    if (!t.gate.judged) continue;
    s.use[kind].push_back(t.gate.use());
    if (!(t.gate.use() <= s.worst_use[kind].first)) s.worst_use[kind] = {t.gate.use(), name + ":" + t.name};
  }
}

/// The largest use over a comparison's judged tensors, and where.
std::pair<double, std::string> case_use(const report::CaseComparison& cc) {
  double u = 0;
  std::string where;
  for (const report::TensorComparison& t : cc.tensors)
    if (t.gate.judged && !(t.gate.use() <= u)) u = t.gate.use(), where = t.name;
  return {u, where};
}

/// The per-kind distributions of each backend from its samples.
void finish_kinds(CalibrationResult& res, std::vector<Samples>& samples) {
  for (size_t i = 0; i < res.backends.size(); ++i)
    for (const std::string& k : kKinds) {
      Samples& s = samples[i];
      if (!s.rel.count(k)) continue;
      KindCalibration kc;
      kc.kind = k;
      kc.rel_err = distribution(s.rel[k]);
      kc.ratio = distribution(s.ratio[k]);
      kc.use = distribution(s.use[k]);
      kc.worst_rel_err = s.worst_rel[k].second;
      kc.worst_use = s.worst_use[k].second;
      res.backends[i].kinds.push_back(kc);
    }
}

/// One judged case of a calibrated backend.
void add_case(BackendCalibration& bc, Samples& samples, const report::CaseComparison& cc,
              const std::string& name) {
  ++bc.cases;
  if (!cc.passed) ++bc.failures;
  add_samples(samples, cc, name);
  const auto [u, where] = case_use(cc);
  if (!(u <= bc.max_use)) bc.max_use = u, bc.max_use_where = name + ":" + where;
}

/// Writes a generated case and the given outputs as the case folder `folder`.
void save_case(const std::filesystem::path& folder, const data::CaseInputs& inputs,
               const std::vector<const data::ProducerOutputs*>& outputs) {
  data::write_case(folder, inputs);
  const data::CaseManifest m = data::read_manifest(folder);
  const std::string hash = data::input_hash(inputs);
  for (const data::ProducerOutputs* p : outputs) {
    data::ProducerOutputs rec = *p;
    rec.input_hash = hash;
    data::write_producer(m, rec);
  }
}

}  // namespace

CalibrationResult run_calibration(const CalibrationPlan& plan,
                                  const std::function<void(int64_t, int64_t)>& progress) {
  if (plan.backends.empty() || !plan.baseline)
    throw data::InputError("calibrate: no backend to calibrate or no baseline");
  if (plan.seeds < 1) throw data::InputError("calibrate: --seeds must be >= 1");
  const auto started = std::chrono::steady_clock::now();
  CalibrationResult res;
  res.device = plan.device.str();
  res.profile = plan.profile.name;
  res.baseline = plan.baseline->name();
  res.plan = plan;
  res.plan.backends.clear();
  res.plan.mutants.clear();
  const std::string device_kind = plan.device.is_cpu() ? "cpu" : "cuda";
  if (plan.profile.budgets) res.budgets = plan.profile.budgets->source;

  std::vector<Samples> samples(plan.backends.size());
  for (const auto& b : plan.backends) {
    BackendCalibration bc;
    bc.name = b->name();
    bc.key = b->name() + "/" + device_kind;
    res.backends.push_back(bc);
  }
  std::vector<std::vector<double>> mutant_uses[2];
  mutant_uses[0].resize(plan.mutants.size());
  mutant_uses[1].resize(plan.mutants.size());
  for (const auto& m : plan.mutants) {
    MutantCalibration mc;
    mc.name = m->name();
    res.mutants.push_back(mc);
  }

  const int64_t total = int64_t(plan.presets.size() * plan.steps.size() * plan.grad_scales.size()) *
                        plan.seeds;
  int64_t done = 0;
  for (size_t p = 0; p < plan.presets.size(); ++p)
    for (size_t s = 0; s < plan.steps.size(); ++s)
      for (size_t gs = 0; gs < plan.grad_scales.size(); ++gs)
        for (int seed = 0; seed < plan.seeds; ++seed) {
          data::GeneratorSpec g;
          g.preset = plan.presets[p];
          g.seq = plan.seq;
          g.ttt_step = plan.steps[s];
          g.batch = plan.batch;
          g.pad.assign(size_t(plan.batch), plan.seq / 8);
          if (!g.pad.empty()) g.pad[0] = 0;
          g.seed = plan.seed_base + uint64_t(seed) + 1000003ULL * (100 * p + 10 * s + gs);
          g.grad_scale = plan.grad_scales[gs];
          const bool unit = g.grad_scale >= 1.0;
          char scale[32];
          std::snprintf(scale, sizeof scale, "%g", g.grad_scale);
          const std::string name = g.preset + "-L" + std::to_string(g.seq) + "-t" +
                                   std::to_string(g.ttt_step) + "-g" + scale + "-seed" +
                                   std::to_string(plan.seed_base + uint64_t(seed));
          if (progress) progress(done, total);
          ++done;
          std::optional<PreparedCase> c;
          std::optional<data::ProducerOutputs> base;
          try {
            c = prepare_case(data::generate_case(g), plan.device);
            base = run_backend(*plan.baseline, *c, plan.device);
          } catch (const std::exception& e) {
            res.skipped.push_back(name + ": " + e.what());
            continue;
          }
          res.cases.push_back(name);
          std::vector<data::ProducerOutputs> saved;
          for (size_t i = 0; i < plan.backends.size(); ++i) {
            BackendCalibration& bc = res.backends[i];
            try {
              const data::ProducerOutputs out = plan.backends[i]->name() == plan.baseline->name()
                                                    ? *base
                                                    : run_backend(*plan.backends[i], *c, plan.device);
              report::CompareOptions opt;
              opt.budget_key = bc.key;
              const report::CaseComparison cc =
                  report::compare_case(c->inputs, c->reference, out, &*base, plan.profile, opt);
              add_case(bc, samples[i], cc, name);
              if (!plan.save_cases.empty() && plan.backends[i]->name() != plan.baseline->name())
                saved.push_back(out);
            } catch (const std::exception& e) {
              res.skipped.push_back(name + " (" + bc.name + "): " + e.what());
            }
          }
          for (size_t i = 0; i < plan.mutants.size(); ++i) {
            MutantCalibration::Scale& sc = unit ? res.mutants[i].unit : res.mutants[i].realistic;
            try {
              const data::ProducerOutputs mo = run_backend(*plan.mutants[i], *c, plan.device);
              report::CompareOptions opt;
              opt.budget_key = plan.mutant_budget_key;
              const report::CaseComparison mcc =
                  report::compare_case(c->inputs, c->reference, mo, &*base, plan.profile, opt);
              const auto [u, where] = case_use(mcc);
              ++sc.cases;
              if (!mcc.failed_tensors().empty()) {
                ++sc.flagged;
                if (sc.weakest_flag == 0 || u < sc.weakest_flag) sc.weakest_flag = u;
              }
              mutant_uses[unit ? 0 : 1][i].push_back(u);
              if (!(u <= sc.margin)) sc.margin = u, sc.margin_where = name + ":" + where;
            } catch (const std::exception& e) {
              res.skipped.push_back(name + " (" + res.mutants[i].name + "): " + e.what());
            }
          }
          if (!plan.save_cases.empty()) {
            std::vector<const data::ProducerOutputs*> outs{&*base};
            for (const auto& o : saved) outs.push_back(&o);
            save_case(plan.save_cases / name, c->inputs, outs);  // a write error ends the run
          }
        }
  if (progress) progress(total, total);

  finish_kinds(res, samples);
  for (size_t i = 0; i < plan.mutants.size(); ++i) {
    res.mutants[i].unit.median_use = distribution(mutant_uses[0][i]).median;
    res.mutants[i].realistic.median_use = distribution(mutant_uses[1][i]).median;
  }
  res.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return res;
}

CalibrationResult calibrate_recorded(const RecordedCalibrationPlan& plan,
                                     const std::function<void(int64_t, int64_t)>& progress) {
  if (plan.backends.empty()) throw data::InputError("calibrate --cases: no backend to calibrate");
  const auto started = std::chrono::steady_clock::now();
  CalibrationResult res;
  res.source = "recorded";
  res.profile = plan.profile.name;
  res.baseline = plan.baseline;
  if (plan.profile.budgets) res.budgets = plan.profile.budgets->source;
  std::vector<Samples> samples;
  std::map<std::string, size_t> index;  // "name|key" -> backends[i]
  std::set<std::string> devices;
  const int64_t total = int64_t(plan.cases.size());
  for (size_t ci = 0; ci < plan.cases.size(); ++ci) {
    if (progress) progress(int64_t(ci), total);
    const std::filesystem::path& path = plan.cases[ci];
    const std::string name = path.filename().empty() ? path.parent_path().filename().string()
                                                     : path.filename().string();
    bool judged = false;
    for (const std::string& backend : plan.backends) {
      JudgeRequest rq;
      rq.candidate = backend;
      rq.baseline = plan.baseline;
      rq.baseline_explicit = true;
      rq.profile = plan.profile;
      rq.reference.quiet = true;
      report::CaseComparison cc;
      try {
        cc = judge_case(path, rq);
      } catch (const std::exception& e) {
        res.skipped.push_back(path.string() + " (" + backend + "): " + e.what());
        continue;
      }
      judged = true;
      const std::string key = cc.budget_key;
      auto it = index.find(backend + "|" + key);
      if (it == index.end()) {
        BackendCalibration bc;
        bc.name = backend;
        bc.key = key;
        it = index.emplace(backend + "|" + key, res.backends.size()).first;
        res.backends.push_back(bc);
        samples.emplace_back();
      }
      devices.insert(key.substr(key.find('/') + 1));
      add_case(res.backends[it->second], samples[it->second], cc, name);
    }
    if (judged) res.cases.push_back(name);
  }
  if (progress) progress(total, total);
  for (const auto& d : devices) res.device += (res.device.empty() ? "" : ", ") + d;
  if (res.device.empty()) res.device = "none";
  finish_kinds(res, samples);
  res.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return res;
}

report::ErrorBudgets budgets_from(const CalibrationResult& r, double headroom,
                                  const report::ErrorBudgets& base,
                                  const nlohmann::json& provenance) {
  report::ErrorBudgets b = base;
  if (!b.calibration.is_object()) b.calibration = nlohmann::json::object();
  for (const BackendCalibration& bc : r.backends) {
    if (bc.cases == 0) continue;
    for (const KindCalibration& k : bc.kinds) {
      if (!(k.rel_err.max > 0) || !std::isfinite(k.rel_err.max)) continue;
      b.observed[bc.key][k.kind] = k.rel_err.max;
      b.budgets[bc.key][k.kind] = headroom * k.rel_err.max;
    }
    b.calibration[bc.key] = provenance;
    b.calibration[bc.key]["cases"] = bc.cases;
    b.calibration[bc.key]["headroom"] = headroom;
  }
  return b;
}

}  // namespace attn::cli::selftest
