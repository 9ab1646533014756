#include "harness/commands/torch_commands.hpp"

#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <filesystem>

namespace attn::cli {

const std::vector<TorchCommand>& torch_commands() {
  static const std::vector<TorchCommand> commands = {
      {"backends",
       "List the backends of this build and the devices they can run on; with --case, whether "
       "each supports that case's shape and dtype."},
      {"run",
       "Run backends over a case (forward and backward with the case's grad_out) and record each "
       "one's outputs as CASE/outputs/<producer>.h5, tied to the inputs by their hash. An "
       "unsupported backend is reported and skipped; the exit code is then 2, after the others "
       "have run."},
      {"selftest",
       "Run the real flash path and every mutant (defective variant, see `backends`) over a "
       "generated fixture suite and print the detection matrix: per variant the cases the default "
       "gate flags at unit-scale and training-scale grad_out and its margin (the worst tensor's "
       "err_c / threshold), the project's first rule, the old cosine rule, assert_close, the worst "
       "err_c/err_b and the invalid-row check. Exit 0 when flash passes the default gate on every "
       "case and every mutant is caught, 1 otherwise. With --ring P: the same for the ring backend "
       "and its mutants over P ranks (docs/ring.md)."},
      {"calibrate",
       "Run the correct backends (and the baseline) over seeds x presets x TTT steps x grad_out "
       "scales, or judge recorded case folders (--cases), and report per backend and tensor kind "
       "the distribution of err_c / max|ref| (what error budgets bound), of err_c/err_b and of "
       "use = err_c/threshold under a profile, the margin to a false alarm (1 / max use), and "
       "with --mutants each mutant's margin. --write-budgets writes error budgets (headroom x the "
       "largest error). Exit 0, or 1 when a calibrated backend fails the profile on some case."},
  };
  return commands;
}

const char* torch_command_description(const std::string& name) {
  for (const TorchCommand& c : torch_commands())
    if (name == c.name) return c.description;
  return "";
}

std::string exec_torch_binary(char** argv) {
  std::error_code ec;
  const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return "cannot find this executable's folder: " + ec.message();
  const std::filesystem::path torch = self.parent_path() / "attn-harness-torch";
  if (::access(torch.c_str(), X_OK) != 0)
    return std::string("'") + argv[1] + "' runs backends, which need LibTorch: this build has no " +
           torch.string() + " (configure with -DATTN_WITH_TORCH=ON)";
  ::execv(torch.c_str(), argv);
  return "cannot start " + torch.string() + ": " + std::strerror(errno);
}

}  // namespace attn::cli
