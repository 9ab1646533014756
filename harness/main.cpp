// attn-harness (and attn-harness-torch, the same file built with ATTN_TORCH_BINARY): the
// command-line entry point. Subcommands live in harness/commands/; this file parses,
// dispatches and turns exceptions into messages and exit codes (harness/exit_codes.hpp).
// attn-harness links no LibTorch; it hands the commands that run backends to
// attn-harness-torch (harness/commands/torch_commands.hpp).
#include <hdf5.h>

#include <cstring>
#include <iostream>
#include <new>
#include <stdexcept>
#include <vector>

#include "datasets/errors.hpp"
#include "harness/build_info.hpp"
#include "harness/commands/command.hpp"
#include "harness/commands/torch_commands.hpp"
#include "harness/exit_codes.hpp"

int main(int argc, char** argv) {
  using namespace attn::cli;
  // Failures are reported once, through our messages; HDF5 must not print its own.
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
#ifndef ATTN_TORCH_BINARY
  if (argc > 1)
    for (const TorchCommand& c : torch_commands())
      if (std::strcmp(argv[1], c.name) == 0) {
        const std::string why = exec_torch_binary(argv);  // returns only on failure
        std::cerr << "error: " << why << "\n";
        return kExitInputError;
      }
#endif
  CLI::App root{"attn-harness: verify and benchmark EAGLE-3 TTT attention backends against an "
                "fp64 reference.\nExit codes: 0 ok, 1 gate violation, 2 usage or input error, 3 (gate) "
                "both. docs/cli.md has every subcommand's help.",
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
  add_case_file_commands(root, commands);
  add_report_command(root, commands);
  add_perf_noise_command(root, commands);
#ifdef ATTN_TORCH_BINARY
  add_backends_command(root, commands);
  add_run_command(root, commands);
  add_selftest_command(root, commands);
  add_calibrate_command(root, commands);
#else
  for (const TorchCommand& c : torch_commands())
    root.add_subcommand(c.name, c.description)->allow_extras()->prefix_command();
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
  } catch (const std::bad_alloc&) {
    std::cerr << "error: out of memory\n";
    return kExitInputError;
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return kExitInputError;
  }
  return kExitInputError;
}
