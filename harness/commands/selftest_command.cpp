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
#include "harness/selftest/selftest_run.hpp"
#include "kernels/registry.hpp"
#include "datasets/atomic_output.hpp"

namespace attn::cli {

void add_selftest_command(CLI::App& root, std::vector<Command>& commands) {
  struct Options {
    std::string device = "cpu", json, markdown;
    bool quiet = false;
  };
  auto o = std::make_shared<Options>();
  CLI::App* app = root.add_subcommand(
      "selftest", torch_command_description("selftest"));
  app->add_option("--device", o->device, "cpu or cuda")->capture_default_str();
  app->add_option("--json", o->json, "write the matrix with per-case detail as JSON");
  app->add_option("--markdown", o->markdown, "write the matrix as Markdown");
  app->add_flag("-q,--quiet", o->quiet, "no progress on stderr");

  commands.push_back({app, [o] {
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
