// Running the ring backends: checks a request, then hands it to the Python launcher
// (kernels/ring/ring_launcher.py), which starts P ranks on this host (gloo on the CPU, NCCL on
// CUDA), watches them and records each (case, variant) through rank 0. docs/ring.md.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace attn::cli {

struct RingOptions {
  int world = 0;               ///< P, the number of ranks
  std::string device = "cpu";  ///< cpu (gloo) or cuda (NCCL, one GPU per rank)
  std::string block0 = "auto"; ///< the block-0 chunk kernel: auto, flash or composed
  double timeout_s = 600;      ///< the whole run, process-group set-up included
  bool quiet = false;          ///< no line per recorded job (errors are always printed)
};

/// Throws InputError unless the request can run as far as this process can tell: world >= 1,
/// world <= L of every case (`lengths`: case path and its L), device cpu or cuda, block0 and
/// timeout valid. Whether there are P GPUs is for the launcher to say (it asks the torch that
/// runs the ranks).
void check_ring_request(const RingOptions& o,
                        const std::vector<std::pair<std::string, int64_t>>& lengths);

/// Runs every variant (names of ring_variants()) over every case with o.world ranks, recording
/// each as `producer` (empty: the variant's name). Returns 0 when all were recorded, 2 when the
/// launcher reported an error (its message is on stderr); throws InputError when Python cannot
/// run it.
int run_ring(const std::vector<std::string>& cases, const std::vector<std::string>& variants,
             const std::string& producer, const RingOptions& o);

}  // namespace attn::cli
