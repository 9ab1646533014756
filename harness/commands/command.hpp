// A subcommand: its CLI11 node and what runs when it is chosen. Each *_command.cpp adds one.
#pragma once

#include <functional>
#include <vector>

#include <CLI/CLI.hpp>

namespace attn::cli {

struct Command {
  CLI::App* app = nullptr;
  std::function<int()> run;  ///< returns an ExitCode; throws InputError on bad input
};

void add_generate_command(CLI::App& root, std::vector<Command>& commands);
void add_reference_command(CLI::App& root, std::vector<Command>& commands);
void add_info_command(CLI::App& root, std::vector<Command>& commands);
void add_compare_command(CLI::App& root, std::vector<Command>& commands);
void add_gate_command(CLI::App& root, std::vector<Command>& commands);
void add_inspect_command(CLI::App& root, std::vector<Command>& commands);
void add_report_command(CLI::App& root, std::vector<Command>& commands);
void add_perf_noise_command(CLI::App& root, std::vector<Command>& commands);
void add_case_file_commands(CLI::App& root, std::vector<Command>& commands);
#if defined(ATTN_HAS_TORCH) || defined(ATTN_TORCH_BINARY)
void add_backends_command(CLI::App& root, std::vector<Command>& commands);
void add_run_command(CLI::App& root, std::vector<Command>& commands);
void add_selftest_command(CLI::App& root, std::vector<Command>& commands);
void add_calibrate_command(CLI::App& root, std::vector<Command>& commands);
#endif

}  // namespace attn::cli
