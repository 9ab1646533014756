// attn-harness calibrate: the correct flash path over seeds x presets x TTT steps; per tensor
// kind the distribution of err_c / err_b and of err_c / threshold under a profile, the margin
// to a false alarm, and each mutant's distance from a miss. Exit 0, or 1 when the real path
// fails the profile on some case.
#include <iostream>
#include <memory>

#include "datasets/errors.hpp"
#include "datasets/presets.hpp"
#include "harness/commands/command.hpp"
#include "harness/commands/torch_commands.hpp"
#include "harness/exit_codes.hpp"
#include "harness/progress.hpp"
#include "harness/selftest/calibration.hpp"
#include "harness/selftest/calibration_formats.hpp"
#include "kernels/registry.hpp"
#include "datasets/atomic_output.hpp"

namespace attn::cli {

void add_calibrate_command(CLI::App& root, std::vector<Command>& commands) {
  struct Options {
    std::vector<std::string> presets;
    std::vector<int64_t> steps{1, 6};
    int seeds = 2;
    int64_t seq = 128, batch = 2;
    std::string device = "cpu", profile = "bf16", json, real = "flash", baseline = "sdpa";
    double grad_scale = 1.0;
    bool no_mutants = false, quiet = false;
  };
  auto o = std::make_shared<Options>();
  CLI::App* app = root.add_subcommand(
      "calibrate", torch_command_description("calibrate"));
  app->add_option("--seeds", o->seeds, "seeds per shape")->capture_default_str();
  app->add_option("--presets", o->presets, "presets, comma-separated (default: all)")->delimiter(',');
  app->add_option("--seq", o->seq, "sequence length L")->capture_default_str();
  app->add_option("--t", o->steps, "TTT steps, comma-separated")->delimiter(',')->capture_default_str();
  app->add_option("--batch", o->batch, "batch size (elements after the first are right-padded by L/8)")
      ->capture_default_str();
  app->add_option("--device", o->device, "cpu or cuda")->capture_default_str();
  app->add_option("--profile", o->profile, "gate profile (shipped name or JSON file)")->capture_default_str();
  app->add_option("--grad-scale", o->grad_scale, "std of grad_out (1: as flash-attention's tests; "
                                                 "1e-3: the generator's realistic scale)")
      ->capture_default_str();
  app->add_option("--candidate", o->real, "the correct backend to calibrate")->capture_default_str();
  app->add_option("--baseline", o->baseline, "baseline backend")->capture_default_str();
  app->add_flag("--no-mutants", o->no_mutants, "skip the mutants' miss margins");
  app->add_option("--json", o->json, "write the calibration as JSON");
  app->add_flag("-q,--quiet", o->quiet, "no progress on stderr");

  commands.push_back({app, [o] {
    selftest::CalibrationPlan plan;
    if (o->presets.empty())
      for (const auto& p : data::model_presets()) plan.presets.push_back(p.name);
    else
      for (const auto& p : o->presets) plan.presets.push_back(data::find_preset(p).name);
    if (o->seeds < 1) throw data::InputError("--seeds must be >= 1, found " + std::to_string(o->seeds));
    if (o->seq < 2) throw data::InputError("--seq must be >= 2, found " + std::to_string(o->seq));
    if (o->batch < 1) throw data::InputError("--batch must be >= 1, found " + std::to_string(o->batch));
    if (!(o->grad_scale > 0)) throw data::InputError("--grad-scale must be positive");
    for (int64_t t : o->steps)
      if (t < 0 || t >= o->seq) throw data::InputError("--t values must be in [0, seq): found " + std::to_string(t));
    plan.seeds = o->seeds;
    plan.seq = o->seq;
    plan.batch = o->batch;
    plan.steps = o->steps;
    plan.grad_scale = o->grad_scale;
    plan.device = kern::parse_device(o->device);
    plan.profile = report::find_profile(o->profile);
    plan.real = kern::find_backend(o->real);
    plan.baseline = kern::find_backend(o->baseline);
    if (!o->no_mutants) plan.mutants = kern::mutant_backends();
    Progress progress("calibrate on " + o->device, o->quiet);
    const selftest::CalibrationResult r =
        selftest::run_calibration(plan, [&](int64_t d, int64_t t) { progress.update(d, t); });
    progress.finish();
    std::cout << selftest::format_calibration_text(r);
    if (!o->json.empty())
      data::write_file_atomically(o->json, selftest::calibration_json(r).dump(2) + "\n");
    if (r.cases.empty()) throw data::InputError("calibrate: no case could run (see Skipped)");
    return int(r.real_failures == 0 ? kExitOk : kExitGateViolation);
  }});
}

}  // namespace attn::cli
