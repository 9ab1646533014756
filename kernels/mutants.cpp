#include "kernels/mutants.hpp"

namespace attn::kern {

using Defect = FlashOptions::Defect;
using Seen = MutantInfo::Seen;

const std::vector<MutantInfo>& mutant_catalogue() {
  static const std::vector<MutantInfo> list{
      {Defect::block0_own_lse, "mutant-own-lse",
       "the defect that shipped: block-0 backward fed grad_out x exp(lse0 - lse) with block 0's "
       "own output and LSE (the gradient reaching the kernel's LSE ignored): dq and dk0 wrong, "
       "dv0 and the singletons right",
       "t = 0 (own and merged coincide)", Seen::gate},
      {Defect::block0_own_lse_unweighted, "mutant-own-lse-unweighted",
       "block-0 backward fed the unscaled grad_out with block 0's own output and LSE (dv0 wrong "
       "too: a stronger defect than the one that shipped)",
       "t = 0", Seen::gate},
      {Defect::bf16_singleton_scores, "mutant-bf16-singleton-scores",
       "singleton scores s q_i . k_m,i computed in bf16 instead of fp32 (as an early version of "
       "the production path did), forward and backward",
       "t = 0; f32 and f64 cases", Seen::gate},
      {Defect::bf16_merged_lse, "mutant-bf16-merged-lse",
       "the merged LSE rounded to bf16 before the backward (the forward's lse output exact)",
       "f32 and f64 cases", Seen::gate},
      {Defect::singleton_prev_position, "mutant-prev-position",
       "singleton m reads k_m and v_m at position i - 1 (row 0 at position 0)", "t = 0",
       Seen::gate},
      {Defect::gqa_tiled, "mutant-gqa-tiled",
       "head h reads kv head h % Hkv (k.repeat instead of repeat_interleave), forward and backward",
       "H = Hkv or Hkv = 1 (both mappings agree)", Seen::gate},
      {Defect::drop_newest_block, "mutant-drop-newest",
       "cache blocks 0..t-1 only: block t is not read and gets no gradient", "t = 0", Seen::gate},
      {Defect::unscaled_singletons, "mutant-unscaled-singletons",
       "singleton scores q_i . k_m,i without the softmax scale (forward and its exact backward)",
       "t = 0", Seen::gate},
      {Defect::singleton_delta_from_block0, "mutant-block0-delta",
       "singleton backward uses delta_i = g_i . out0_i (block 0's own output) instead of g_i . out_i",
       "t = 0", Seen::gate},
      {Defect::dk_first_group_head, "mutant-dk-first-head",
       "dk_m (m >= 1) from the GQA group's first query head instead of the group's sum",
       "t = 0 or H = Hkv", Seen::gate},
      {Defect::bf16_merge, "mutant-bf16-merge",
       "singleton scores, LSE merge and singleton gradients computed in bf16 instead of fp32",
       "f32 and f64 cases (the input dtype is then the accumulation type); at t = 0 only its "
       "LSE rounding remains, within the error of the sdpa baseline's LSE (bf16 scores)",
       Seen::gate},
      {Defect::varlen_full_length, "mutant-varlen-full-length",
       "valid rows valid_len[b] instead of valid_len[b] - t (block-0 lengths, merge masks, the "
       "grad_out mask): rows past the contract get values and send gradient to block 0",
       "t = 0", Seen::gate},
      {Defect::no_singleton_dq, "mutant-no-singleton-dq",
       "dq without the singleton term s sum_m dc_m k_m,i", "t = 0", Seen::gate},
      {Defect::lse_log2_as_ln, "mutant-lse-log2",
       "block 0's LSE reaches the merge in base 2 (lse * log2 e) and is read as a natural log", "",
       Seen::gate},
      {Defect::unmasked_invalid_rows, "mutant-unmasked-invalid-rows",
       "forward leaves the merge's finite values in out and lse on invalid rows (valid rows and "
       "every gradient follow the contract)",
       "cases without invalid rows (t = 0 and no padding)", Seen::invalid_rows_only},
  };
  return list;
}

const MutantInfo* find_mutant(const std::string& backend_name) {
  for (const MutantInfo& m : mutant_catalogue())
    if (m.name == backend_name) return &m;
  return nullptr;
}

std::string to_string(Defect d) {
  switch (d) {
    case Defect::none: return "none";
    case Defect::block0_own_lse: return "block0-own-lse";
    case Defect::block0_own_lse_unweighted: return "block0-own-lse-unweighted";
    case Defect::bf16_singleton_scores: return "bf16-singleton-scores";
    case Defect::bf16_merged_lse: return "bf16-merged-lse";
    case Defect::singleton_prev_position: return "singleton-prev-position";
    case Defect::gqa_tiled: return "gqa-tiled";
    case Defect::drop_newest_block: return "drop-newest-block";
    case Defect::unscaled_singletons: return "unscaled-singletons";
    case Defect::singleton_delta_from_block0: return "singleton-delta-from-block0";
    case Defect::dk_first_group_head: return "dk-first-group-head";
    case Defect::bf16_merge: return "bf16-merge";
    case Defect::varlen_full_length: return "varlen-full-length";
    case Defect::no_singleton_dq: return "no-singleton-dq";
    case Defect::lse_log2_as_ln: return "lse-log2-as-ln";
    case Defect::unmasked_invalid_rows: return "unmasked-invalid-rows";
  }
  return "unknown";
}

std::string describe(Defect d) {
  for (const MutantInfo& m : mutant_catalogue())
    if (m.defect == d) return m.summary;
  return "";
}

std::string to_string(Seen s) { return s == Seen::gate ? "gate" : "invalid-rows-only"; }

}  // namespace attn::kern
