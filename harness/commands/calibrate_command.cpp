// attn-harness calibrate: the correct backends over seeds x presets x TTT steps x grad_out
// scales; per backend and tensor kind the error relative to max|X_ref| (from which error
// budgets are written), err_c / err_b and the gate's use, and each mutant's margin. Exit 0, or
// 1 when a calibrated backend fails the profile on some case.
#include <ctime>
#include <iostream>
#include <memory>

#include "datasets/atomic_output.hpp"
#include "datasets/errors.hpp"
#include "datasets/presets.hpp"
#include "datasets/utc_time.hpp"
#include "harness/build_info.hpp"
#include "harness/commands/command.hpp"
#include "harness/commands/torch_commands.hpp"
#include "harness/exit_codes.hpp"
#include "harness/progress.hpp"
#include "harness/selftest/calibration.hpp"
#include "harness/selftest/calibration_formats.hpp"
#include "kernels/registry.hpp"

namespace attn::cli {

void add_calibrate_command(CLI::App& root, std::vector<Command>& commands) {
  struct Options {
    std::vector<std::string> presets, backends{"flash", "sdpa"};
    std::vector<int64_t> steps{0, 3, 6};
    std::vector<double> grad_scales{1.0, 1e-3};
    int seeds = 2;
    uint64_t seed_base = 0;
    int64_t seq = 128, batch = 2;
    std::string device = "cpu", profile = "bf16", json, baseline = "sdpa", write_budgets, save_cases;
    std::vector<std::string> cases;
    double headroom = 4.0;
    bool mutants = false, quiet = false;
  };
  auto o = std::make_shared<Options>();
  // Prints the result, writes its JSON and the budgets; the exit code.
  const auto finish_calibration = [](const selftest::CalibrationResult& r, const Options& opt,
                                     const std::string& profile, const nlohmann::json& provenance) {
    std::cout << selftest::format_calibration_text(r);
    if (!opt.json.empty())
      data::write_file_atomically(opt.json, selftest::calibration_json(r).dump(2) + "\n");
    if (r.cases.empty()) throw data::InputError("calibrate: no case could be judged (see Skipped)");
    if (!opt.write_budgets.empty()) {
      std::error_code ec;
      report::ErrorBudgets base;
      if (std::filesystem::exists(opt.write_budgets, ec)) base = report::load_budgets(opt.write_budgets);
      base.profile = profile;
      const report::ErrorBudgets out = selftest::budgets_from(r, opt.headroom, base, provenance);
      data::write_file_atomically(opt.write_budgets, report::budgets_json(out).dump(2) + "\n");
      std::cout << "\nbudgets (headroom " << opt.headroom << ") written to " << opt.write_budgets << "\n";
    }
    return int(r.real_failures() == 0 ? kExitOk : kExitGateViolation);
  };
  CLI::App* app = root.add_subcommand("calibrate", torch_command_description("calibrate"));
  app->add_option("--seeds", o->seeds, "seeds per shape")->capture_default_str();
  app->add_option("--seed-base", o->seed_base,
                  "first seed (calibrate on some seeds, check the budgets on others)")
      ->capture_default_str();
  app->add_option("--presets", o->presets, "presets, comma-separated (default: all)")->delimiter(',');
  app->add_option("--seq", o->seq, "sequence length L")->capture_default_str();
  app->add_option("--t", o->steps, "TTT steps, comma-separated")->delimiter(',')->capture_default_str();
  app->add_option("--grad-scales", o->grad_scales,
                  "std of grad_out, comma-separated (1: as flash-attention's tests; 1e-3: the "
                  "generator's training scale)")
      ->delimiter(',')
      ->capture_default_str();
  app->add_option("--batch", o->batch, "batch size (elements after the first are right-padded by L/8)")
      ->capture_default_str();
  app->add_option("--device", o->device, "cpu or cuda")->capture_default_str();
  app->add_option("--profile", o->profile, "gate profile (shipped name or JSON file)")->capture_default_str();
  app->add_option("--backends", o->backends, "backends to calibrate, comma-separated")
      ->delimiter(',')
      ->capture_default_str();
  app->add_option("--baseline", o->baseline, "baseline backend")->capture_default_str();
  app->add_flag("--mutants", o->mutants, "also run every mutant and report its margin");
  app->add_option("--write-budgets", o->write_budgets,
                  "write error budgets (headroom x the largest error observed) for the calibrated "
                  "backends into this file, keeping its other backends' entries");
  app->add_option("--headroom", o->headroom, "budget = headroom x the largest error observed")
      ->capture_default_str();
  app->add_option("--save-cases", o->save_cases,
                  "also write every generated case as a case folder DIR/<case>/ with the "
                  "baseline's and the backends' outputs (for flex_adapter.py record, then --cases)");
  app->add_option("--cases", o->cases,
                  "calibrate over these recorded case folders instead of generating cases: each "
                  "producer named by --backends is judged against the recorded --baseline")
      ->check(CLI::ExistingPath);
  app->add_option("--json", o->json, "write the calibration as JSON");
  app->add_flag("-q,--quiet", o->quiet, "no progress on stderr");

  commands.push_back({app, [o, finish_calibration] {
    if (!(o->headroom >= 1)) throw data::InputError("--headroom must be >= 1");
    if (!o->cases.empty()) {
      if (o->mutants)
        throw data::InputError("--mutants runs the mutant backends on generated cases; it cannot "
                               "be combined with --cases (record them with `run --backend "
                               "mutant-...` and name them in --backends instead)");
      if (!o->save_cases.empty()) throw data::InputError("--save-cases cannot be combined with --cases");
      selftest::RecordedCalibrationPlan plan;
      for (const auto& c : o->cases) plan.cases.push_back(c);
      plan.backends = o->backends;
      plan.baseline = o->baseline;
      plan.profile = report::find_profile(o->profile);
      Progress progress("calibrate over recorded cases", o->quiet);
      const selftest::CalibrationResult r =
          selftest::calibrate_recorded(plan, [&](int64_t d, int64_t t) { progress.update(d, t); });
      progress.finish();
      const nlohmann::json provenance{{"source", "recorded cases"}, {"device", r.device},
                                      {"commit", kCommit}, {"time", data::utc_timestamp()},
                                      {"seconds", r.seconds}};
      return finish_calibration(r, *o, plan.profile.name, provenance);
    }
    selftest::CalibrationPlan plan;
    if (o->presets.empty())
      for (const auto& p : data::model_presets()) plan.presets.push_back(p.name);
    else
      for (const auto& p : o->presets) plan.presets.push_back(data::find_preset(p).name);
    if (o->seeds < 1) throw data::InputError("--seeds must be >= 1, found " + std::to_string(o->seeds));
    if (o->seq < 2) throw data::InputError("--seq must be >= 2, found " + std::to_string(o->seq));
    if (o->batch < 1) throw data::InputError("--batch must be >= 1, found " + std::to_string(o->batch));
    for (double g : o->grad_scales)
      if (!(g > 0)) throw data::InputError("--grad-scales must be positive");
    for (int64_t t : o->steps)
      if (t < 0 || t >= o->seq) throw data::InputError("--t values must be in [0, seq): found " + std::to_string(t));
    plan.seeds = o->seeds;
    plan.seed_base = o->seed_base;
    plan.seq = o->seq;
    plan.batch = o->batch;
    plan.steps = o->steps;
    plan.grad_scales = o->grad_scales;
    plan.device = kern::parse_device(o->device);
    plan.profile = report::find_profile(o->profile);
    for (const auto& b : o->backends) plan.backends.push_back(kern::find_backend(b));
    plan.baseline = kern::find_backend(o->baseline);
    if (o->mutants) {
      plan.mutants = kern::mutant_backends();
      plan.mutant_budget_key = "flash/" + std::string(plan.device.is_cpu() ? "cpu" : "cuda");
    }
    plan.save_cases = o->save_cases;
    Progress progress("calibrate on " + o->device, o->quiet);
    const selftest::CalibrationResult r =
        selftest::run_calibration(plan, [&](int64_t d, int64_t t) { progress.update(d, t); });
    progress.finish();
    const nlohmann::json provenance{
        {"device", r.device}, {"presets", plan.presets}, {"t", plan.steps},
        {"grad_scales", plan.grad_scales}, {"seeds", plan.seeds}, {"seed_base", plan.seed_base},
        {"seq", plan.seq}, {"batch", plan.batch}, {"pad", "second and later elements by L/8"},
        {"commit", kCommit}, {"time", data::utc_timestamp()}, {"seconds", r.seconds}};
    return finish_calibration(r, *o, plan.profile.name, provenance);
  }});
}

}  // namespace attn::cli
