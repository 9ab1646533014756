// attn-harness info CASE: shapes, dtype, valid rows, producers and the reference state.
#include <iostream>
#include <memory>

#include "harness/commands/command.hpp"
#include "harness/exit_codes.hpp"
#include "datasets/atomic_output.hpp"
#include "reports/accuracy/case_summary.hpp"

namespace attn::cli {

void add_info_command(CLI::App& root, std::vector<Command>& commands) {
  struct Options {
    std::string path, json;
    bool verify = false;
  };
  auto o = std::make_shared<Options>();
  CLI::App* app = root.add_subcommand(
      "info", "Show a case: shapes, dtype, valid rows, generator, and each record (the cached "
              "reference, every producer) with its state: current, stale (computed from other "
              "inputs), unverified (no input hash) or damaged. Reads attributes only.");
  app->add_option("CASE", o->path, "case folder or bundle")->required();
  app->add_flag("--verify", o->verify,
                "re-hash the inputs' values instead of trusting the recorded hash (reads them)");
  app->add_option("--json", o->json, "also write the summary as JSON to this file ('-': stdout)");

  commands.push_back({app, [o] {
                        const report::CaseSummary s = report::summarize_case(o->path, o->verify);
                        if (o->json == "-") {
                          std::cout << report::case_summary_json(s).dump(2) << "\n";
                          return int(kExitOk);
                        }
                        std::cout << report::format_case_summary(s);
                        if (!o->json.empty())
                          data::write_file_atomically(o->json,
                                                        report::case_summary_json(s).dump(2) + "\n");
                        return int(kExitOk);
                      }});
}

}  // namespace attn::cli
