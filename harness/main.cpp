// attn-harness: the command-line entry point. Subcommands live in harness/commands/; this file
// parses, dispatches and turns exceptions into messages and exit codes (harness/exit_codes.hpp).
#include <iostream>
#include <stdexcept>
#include <vector>

#include "datasets/errors.hpp"
#include "harness/build_info.hpp"
#include "harness/commands/command.hpp"
#include "harness/exit_codes.hpp"

int main(int argc, char** argv) {
  using namespace attn::cli;
  CLI::App root{"attn-harness: verify and benchmark EAGLE-3 TTT attention backends against an "
                "fp64 reference.\nExit codes: 0 ok, 1 gate violation, 2 usage or input error.",
                "attn-harness"};
  root.set_version_flag("--version", std::string(kVersion) + " (" + kCommit + ")");
  root.require_subcommand(1);
  std::vector<Command> commands;
  add_generate_command(root, commands);
  add_reference_command(root, commands);
  add_info_command(root, commands);
  add_compare_command(root, commands);
  add_gate_command(root, commands);
  add_inspect_command(root, commands);
  add_report_command(root, commands);
#ifdef ATTN_HAS_TORCH
  add_backends_command(root, commands);
  add_run_command(root, commands);
  add_selftest_command(root, commands);
  add_calibrate_command(root, commands);
#endif

  try {
    root.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = root.exit(e);  // prints help/version (rc 0) or the usage error
    return rc == 0 ? int(kExitOk) : int(kExitInputError);
  }
  try {
    for (const Command& c : commands)
      if (c.app->parsed()) return c.run();
  } catch (const attn::data::InputError& e) {
    std::cerr << "error: " << e.what() << "\n";
    return kExitInputError;
  } catch (const std::invalid_argument& e) {
    std::cerr << "error: " << e.what() << "\n";
    return kExitInputError;
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return kExitInputError;
  }
  return kExitInputError;
}
