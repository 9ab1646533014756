// The subcommands that need LibTorch (they run backends). They live in the attn-harness-torch
// binary; attn-harness, which links no LibTorch and so starts in milliseconds, lists them and
// hands them over to attn-harness-torch in its own folder (execv, same arguments).
#pragma once

#include <string>
#include <vector>

namespace attn::cli {

struct TorchCommand {
  const char* name;
  const char* description;  ///< the one --help shows in both binaries
};

const std::vector<TorchCommand>& torch_commands();
const char* torch_command_description(const std::string& name);

/// Replaces this process by attn-harness-torch (next to this executable) with `argv`.
/// Returns only on failure, with the message to print.
std::string exec_torch_binary(char** argv);

}  // namespace attn::cli
