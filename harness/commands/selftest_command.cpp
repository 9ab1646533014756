// attn-harness selftest: every mutant of the flash path over a generated fixture suite, the
// detection matrix, and the verdict (exit 0: the real path passes the default gate on every
// case and every mutant is flagged by the check it is expected to be seen by; 1 otherwise).
#include <iostream>
#include <memory>

#include "harness/commands/command.hpp"
#include "harness/commands/torch_commands.hpp"
#include "harness/exit_codes.hpp"
#include "harness/progress.hpp"
#include "harness/selftest/selftest_formats.hpp"
#include "harness/selftest/ring_selftest.hpp"
#include "harness/selftest/selftest_run.hpp"
#include "kernels/registry.hpp"
#include "datasets/atomic_output.hpp"

namespace attn::cli {

void add_selftest_command(CLI::App& root, std::vector<Command>& commands) {
  struct Options {
    std::string device = "cpu", json, markdown;
    bool quiet = false;
    std::vector<int> ring_worlds;
    RingOptions ring;
  };
  auto o = std::make_shared<Options>();
  CLI::App* app = root.add_subcommand(
      "selftest", torch_command_description("selftest"));
  app->add_option("--device", o->device, "cpu or cuda")->capture_default_str();
  app->add_option("--json", o->json, "write the matrix with per-case detail as JSON");
  app->add_option("--markdown", o->markdown, "write the matrix as Markdown");
  app->add_flag("-q,--quiet", o->quiet, "no progress on stderr");
  app->add_option("--ring", o->ring_worlds,
                  "instead of the flash path, the ring backend and its mutants with P ranks "
                  "(comma-separated: one matrix per P; docs/ring.md)")
      ->delimiter(',');
  app->add_option("--ring-block0", o->ring.block0,
                  "with --ring: the block-0 chunk kernel (auto, flash, composed)")
      ->capture_default_str();
  app->add_option("--ring-timeout", o->ring.timeout_s,
                  "with --ring: seconds for each launcher run")
      ->capture_default_str();

  commands.push_back({app, [o] {
    if (!o->ring_worlds.empty()) {
      bool passed = true;
      nlohmann::json all = nlohmann::json::array();
      std::string markdown;
      for (int world : o->ring_worlds) {
        RingOptions ring = o->ring;
        ring.world = world;
        ring.device = o->device;
        ring.quiet = true;  // the matrix says what ran
        const selftest::RingSelftestPlan plan = selftest::default_ring_plan(ring);
        Progress progress("ring selftest, world " + std::to_string(world) + " on " + o->device, o->quiet);
        const selftest::DetectionMatrix m = selftest::run_ring_selftest(
            plan, [&](int64_t done, int64_t total) { progress.update(done, total); });
        progress.finish();
        std::cout << selftest::format_matrix_text(m) << "\n";
        all.push_back(selftest::matrix_json(m));
        markdown += selftest::format_matrix_markdown(m) + "\n";
        passed = passed && m.passed;
      }
      if (!o->json.empty())
        data::write_file_atomically(o->json, (all.size() == 1 ? all[0] : all).dump(2) + "\n");
      if (!o->markdown.empty()) data::write_file_atomically(o->markdown, markdown);
      return int(passed ? kExitOk : kExitGateViolation);
    }
    const at::Device device = kern::parse_device(o->device);
    const selftest::SelftestPlan plan = selftest::default_plan(device);
    Progress progress("selftest on " + o->device, o->quiet);
    const selftest::DetectionMatrix m =
        selftest::run_selftest(plan, [&](int64_t done, int64_t total) { progress.update(done, total); });
    progress.finish();
    std::cout << selftest::format_matrix_text(m);
    if (!o->json.empty())
      data::write_file_atomically(o->json, selftest::matrix_json(m).dump(2) + "\n");
    if (!o->markdown.empty())
      data::write_file_atomically(o->markdown, selftest::format_matrix_markdown(m));
    return int(m.passed ? kExitOk : kExitGateViolation);
  }});
}

}  // namespace attn::cli
