// attn-harness selftest: every mutant of the flash path over a generated fixture suite, the
// detection matrix, and the verdict (exit 0: the real path passes the default gate on every
// case and every mutant is flagged by the check it is expected to be seen by; 1 otherwise).
#include <iostream>
#include <memory>

#include "harness/commands/command.hpp"
#include "harness/exit_codes.hpp"
#include "harness/progress.hpp"
#include "harness/selftest/selftest_formats.hpp"
#include "harness/selftest/selftest_run.hpp"
#include "kernels/registry.hpp"
#include "reports/atomic_file.hpp"

namespace attn::cli {

void add_selftest_command(CLI::App& root, std::vector<Command>& commands) {
  struct Options {
    std::string device = "cpu", json, markdown;
    bool quiet = false;
  };
  auto o = std::make_shared<Options>();
  CLI::App* app = root.add_subcommand(
      "selftest",
      "Run the real flash path and every mutant (defective variant, see `backends`) over a "
      "generated fixture suite and print the detection matrix: which rule flags which variant "
      "(default gate with unit-scale and realistic grad_out, scaled-floor gate, old cosine rule, "
      "assert_close, worst err_c/err_b, invalid-row check). Exit 0 when flash passes the default "
      "gate on every case and every mutant is caught, 1 otherwise.");
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
      report::write_file_atomically(o->json, selftest::matrix_json(m).dump(2) + "\n");
    if (!o->markdown.empty())
      report::write_file_atomically(o->markdown, selftest::format_matrix_markdown(m));
    return int(m.passed ? kExitOk : kExitGateViolation);
  }});
}

}  // namespace attn::cli
