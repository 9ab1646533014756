// attn-harness compare CASE --candidate NAME: every view of one recorded producer against the
// fp64 reference and a baseline, and the gate verdict (exit 0 pass, 1 violation).
#include <iostream>
#include <memory>

#include "datasets/errors.hpp"
#include "harness/commands/command.hpp"
#include "harness/exit_codes.hpp"
#include "harness/judge_case.hpp"
#include "datasets/atomic_output.hpp"
#include "reports/accuracy/comparison_formats.hpp"

namespace attn::cli {
namespace {
// Provenance written by other programs may hold invalid UTF-8: replace it, never throw.
constexpr auto kReplace = nlohmann::json::error_handler_t::replace;
}  // namespace

void add_compare_command(CLI::App& root, std::vector<Command>& commands) {
  struct Options {
    std::string path, candidate, baseline = "sdpa", profile = "bf16", json, markdown;
    std::string invalid_rows = "enforce";
    int worst = 10;
    bool quiet = false;
  };
  auto o = std::make_shared<Options>();
  CLI::App* app = root.add_subcommand(
      "compare",
      "Compare a recorded producer with the fp64 reference (computed and cached when needed) "
      "and a baseline over valid elements: max/mean error, ULP distances, histograms, worst "
      "elements, regions, old cosine rule, assert_close counts, the gate verdict per tensor, "
      "the error budget, and the declared invalid-row contract. Exit 0 when the gate passes, 1 "
      "when not, 2 on an input error.");
  app->add_option("CASE", o->path, "case folder or bundle")->required();
  app->add_option("--candidate", o->candidate, "producer to judge (/outputs/<name>)")->required();
  CLI::Option* base = app->add_option("--baseline", o->baseline, "baseline producer")->capture_default_str();
  app->add_option("--profile", o->profile, "gate profile: a shipped name (bf16, abs-bf16) or a JSON file")
      ->capture_default_str();
  app->add_option("--worst", o->worst, "worst elements kept per tensor")->capture_default_str();
  app->add_option("--json", o->json, "write the comparison as JSON ('-': stdout only)");
  app->add_option("--markdown", o->markdown, "write a Markdown summary ('-': stdout only)");
  app->add_option("--invalid-rows", o->invalid_rows,
                  "enforce: a violated zeros declaration fails; warn: report it only")
      ->check(CLI::IsMember({"enforce", "warn"}))
      ->capture_default_str();
  app->add_flag("-q,--quiet", o->quiet, "no progress on stderr");

  commands.push_back({app, [o, base] {
                        if (o->worst < 0) throw data::InputError("--worst must be >= 0, found " + std::to_string(o->worst));
                        JudgeRequest rq;
                        rq.candidate = o->candidate;
                        rq.baseline = o->baseline;
                        rq.baseline_explicit = base->count() > 0;
                        rq.profile = report::find_profile(o->profile);
                        rq.options.worst_k = o->worst;
                        rq.options.enforce_invalid_rows = o->invalid_rows == "enforce";
                        rq.reference.quiet = o->quiet;
                        const report::CaseComparison c = judge_case(o->path, rq);
                        if (o->json == "-")
                          std::cout << report::comparison_json(c).dump(2, ' ', false, kReplace) << "\n";
                        else if (o->markdown == "-")
                          std::cout << report::comparison_markdown(c);
                        else
                          std::cout << report::format_comparison_text(c);
                        if (!o->json.empty() && o->json != "-")
                          data::write_file_atomically(o->json, report::comparison_json(c).dump(2, ' ', false, kReplace) + "\n");
                        if (!o->markdown.empty() && o->markdown != "-")
                          data::write_file_atomically(o->markdown, report::comparison_markdown(c));
                        return int(c.passed ? kExitOk : kExitGateViolation);
                      }});
}

}  // namespace attn::cli
