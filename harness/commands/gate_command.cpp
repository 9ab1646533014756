// attn-harness gate CASES...: the gate rule over every case and tensor; JUnit XML for CI.
// Exit 0 all pass, 1 violations, 2 input errors, 3 both (the other cases always run).
#include <chrono>
#include <iostream>
#include <memory>

#include "datasets/errors.hpp"
#include "harness/build_info.hpp"
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

void add_gate_command(CLI::App& root, std::vector<Command>& commands) {
  struct Options {
    std::vector<std::string> cases;
    std::string candidate = "flash", baseline = "sdpa", profile = "bf16", junit, json;
    std::string invalid_rows = "enforce";
    bool quiet = false;
  };
  auto o = std::make_shared<Options>();
  CLI::App* app = root.add_subcommand(
      "gate",
      "Apply the gate to a recorded candidate in every case: per tensor err_c <= r * err_b + "
      "floor (relative rule) and err_c <= budget * max|ref| (the candidate's error budget, when "
      "the profile has one for it), and a declared zeros contract on invalid rows. One line per "
      "case, one per failing tensor, and a total. Exit 0 all pass, 1 gate violations, 2 input "
      "errors (a missing or damaged case or producer, a stale producer, a baseline a relative "
      "profile needs), 3 both violations and input errors; the other cases are always judged.");
  app->add_option("CASES", o->cases, "case folders or bundles")->required();
  app->add_option("--candidate", o->candidate, "producer to judge")->capture_default_str();
  CLI::Option* base = app->add_option("--baseline", o->baseline, "baseline producer")->capture_default_str();
  app->add_option("--profile", o->profile, "a shipped profile name (bf16, abs-bf16) or a JSON file")
      ->capture_default_str();
  app->add_option("--junit", o->junit, "write JUnit XML (one testsuite per case, one testcase per tensor)");
  app->add_option("--json", o->json, "write the verdicts as JSON ('-': stdout only)");
  app->add_option("--invalid-rows", o->invalid_rows,
                  "enforce: a violated zeros declaration fails the case; warn: report it only")
      ->check(CLI::IsMember({"enforce", "warn"}))
      ->capture_default_str();
  app->add_flag("-q,--quiet", o->quiet, "no progress on stderr");

  commands.push_back({app, [o, base] {
                        report::GateRun run;
                        run.profile = report::find_profile(o->profile);
                        run.candidate = o->candidate;
                        JudgeRequest rq;
                        rq.candidate = o->candidate;
                        rq.baseline = o->baseline;
                        rq.baseline_explicit = base->count() > 0;
                        rq.profile = run.profile;
                        rq.options.worst_k = 0;
                        rq.options.enforce_invalid_rows = o->invalid_rows == "enforce";
                        run.tool_version = kVersion;
                        run.tool_commit = kCommit;
                        rq.reference.quiet = o->quiet;
                        const bool quiet_stdout = o->json == "-";
                        for (const std::string& path : o->cases) {
                          report::GateCaseResult r;
                          r.case_path = path;
                          const auto started = std::chrono::steady_clock::now();
                          try {
                            r.comparison = judge_case(path, rq);
                            if (r.comparison->baseline) run.baseline = r.comparison->baseline->name;
                          } catch (const data::InputError& e) {
                            r.error = e.what();
                          } catch (const std::exception& e) {  // e.g. out of memory: the
                            r.error = e.what();                 // other cases still run
                          }
                          r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
                          if (!quiet_stdout) std::cout << report::format_gate_case_line(r) << std::flush;
                          run.cases.push_back(std::move(r));
                        }
                        if (quiet_stdout)
                          std::cout << report::gate_json(run).dump(2, ' ', false, kReplace) << "\n";
                        else
                          std::cout << report::format_gate_total(run);
                        if (!o->junit.empty()) data::write_file_atomically(o->junit, report::gate_junit_xml(run));
                        if (!o->json.empty() && o->json != "-")
                          data::write_file_atomically(o->json, report::gate_json(run).dump(2, ' ', false, kReplace) + "\n");
                        return run.exit_code();
                      }});
}

}  // namespace attn::cli
