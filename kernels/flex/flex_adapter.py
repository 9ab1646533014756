#!/usr/bin/env python3
"""flex_attention in attn-harness: recording over many cases, and the benchmark.

The flex backend itself is the TTT attention function flex_function.py:flex_ttt, which
`attn-harness run CASE --backend flex` runs like any Python function. This script adds:

    flex_adapter.py record CASE [CASE ...] [--device cpu|cuda] [--as NAME] [--no-backward]
    flex_adapter.py bench [--device cuda|cpu] [--presets P,..] [--seqs L,..] [--ttt T,..]
        [--workloads train_step,fwd,bwd,train_step_padded] [--reps 3] [--shard i/n]
        [--groups PRESET:WORKLOAD,...] [--list] --out FILE.json
        (docs/benchmarks.md; --shard: bench_shard.py; --groups with --shard i/n: exactly these
        groups, recorded as shard i of n, as attn-bench's shard i has them)

`record` runs flex_ttt over each case in one process (each shape compiles once, where
`attn-harness run` starts one process per case) and records CASE/outputs/<NAME>.h5 (default
"flex") exactly as `run --backend flex` does; a case that cannot be read is reported and the
others are still recorded. On the CPU torch 2.11 compiles flex_attention for inference only and
without the LSE: there out alone is recorded. Exit codes: 0 ok, 2 bad input or unsupported
(message on stderr) for any case.
"""
import argparse
import json
import math
import os
import statistics
import sys
import time

import torch
import torch._dynamo
from torch.nn.attention.flex_attention import create_block_mask, flex_attention

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "harness", "python"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from attn_harness.case import InputError  # noqa: E402
from attn_harness.function_backend import run_function  # noqa: E402
from flex_function import flex_ttt, ttt_block_mask  # noqa: E402,F401 (ttt_block_mask: bench)
import bench_shard  # noqa: E402

_FUNCTION_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "flex_function.py")


def record(args):
    """Records flex into each case folder through the Python-function backend; returns the
    number of cases that failed. One process for all cases: each shape compiles once."""
    failed = 0
    if torch.device(args.device).type == "cpu":
        print("flex (cpu): torch 2.11 compiles flex_attention on CPU for inference only: "
              "recording out alone (no lse, no gradients)", file=sys.stderr)
    for i, path in enumerate(args.case):
        fn = flex_ttt
        if args.no_backward:
            def fn(q, k, v, valid_len, scale):  # noqa: E306 (forward only, as asked)
                with torch.no_grad():
                    return flex_ttt(q, k, v, valid_len, scale)
        try:
            r = run_function(path, _FUNCTION_FILE, "flex_ttt", args.device, args.name, fn=fn,
                             invalid_rows=flex_ttt.invalid_rows, backend="flex", variant=flex_ttt.variant)
        except InputError as e:
            failed += 1
            print(f"error: {path}: {e}", file=sys.stderr)
            continue
        if len(args.case) == 1:
            print(f"flex ({args.device}): recorded as {path}/outputs/{args.name}.h5 "
                  f"(forward {r['forward_s'] * 1e3:.1f} ms, compile included on a new shape; "
                  f"backward {r['backward_s'] * 1e3:.1f} ms)")
        else:
            print(f"[flex record] {i + 1}/{len(args.case)} {path}", file=sys.stderr, flush=True)
    if len(args.case) > 1:
        print(f"flex ({args.device}): recorded into {len(args.case) - failed} of {len(args.case)} cases "
              f"as outputs/{args.name}.h5")
    return failed


# ---- bench: the flex column of attn-bench (docs/benchmarks.md) ---------------------------

_PRESETS = {"llama3-8b-mha": (32, 32, 128), "llama3-8b": (32, 8, 128), "qwen3-30b-a3b": (32, 4, 128),
            "gpt-oss-20b": (64, 8, 64), "tiny": (2, 1, 64)}


def _fwd_flops(B, H, L, D, t):
    return 4.0 * B * H * L * L * D / 2.0 + 4.0 * B * H * L * D * t


_WORKLOADS = ("train_step", "fwd", "bwd", "train_step_padded")


