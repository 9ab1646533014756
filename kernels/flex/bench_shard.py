"""Sharding `flex_adapter.py bench` (--shard i/n): the same plan as attn-bench's
(kernels/bench/shard_plan.hpp), over flex's own unit and cost model.

Contract:
- Shards are numbered 1..n; `parse_shard` raises ValueError naming what was expected and found.
- The unit is a group: one (preset, workload) with all its T and L. torch.compile (dynamic
  shapes) compiles a group's graphs once and reuses them for every T and L of it, so a group
  kept in one process pays its compile once; an OOM at one L still skips the larger L.
- `assign_shards` is the greedy rule of shard_plan.hpp: groups by decreasing estimated cost
  (ties: the earlier group) each to the shard with the least cost so far (ties: the lowest
  number). Every group is in exactly one shard; the plan depends only on the arguments, never on
  the machine, so the n jobs of a night agree on it; max shard <= mean + largest group.
- Costs are estimated seconds on a GPU (fitted to the H100 reference run,
  reports/h100/2026-11-24-nightly, flex_*.json): step time = useful FLOPs / R + c per TTT step
  (R = 200, 70, 250 TFLOP/s and c = 2.0, 1.5, 1.2 ms for train_step, fwd, bwd; within +-35 %),
  runs = warm-ups + repetitions x iterations (a bwd run also runs its forward), 0.1 s set-up per
  benchmark, and torch.compile: 30 s for a group's first benchmark and 10 s more for each
  further T (the H100's compile_s was 3 to 23 s with a partly warm Inductor cache; a fresh
  machine's cache is cold).
"""

_RATE_TFLOPS = {"train_step": 200.0, "fwd": 70.0, "bwd": 250.0}
_RATE_TFLOPS["train_step_padded"] = _RATE_TFLOPS["train_step"]  # not measured yet: as train_step
_STEP_MS = {"train_step": 2.0, "fwd": 1.5, "bwd": 1.2}
_STEP_MS["train_step_padded"] = _STEP_MS["train_step"]
_SETUP_S = 0.1
_COMPILE_FIRST_S = 30.0
_COMPILE_PER_T_S = 10.0
PROCESS_START_S = 15.0  # torch import, CUDA context, the GEMM reference


def parse_shard(text):
    """'i/n' -> (i, n) with 1 <= i <= n; ValueError naming expected and found otherwise."""
    parts = text.split("/")
    if len(parts) == 2 and parts[0] == "0" and parts[1].isdigit() and int(parts[1]) >= 1:
        raise ValueError(f"expected i/n with 1 <= i <= n (shards are numbered from 1), found '{text}'")
    if len(parts) != 2 or not all(p.isdigit() and p.isascii() and 0 < len(p) <= 9 for p in parts) \
            or int(parts[0]) < 1 or int(parts[1]) < 1:
        raise ValueError(f"expected i/n, two positive integers with i <= n such as 2/4, found '{text}'")
    i, n = int(parts[0]), int(parts[1])
    if i > n:
        raise ValueError(f"expected i/n with 1 <= i <= n, found '{text}' (shard {i} of {n})")
    return i, n


def assign_shards(costs, n):
    """0-based shard of every item: the greedy rule in the module docstring."""
    order = sorted(range(len(costs)), key=lambda k: (-costs[k], k))
    load = [0.0] * n
    shard_of = [0] * len(costs)
    for k in order:
        lightest = min(range(n), key=lambda s: (load[s], s))
        shard_of[k] = lightest
        load[lightest] += costs[k]
    return shard_of


def step_ms(workload, flops, T):
    steps = T if workload.startswith("train_step") else 1
    return flops / (_RATE_TFLOPS[workload] * 1e12) * 1e3 + _STEP_MS[workload] * steps


def benchmark_seconds(workload, flops, fwd_flops, T, runs):
    """Estimated seconds of one benchmark (no compile); `fwd_flops`: the untimed forward of a
    bwd run."""
    run_ms = step_ms(workload, flops, T) + (step_ms("fwd", fwd_flops, T) if workload == "bwd" else 0.0)
    return _SETUP_S + runs * run_ms * 1e-3


def compile_seconds(first_of_group, new_T):
    """torch.compile's estimated share of a benchmark: the group's first, or its first at a new T."""
    if first_of_group:
        return _COMPILE_FIRST_S
    return _COMPILE_PER_T_S if new_T else 0.0
