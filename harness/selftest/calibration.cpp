#include "harness/selftest/calibration.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <optional>

#include "datasets/errors.hpp"
#include "datasets/generator.hpp"
#include "harness/selftest/case_runner.hpp"
#include "reports/case_comparison.hpp"

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

CalibrationResult run_calibration(const CalibrationPlan& plan,
                                  const std::function<void(int64_t, int64_t)>& progress) {
  if (!plan.real || !plan.baseline) throw data::InputError("calibrate: no real or baseline backend");
  if (plan.seeds < 1) throw data::InputError("calibrate: --seeds must be >= 1");
  CalibrationResult res;
  res.device = plan.device.str();
  res.profile = plan.profile.name;
  res.real = plan.real->name();
  res.baseline = plan.baseline->name();
  res.grad_scale = plan.grad_scale;

  const std::vector<std::string> kinds{"out", "lse", "dq", "dk", "dv"};
  std::map<std::string, std::vector<double>> ratios, uses;
  std::map<std::string, std::pair<double, std::string>> worst;  // kind -> (use, where)
  std::vector<std::vector<double>> mutant_case_use(plan.mutants.size());
  std::vector<std::pair<double, std::string>> mutant_max(plan.mutants.size(), {0.0, ""});
  for (size_t i = 0; i < plan.mutants.size(); ++i) {
    MutantCalibration mc;
    mc.name = plan.mutants[i]->name();
    res.mutants.push_back(mc);
  }

  const int64_t total = int64_t(plan.presets.size() * plan.steps.size()) * plan.seeds;
  int64_t done = 0;
  for (size_t p = 0; p < plan.presets.size(); ++p)
    for (size_t s = 0; s < plan.steps.size(); ++s)
      for (int seed = 0; seed < plan.seeds; ++seed) {
        data::GeneratorSpec g;
        g.preset = plan.presets[p];
        g.seq = plan.seq;
        g.ttt_step = plan.steps[s];
        g.batch = plan.batch;
        g.pad.assign(size_t(plan.batch), plan.seq / 8);
        if (!g.pad.empty()) g.pad[0] = 0;
        g.seed = uint64_t(7000 + 100 * p + 10 * s + size_t(seed));
        g.grad_scale = plan.grad_scale;
        const std::string name = g.preset + "-L" + std::to_string(g.seq) + "-t" +
                                 std::to_string(g.ttt_step) + "-seed" + std::to_string(g.seed);
        if (progress) progress(done, total);
        ++done;
        std::optional<PreparedCase> c;
        std::optional<data::ProducerOutputs> real, base;
        try {
          c = prepare_case(data::generate_case(g), plan.device);
          real = run_backend(*plan.real, *c, plan.device);
          base = run_backend(*plan.baseline, *c, plan.device);
        } catch (const std::exception& e) {
          res.skipped.push_back(name + ": " + e.what());
          continue;
        }
        res.cases.push_back(name);
        const report::CaseComparison cc =
            report::compare_case(c->inputs, c->reference, *real, &*base, plan.profile);
        if (!cc.passed) ++res.real_failures;
        for (const report::TensorComparison& t : cc.tensors) {
          if (!t.gate.judged) continue;
          const std::string kind = t.id.kind_name();
          const double ec = t.candidate.max_abs, eb = t.baseline ? t.baseline->max_abs : NAN;
          ratios[kind].push_back(eb > 0 ? ec / eb : ec > 0 ? std::numeric_limits<double>::infinity() : 0.0);
          const double use = t.gate.use();
          uses[kind].push_back(use);
          if (!(use <= worst[kind].first)) worst[kind] = {use, name + ":" + t.name};
        }
        for (size_t i = 0; i < plan.mutants.size(); ++i) {
          MutantCalibration& mc = res.mutants[i];
          double case_use = 0;
          try {
            const data::ProducerOutputs mo = run_backend(*plan.mutants[i], *c, plan.device);
            const report::CaseComparison mcc =
                report::compare_case(c->inputs, c->reference, mo, &*base, plan.profile);
            std::string where;
            for (const report::TensorComparison& t : mcc.tensors)
              if (t.gate.judged && !(t.gate.use() <= case_use)) case_use = t.gate.use(), where = t.name;
            ++mc.cases;
            if (!mcc.passed) {
              ++mc.flagged;
              if (mc.weakest_flag == 0 || case_use < mc.weakest_flag) mc.weakest_flag = case_use;
            }
            mutant_case_use[i].push_back(case_use);
            if (!(case_use <= mutant_max[i].first)) mutant_max[i] = {case_use, name + ":" + where};
          } catch (const std::exception& e) {
            res.skipped.push_back(name + " (" + mc.name + "): " + e.what());
          }
        }
      }
  if (progress) progress(total, total);

  double max_use = 0;
  for (const std::string& k : kinds) {
    if (!uses.count(k)) continue;
    KindCalibration kc;
    kc.kind = k;
    kc.ratio = distribution(ratios[k]);
    kc.use = distribution(uses[k]);
    kc.margin = kc.use.max > 0 ? 1.0 / kc.use.max : std::numeric_limits<double>::infinity();
    kc.worst = worst[k].second;
    if (!(kc.use.max <= max_use)) {
      max_use = kc.use.max;
      res.margin_where = kc.worst;
    }
    res.kinds.push_back(kc);
  }
  res.margin = max_use > 0 ? 1.0 / max_use : std::numeric_limits<double>::infinity();
  for (size_t i = 0; i < plan.mutants.size(); ++i) {
    const Distribution d = distribution(mutant_case_use[i]);
    res.mutants[i].median_use = d.median;
    res.mutants[i].max_use = d.max;
    res.mutants[i].max_where = mutant_max[i].second;
  }
  return res;
}

}  // namespace attn::cli::selftest