def _valid_lengths(workload, batch, L):
    """valid_len of every sequence, as attn-bench's (kernels/bench/bench_workload.hpp): the padded
    training step has 2 x batch sequences in pairs, the second of each right-padded by L/8."""
    if workload == "train_step_padded":
        return [L, L - L // 8] * batch
    return [L] * batch


def _workload_flops(workload, batch, H, L, D, T):
    """Useful FLOPs of one timed run, summed over the sequences at their valid lengths."""
    total = 0.0
    for n in _valid_lengths(workload, batch, L):
        if workload == "fwd":
            total += _fwd_flops(1, H, n, D, T - 1)
        elif workload == "bwd":
            total += 2.5 * _fwd_flops(1, H, n, D, T - 1)
        else:
            total += sum(3.5 * _fwd_flops(1, H, n, D, t) for t in range(T))
    return total


def _is_oom(e):
    return isinstance(e, torch.cuda.OutOfMemoryError) or "out of memory" in str(e).lower()


class _Timer:
    """CUDA events around a callable (wall clock on the CPU), the L2 flushed before."""

    def __init__(self, device):
        self.device = device
        self.flush = None
        if device.type == "cuda":
            l2 = int(getattr(torch.cuda.get_device_properties(device), "L2_cache_size", 0)) or (64 << 20)
            self.flush = torch.empty(2 * l2, dtype=torch.uint8, device=device)

    def allocated(self):
        return torch.cuda.memory_allocated(self.device) if self.device.type == "cuda" else 0

    def run(self, fn, before=None):
        """Returns (ms, peak bytes above the allocation before the step); `before` runs untimed."""
        state = before() if before else None
        if self.device.type == "cuda":
            self.flush.zero_()
            base = self.allocated()
            torch.cuda.reset_peak_memory_stats(self.device)
            start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            fn(state)
            stop.record()
            stop.synchronize()
            return start.elapsed_time(stop), torch.cuda.max_memory_allocated(self.device) - base
        t0 = time.perf_counter()
        fn(state)
        return (time.perf_counter() - t0) * 1e3, 0


def _bench_one(fn, make_mask, static, workload, batch, H, Hkv, L, D, T, device, timer, reps, iters, warmup):
    """One benchmark: returns (list of (ms, peak) per repetition, compile seconds)."""
    lengths = _valid_lengths(workload, batch, L)
    B = len(lengths)
    dtype = torch.bfloat16
    scale = 1.0 / math.sqrt(D)
    group = H // Hkv
    options = {"kernel_options": {"BACKEND": "TRITON"}} if device.type == "cuda" else {}
    need_grad = workload != "fwd"
    if device.type == "cpu" and need_grad:
        raise NotImplementedError("unsupported: torch flex_attention on the CPU is forward-only")

    def projected(heads):  # [B, L, heads, D] storage seen as [B, heads, L, D], as attn-bench
        return torch.randn(B, L, heads, D, device=device, dtype=dtype).transpose(1, 2)

    q = [projected(H).requires_grad_(need_grad) for _ in range(T)]
    g = [projected(H) for _ in range(T)]
    k = [projected(Hkv).requires_grad_(need_grad) for _ in range(T)]
    v = [projected(Hkv).requires_grad_(need_grad) for _ in range(T)]
    valid_len = torch.tensor(lengths, dtype=torch.long, device=device)

    def step(t):
        # Cache concatenation and block mask creation are part of the step, as in training (the
        # mask depends on valid_len and t); the mask is built by the compiled create_block_mask.
        k_cat = torch.cat(k[:t + 1], dim=2) if t > 0 else k[0]
        v_cat = torch.cat(v[:t + 1], dim=2) if t > 0 else v[0]
        mask = ttt_block_mask(valid_len, t, B, L, device, make=make_mask)
        return fn(q[t], k_cat, v_cat, block_mask=mask, scale=scale, enable_gqa=group > 1, **options)

    def train_step(_):
        outs = [step(t) for t in range(T)]
        torch.autograd.grad(outs, q + k + v, g, allow_unused=True)

    def fwd(_):
        with torch.set_grad_enabled(device.type == "cuda"):
            step(T - 1)

    def bwd_before():
        return step(T - 1)

    def bwd(out):
        torch.autograd.grad([out], [q[T - 1]] + k[:T] + v[:T], [g[T - 1]], allow_unused=True)

    run = {"train_step": lambda: timer.run(train_step), "train_step_padded": lambda: timer.run(train_step),
           "fwd": lambda: timer.run(fwd), "bwd": lambda: timer.run(bwd, before=bwd_before)}[workload]
    if static:
        torch._dynamo.reset()  # every shape compiles afresh: compile_s is this benchmark's alone
    t0 = time.perf_counter()
    run()  # compiles what this benchmark needs and the cache does not hold
    if device.type == "cuda":
        torch.cuda.synchronize()
    first_s = time.perf_counter() - t0
    for _ in range(max(warmup - 1, 0)):
        run()
    results = []
    for _ in range(reps):
        samples = [run() for _ in range(iters)]
        results.append((sum(ms for ms, _ in samples) / iters, max(p for _, p in samples), iters))
    # Compile time: the first run's wall time minus a step's (median) time.
    step_s = statistics.median(ms for ms, _, _ in results) * 1e-3
    return results, max(first_s - step_s, 0.0)


def _iterations(args, L):
    return args.iterations or (10 if L <= 2048 else 5 if L <= 4096 else 2 if L <= 16384 else 1)


def _shard_plan(args, presets, workloads, ttt, seqs):
    """The (preset, workload) groups this run times, in sweep order, with every benchmark's
    estimated seconds (bench_shard.py) and the shard's total; all groups without --shard, the
    given ones with --groups (the shard another plan chose: attn-bench's, so that both tools'
    benchmarks of a group run in one job), else the i-th shard of bench_shard's plan."""
    groups, estimates = [], {}
    for preset in presets:
        H, _, D = _PRESETS[preset]
        for workload in workloads:
            if args.groups is not None and (preset, workload) not in args.groups:
                continue
            cost, seen_T = 0.0, set()
            for T in ttt:
                for L in seqs:
                    flops = _workload_flops(workload, args.batch, H, L, D, T)
                    fwd = _workload_flops("fwd", args.batch, H, L, D, T)
                    runs = max(args.warmup, 1) + args.reps * _iterations(args, L)
                    est = bench_shard.benchmark_seconds(workload, flops, fwd, T, runs)
                    est += bench_shard.compile_seconds(not seen_T, T not in seen_T)
                    seen_T.add(T)
                    estimates[f"{workload}/flex/{preset}/L:{L}/T:{T}"] = est
                    cost += est
            groups.append(((preset, workload), cost))
    i, n = args.shard or (1, 1)
    if args.groups is not None:
        total = sum(c for _, c in groups)
        print(f"[flex bench] shard {i}/{n}: the {len(groups)} (preset, workload) groups of --groups, estimated "
              f"{total:.0f} s of GPU time (+{bench_shard.PROCESS_START_S:.0f} s start; bench_shard.py)",
              file=sys.stderr, flush=True)
        return [g for g, _ in groups], estimates, total
    if n > len(groups):
        raise InputError(f"--shard {i}/{n}: expected at most {len(groups)} shards (the sweep has "
                         f"{len(groups)} (preset, workload) groups, the unit flex shards by), found {n}")
    shard_of = bench_shard.assign_shards([c for _, c in groups], n)
    loads = [0.0] * n
    for (_, c), s in zip(groups, shard_of):
        loads[s] += c
    mine = [g for (g, _), s in zip(groups, shard_of) if s == i - 1]
    mean = sum(loads) / n
    print(f"[flex bench] shard {i}/{n}: {len(mine)} of {len(groups)} (preset, workload) groups, estimated "
          f"{loads[i - 1]:.0f} s of GPU time (+{bench_shard.PROCESS_START_S:.0f} s start; all shards: "
          f"{sum(loads):.0f} s, max / mean {max(loads) / mean if mean > 0 else 1.0:.3f}; bench_shard.py)",
          file=sys.stderr, flush=True)
    return mine, estimates, loads[i - 1]


def _parse_groups(text):
    """--groups "preset:workload,...": the set of pairs. Each must name a known preset and
    workload; pairs outside this sweep's --presets x --workloads select nothing (attn-bench's
    grid may be wider than flex's). An empty value is an empty set (a shard without flex groups)."""
    pairs = set()
    for part in filter(None, text.split(",")):
        preset, sep, workload = part.partition(":")
        if not sep or preset not in _PRESETS or workload not in _WORKLOADS:
            raise InputError(f"--groups: expected PRESET:WORKLOAD with a preset of {','.join(_PRESETS)} and a "
                             f"workload of {','.join(_WORKLOADS)}, found '{part}'")
        pairs.add((preset, workload))
    return pairs


def bench(args):
    device = torch.device(args.device)
    presets = args.presets.split(",")
    for p in presets:
        if p not in _PRESETS:
            raise InputError(f"--presets: unknown preset '{p}'")
    seqs = sorted({int(x) for x in args.seqs.split(",")})
    ttt = [int(x) for x in args.ttt.split(",")]
    workloads = args.workloads.split(",")
    for w in workloads:
        if w not in _WORKLOADS:
            raise InputError(f"--workloads: unknown workload '{w}'")
    if args.shard is not None:
        try:
            args.shard = bench_shard.parse_shard(args.shard)
        except ValueError as e:
            raise InputError(f"--shard: {e}") from None
    if args.groups is not None:
        args.groups = _parse_groups(args.groups)
    # The plan depends on the arguments alone (never the device): the n jobs agree on it.
    groups, estimates, shard_estimate = _shard_plan(args, presets, workloads, ttt, seqs)
    if args.list:
        for preset, workload in groups:
            for T in ttt:
                for L in seqs:
                    name = f"{workload}/flex/{preset}/L:{L}/T:{T}"
                    print(f"{name}\t{estimates[name]:.2f}")
        return
    if device.type == "cuda" and not torch.cuda.is_available():
        raise InputError("--device cuda: no CUDA device is available")
    timer = _Timer(device)
    # The run's bf16 GEMM rate, best of 5 (8192^3 on CUDA, 1024^3 on the CPU).
    n = 8192 if device.type == "cuda" else 1024
    a = torch.randn(n, n, device=device, dtype=torch.bfloat16)
    b = torch.randn(n, n, device=device, dtype=torch.bfloat16)
    for _ in range(2):
        a @ b
    gemm_ms = min(timer.run(lambda _: a @ b)[0] for _ in range(5))
    gemm = 2.0 * n ** 3 / (gemm_ms * 1e-3) / 1e12
    a = b = None  # free the GEMM operands
    for limit in ("recompile_limit", "cache_size_limit", "accumulated_recompile_limit",
                  "accumulated_cache_size_limit"):
        if hasattr(torch._dynamo.config, limit):  # T steps compile T shapes each; never fall back to eager
            setattr(torch._dynamo.config, limit, max(getattr(torch._dynamo.config, limit), 256))
    # dynamic: one compiled graph serves every step t (KV length L (t + 1)) and every L, as in
    # training with varying lengths (torch.compile's dynamic shapes); static: one compile per
    # shape, torch._dynamo reset before each benchmark.
    static = args.compile == "static"
    fn = torch.compile(flex_attention, dynamic=not static)
    make_mask = (torch.compile(create_block_mask, dynamic=not static) if device.type == "cuda"
                 else create_block_mask)
    device_name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    context = {"date": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "host_name": os.uname().nodename,
               "executable": "kernels/flex/flex_adapter.py bench", "num_cpus": os.cpu_count(),
               "mhz_per_cpu": 0, "cpu_scaling_enabled": False, "caches": [],
               "library_build_type": "release", "device": device_name,
               "torch_version": torch.__version__, "gemm_bf16_tflops": gemm, "commit": args.commit,
               "flex_compile": args.compile}
    if args.shard:
        context["shard"] = f"{args.shard[0]}/{args.shard[1]}"
        context["shard_estimated_s"] = round(shard_estimate, 1)
    entries = []
    oom_at = {}
    started = time.monotonic()
    for preset, workload in groups:
        H, Hkv, D = _PRESETS[preset]
        for T in ttt:
            for L in seqs:
                B = len(_valid_lengths(workload, args.batch, L))  # sequences in the batch
                name = f"{workload}/flex/{preset}/L:{L}/T:{T}"
                print(f"[flex bench] {name}", file=sys.stderr, flush=True)
                iters = _iterations(args, L)
                base = {"name": name, "run_name": name, "repetitions": args.reps, "threads": 1,
                        "time_unit": "ms", "B": B, "H": H, "Hkv": Hkv, "D": D, "L": L, "T": T}
                key = (workload, preset, T)
                error = None
                if key in oom_at and oom_at[key] < L:
                    error = "OOM: skipped (smaller L ran out of memory)"
                elif args.budget_s and time.monotonic() - started > args.budget_s:
                    error = f"skipped: the sweep's time budget (--budget-s {args.budget_s:g}) ran out"
                else:
                    try:
                        results, compile_s = _bench_one(fn, make_mask, static, workload, args.batch, H, Hkv, L, D, T, device,
                                                        timer, args.reps, iters, args.warmup)
                    except NotImplementedError as e:
                        error = str(e)
                    except Exception as e:  # noqa: BLE001 (any failure is recorded, the sweep goes on)
                        msg = str(e).strip().splitlines()[0][:300] if str(e).strip() else type(e).__name__
                        if _is_oom(e):
                            error = "OOM: " + msg
                            oom_at[key] = L
                        else:
                            error = "error: " + msg
                    if device.type == "cuda":
                        torch.cuda.empty_cache()
                if error:
                    print(f"[flex bench]   {error}", file=sys.stderr, flush=True)
                    for r in range(args.reps):
                        entries.append(dict(base, run_type="iteration", repetition_index=r,
                                            iterations=0, real_time=0, cpu_time=0,
                                            error_occurred=True, error_message=error))
                    _write_bench_json(args.out, context, entries)
                    continue
                flops = _workload_flops(workload, args.batch, H, L, D, T)
                times = []
                for r, (ms, peak, its) in enumerate(results):
                    tflops = flops / (ms * 1e-3) / 1e12
                    times.append(ms)
                    entries.append(dict(base, run_type="iteration", repetition_index=r, iterations=its,
                                        real_time=ms, cpu_time=ms, TFLOPS=tflops, gemm_TFLOPS=gemm,
                                        pct_of_gemm=100.0 * tflops / gemm, peak_mem_GiB=peak / 2 ** 30,
                                        compile_s=compile_s))
                mean = statistics.mean(times)
                median = statistics.median(times)
                stddev = statistics.stdev(times) if len(times) > 1 else 0.0
                for agg, value in (("mean", mean), ("median", median), ("stddev", stddev)):
                    tf = flops / (value * 1e-3) / 1e12 if agg != "stddev" and value > 0 else 0.0
                    entries.append(dict(base, name=f"{name}_{agg}", run_type="aggregate",
                                        aggregate_name=agg, aggregate_unit="time", iterations=len(times),
                                        real_time=value, cpu_time=value, TFLOPS=tf, gemm_TFLOPS=gemm,
                                        pct_of_gemm=100.0 * tf / gemm,
                                        peak_mem_GiB=max(p for _, p, _ in results) / 2 ** 30,
                                        compile_s=compile_s))
                _write_bench_json(args.out, context, entries)  # after each: a killed sweep keeps its results
    _write_bench_json(args.out, context, entries)
    print(f"flex bench: {len(entries)} entries written to {args.out}")


def _write_bench_json(path, context, entries):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump({"context": context, "benchmarks": entries}, f, indent=1)
    os.replace(tmp, path)


def main():
    parser = argparse.ArgumentParser(description="flex_attention backend of attn-harness")
    sub = parser.add_subparsers(dest="command", required=True)
    rec = sub.add_parser("record", help="run flex over a case folder and record its outputs")
    rec.add_argument("case", nargs="+")
    rec.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    rec.add_argument("--as", dest="name", default="flex")
    rec.add_argument("--no-backward", action="store_true",
                     help="forward only (no gradients recorded)")
    ben = sub.add_parser("bench", help="time flex over a grid (Google Benchmark JSON, see docs/benchmarks.md)")
    ben.add_argument("--presets", default="llama3-8b-mha")
    ben.add_argument("--seqs", default="1024,2048,4096,8192,16384,32768")
    ben.add_argument("--ttt", default="1,3,7")
    ben.add_argument("--workloads", default="train_step")
    ben.add_argument("--batch", type=int, default=1)
    ben.add_argument("--reps", type=int, default=3)
    ben.add_argument("--iterations", type=int, default=0, help="per repetition (0: 10, 5, 2 or 1 by L, as attn-bench)")
    ben.add_argument("--warmup", type=int, default=2, help="runs before timing, the compiling one included")
    ben.add_argument("--device", default="cuda", choices=["cpu", "cuda"])
    ben.add_argument("--commit", default="unknown")
    ben.add_argument("--compile", default="dynamic", choices=["dynamic", "static"],
                     help="torch.compile with dynamic shapes (one graph for every t and L) or one per shape")
    ben.add_argument("--budget-s", type=float, default=0,
                     help="start no new benchmark after this many seconds; the rest are recorded as skipped")
    ben.add_argument("--shard", default=None, metavar="i/n",
                     help="run only the i-th (1 <= i <= n) of n shards balanced by estimated GPU time "
                          "(bench_shard.py); the n shards together are the whole sweep")
    ben.add_argument("--groups", default=None, metavar="PRESET:WORKLOAD,...",
                     help="run exactly these (preset, workload) groups of the sweep (with --shard i/n: "
                          "recorded as shard i of n; nightly_bench.sh passes attn-bench's shard's groups)")
    ben.add_argument("--list", action="store_true",
                     help="print the benchmarks (of the shard) with their estimated seconds; run nothing")
    ben.add_argument("--out", help="the Google Benchmark JSON file to write (required unless --list)")
    args = parser.parse_args()
    try:
        if args.command == "bench":
            if not args.out and not args.list:
                raise InputError("bench: --out FILE.json is required (unless --list)")
            bench(args)
            return 0
        return 2 if record(args) else 0
    except InputError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
