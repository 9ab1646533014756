#include "harness/ring/ring_run.hpp"

#include <cstdio>
#include <filesystem>

#include "datasets/errors.hpp"
#include "harness/build_info.hpp"
#include "harness/python_process.hpp"
#include "harness/ring/ring_variants.hpp"

namespace attn::cli {

void check_ring_request(const RingOptions& o,
                        const std::vector<std::pair<std::string, int64_t>>& lengths) {
  if (o.world < 1)
    throw data::InputError("--world: expected a number of ranks >= 1, found " + std::to_string(o.world));
  for (const auto& [path, L] : lengths)
    if (L < o.world)
      throw data::InputError("--world " + std::to_string(o.world) + ": the sequence of " + path +
                             " has L = " + std::to_string(L) +
                             " rows; expected at most L ranks (one row or more per rank)");
  if (o.device != "cpu" && o.device != "cuda")
    throw data::InputError("--device: expected cpu or cuda, found '" + o.device + "'");
  if (o.block0 != "auto" && o.block0 != "flash" && o.block0 != "composed")
    throw data::InputError("--ring-block0: expected auto, flash or composed, found '" + o.block0 + "'");
  if (!(o.timeout_s > 0))
    throw data::InputError("--ring-timeout: expected seconds > 0, found " + std::to_string(o.timeout_s));
}

int run_ring(const std::vector<std::string>& cases, const std::vector<std::string>& variants,
             const std::string& producer, const RingOptions& o) {
  std::string list;
  for (const std::string& v : variants) {
    if (!find_ring_variant(v)) throw data::InputError("not a ring backend: " + v);
    list += (list.empty() ? "" : ",") + v;
  }
  char timeout[32];
  std::snprintf(timeout, sizeof timeout, "%g", o.timeout_s);
  std::vector<std::string> args{
      (std::filesystem::path(kSourceDir) / "kernels" / "ring" / "ring_launcher.py").string()};
  args.insert(args.end(), cases.begin(), cases.end());
  args.insert(args.end(), {"--world", std::to_string(o.world), "--variant", list, "--device",
                           o.device, "--block0", o.block0, "--timeout", timeout, "--commit", kCommit});
  if (!producer.empty()) args.insert(args.end(), {"--as", producer});
  if (o.quiet) args.push_back("--quiet");
  return run_python(args, "the ring launcher (" + list + ", world " + std::to_string(o.world) + ")");
}

}  // namespace attn::cli
