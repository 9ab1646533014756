#!/usr/bin/env python3
"""Writes the synthetic Google Benchmark JSON the perf-report tests read (committed output):

  sample_bench.json           the bench runner: sdpa, flash, floor (repetitions + aggregates;
                              llama3-8b aggregates only, as with --benchmark_report_aggregates_only)
  sample_bench_flex.json      the flex adapter: repetitions only, compile_s, fwd/bwd unsupported
  sample_bench_previous.json  an older run of both, merged into one file
  sample_time_to_verdict.json, sample_time_to_verdict_previous.json
                              scripts/time_to_verdict.py --json of two nights (schema 2, 3
                              repetitions), with planted changes

The flex file spells its date's offset "+0000", as the flex adapter does (attn-bench: "+00:00").

Numbers follow H100 figures of an early PyTorch composition of the flash path (flash 46 ms / 1.0 GiB at L=4096, 287 ms / 4.1 GiB at
16384; flex 56 / 3.5, 419 / 36; sdpa 189 ms / 26 GiB at 4096, OOM from 8192) and are otherwise
made up. Planted changes (new vs previous): flash mha L=16K T=7 +10 % with ~1 % noise
(regression), flash mha L=8K T=7 +1 % with ~2 % noise (within noise), flex mha L=4K T=7 -11 %
(improvement), flex llama3-8b L=16K newly OOM, floor mha L=2K T=1 newly failing, flash mha L=32K
T=7 peak memory +11 % (memory regression). Time to a verdict (new vs previous): reference +35 %
with the repetitions' ranges apart (slower, flagged), run +25 % with overlapping ranges (not
flagged), gate -30 % (faster), generate's peak memory +50 % (larger, flagged).
Run: python3 make_sample_bench.py (in this folder).
"""
import json
import math
import random

LS = [1024, 2048, 4096, 8192, 16384, 32768]
PRESETS = {"llama3-8b-mha": dict(H=32, Hkv=32, D=128, speed=1.0, Ts=[1, 3, 7], single=True),
           "llama3-8b": dict(H=32, Hkv=8, D=128, speed=0.92, Ts=[7], single=False)}
GEMM = 662.4
CAP_GIB = 79.2 - 16.0  # memory left above the inputs on an 80 GB card, roughly


def base_ms(backend, L):
    """train_step at T=7, llama3-8b-mha."""
    if backend == "flash":
        return 46.0 * (L / 4096) ** 1.32
    if backend == "flex":
        return 56.0 * (L / 4096) ** 1.45
    if backend == "sdpa":
        return 189.0 * (L / 4096) ** 2
    raise KeyError(backend)


def overhead(L, T):
    return 1.0 + 0.045 * T * (4096 / L) ** 0.25


def step_ms(backend, preset, L, T):
    p = PRESETS[preset]
    if backend == "floor":
        return base_ms("flash", L) / overhead(L, 7) * T / 7 * p["speed"]
    t7 = base_ms(backend, L) * p["speed"]
    if backend == "flash":
        return base_ms("flash", L) / overhead(L, 7) * T / 7 * overhead(L, T) * p["speed"]
    return t7 * (1 + 0.12 * (T - 1)) / 1.72


def peak_gib(backend, preset, L, T):
    kv = PRESETS[preset]["Hkv"] / 32
    grow = (1 + 0.1 * (T - 1)) / 1.6
    if backend == "flash":
        return 1.0 * (L / 4096) * grow * (0.5 + 0.5 * kv)
    if backend == "floor":
        return 0.62 * (L / 4096) * grow * (0.5 + 0.5 * kv)
    if backend == "flex":
        return 3.5 * (L / 4096) ** 1.68 * grow * (0.6 + 0.4 * kv)
    if backend == "sdpa":
        return 26.0 * (L / 4096) ** 2 * grow
    raise KeyError(backend)


def useful_tflop(preset, L, T, workload):
    p = PRESETS[preset]
    fwd = 4 * p["H"] * L * L * p["D"] / 2 + 4 * p["H"] * L * p["D"] * T  # prefix + singletons
    if workload == "fwd":
        return fwd / 1e12
    if workload == "bwd":
        return 2.5 * fwd / 1e12
    return T * 3.5 * fwd / 1e12


def entries(name, run_name_suffix, samples, counters, aggregates_only=False, with_aggregates=True):
    run_name = name + run_name_suffix
    common = dict(run_name=run_name, repetitions=len(samples), threads=1, time_unit="ms")
    out = []
    if not aggregates_only:
        for i, s in enumerate(samples):
            c = {k: (v(s) if callable(v) else v) for k, v in counters.items()}
            out.append(dict(name=run_name, run_type="iteration", repetition_index=i, iterations=3,
                            real_time=s, cpu_time=s * 0.02, **common, **c))
    if with_aggregates:
        mean = sum(samples) / len(samples)
        med = sorted(samples)[len(samples) // 2]
        sd = math.sqrt(sum((x - mean) ** 2 for x in samples) / (len(samples) - 1))
        for agg, v in (("mean", mean), ("median", med), ("stddev", sd), ("cv", sd / mean)):
            c = {k: (vv(v) if callable(vv) else vv) for k, vv in counters.items()} if agg in ("mean", "median") else {}
            out.append(dict(name=run_name + "_" + agg, run_type="aggregate", aggregate_name=agg,
                            aggregate_unit="percentage" if agg == "cv" else "time", iterations=len(samples),
                            real_time=v, cpu_time=v * 0.02, **common, **c))
    return out


def failed(name, suffix, message, reps=3):
    return [dict(name=name + suffix, run_name=name + suffix, run_type="iteration", repetitions=reps,
                 repetition_index=i, threads=1, error_occurred=True, error_message=message,
                 iterations=0, real_time=0, cpu_time=0, time_unit="ms") for i in range(reps)]


def grid():
    for preset, p in PRESETS.items():
        for T in p["Ts"]:
            for L in LS:
                yield "train_step", preset, L, T
        if p["single"]:
            for w in ("fwd", "bwd"):
                for L in (4096, 16384):
                    yield w, preset, L, 7


def run(previous, backends, rng, suffix):
    out = []
    for workload, preset, L, T in grid():
        for b in backends:
            name = f"{workload}/{b}/{preset}/L:{L}/T:{T}"
            p = PRESETS[preset]
            if b == "flex" and workload != "train_step":
                out += failed(name, suffix, "unsupported: the flex adapter times train_step only", 1)
                continue
            if previous and workload == "train_step" and preset == "llama3-8b-mha" and L == 32768 and T == 1:
                continue  # not in the previous grid: "new benchmarks"
            mem = peak_gib(b, preset, L, T)
            if workload != "train_step":
                mem *= 0.4
            if mem > CAP_GIB or (b == "flex" and preset == "llama3-8b" and L == 16384 and not previous):
                out += failed(name, suffix, "OOM: CUDA out of memory. Tried to allocate %.2f GiB" % (mem * 0.3))
                continue
            if b == "floor" and preset == "llama3-8b-mha" and L == 2048 and T == 1 and workload == "train_step" \
                    and not previous:
                out += failed(name, suffix, "CUDA error: an illegal memory access was encountered")
                continue
            ms = step_ms(b, preset, L, T)
            if workload == "fwd":
                ms /= 3.5 * T
            elif workload == "bwd":
                ms *= 2.5 / (3.5 * T)
            noise = 0.01
            key = (workload, b, preset, L, T)
            if key == ("train_step", "flash", "llama3-8b-mha", 16384, 7) and previous:
                ms /= 1.10
            if key == ("train_step", "flash", "llama3-8b-mha", 8192, 7):
                noise = 0.02
                if previous:
                    ms /= 1.01
            if key == ("train_step", "flex", "llama3-8b-mha", 4096, 7) and previous:
                ms *= 1.125
            if key == ("train_step", "flash", "llama3-8b-mha", 32768, 7) and previous:
                mem /= 1.11
            # Three repetitions spread +-noise around ms (sample stddev = noise * ms).
            jitter = rng.uniform(-0.2, 0.2) * noise
            samples = [ms * (1 + jitter - noise), ms * (1 + jitter), ms * (1 + jitter + noise)]
            rng.shuffle(samples)
            tf = useful_tflop(preset, L, T, workload)
            counters = dict(TFLOPS=lambda s, tf=tf: tf / (s / 1e3), gemm_TFLOPS=GEMM,
                            pct_of_gemm=lambda s, tf=tf: 100 * tf / (s / 1e3) / GEMM,
                            peak_mem_GiB=round(mem, 3), B=1, H=p["H"], Hkv=p["Hkv"], D=p["D"], L=L, T=T)
            if b == "flex":
                counters["compile_s"] = round(18.0 + 0.4 * T + L / 4096 * 0.8, 1)
            out += entries(name, suffix, samples, counters,
                           aggregates_only=(preset == "llama3-8b" and b != "flex" and not previous),
                           with_aggregates=(b != "flex" or previous))
    return out


def context(previous, executable, offset="+00:00"):
    return {"date": ("2026-11-23T02:10:00" if previous else "2026-11-24T02:10:00") + offset,
            "host_name": "h100-node-3", "executable": executable, "num_cpus": 16, "mhz_per_cpu": 3000,
            "cpu_scaling_enabled": False, "caches": [], "library_build_type": "release",
            "device": "NVIDIA H100 80GB HBM3", "torch_version": "2.11.0+cu130", "gemm_bf16_tflops": GEMM,
            "commit": "4f1c2a9d0e7b" if previous else "9b7e31c05a2f"}


def short(x):
    """6 significant digits keep the files small."""
    if isinstance(x, float):
        return float("%.6g" % x)
    if isinstance(x, dict):
        return {k: short(v) for k, v in x.items()}
    return x


def dump(path, doc):
    doc = {"context": doc["context"], "benchmarks": [short(e) for e in doc["benchmarks"]]}
    with open(path, "w") as f:
        f.write('{\n"context": ' + json.dumps(doc["context"]) + ',\n"benchmarks": [\n')
        f.write(",\n".join(json.dumps(e, separators=(",", ":")) for e in doc["benchmarks"]))
        f.write("\n]\n}\n")


def time_to_verdict(previous):
    """One night of scripts/time_to_verdict.py --repeat 3 --json on the H100 host."""
    # step: (seconds of the three repetitions, peak RSS GiB), new night; the previous differs.
    steps = {"generate": ([3.1, 3.2, 3.3], 1.5), "reference": ([54.0, 55.0, 56.5], 6.2),
             "run": ([10.0, 12.5, 15.0], 3.1), "gate": ([2.8, 2.8, 2.9], 2.0)}
    if previous:
        steps = {"generate": ([3.0, 3.2, 3.3], 1.0), "reference": ([40.0, 40.7, 41.5], 6.2),
                 "run": ([9.0, 10.0, 13.0], 3.1), "gate": ([4.0, 4.0, 4.2], 2.0)}
    out = []
    for name, (samples, gib) in steps.items():
        out.append(dict(name=name, command=f"build/attn-harness {name} cases/llama3-8b-L4096-B2-t6 -q",
                        seconds=sorted(samples)[1], samples=samples, max_rss_bytes=int(gib * 2**30), exit_code=0))
    return {"schema": "attn-harness.time-to-verdict/2",
            "date": "2026-11-23T02:40:00Z" if previous else "2026-11-24T02:40:00Z",
            "commit": "0.1.0 (%s)" % ("4f1c2a9d0e7b" if previous else "9b7e31c05a2f"),
            "repeat": 3,
            "case": dict(preset="llama3-8b", L=4096, B=2, t=6, pad="0,512", device="cuda", backends="sdpa,flash"),
            "steps": out, "total_seconds": round(sum(s["seconds"] for s in out), 3), "case_bytes": 612368384,
            "host": dict(cpu="AMD EPYC 9654 96-Core Processor", cores=16, machine="x86_64", gpu="NVIDIA H100 80GB HBM3")}


def main():
    dump("sample_bench.json", {"context": context(False, "./attn-bench"),
                               "benchmarks": run(False, ["sdpa", "flash", "floor"], random.Random(1), "/repeats:3/manual_time")})
    dump("sample_bench_flex.json", {"context": context(False, "python3 kernels/flex/flex_bench.py", "+0000"),
                                    "benchmarks": run(False, ["flex"], random.Random(2), "")})
    dump("sample_bench_previous.json", {"context": context(True, "./attn-bench"),
                                        "benchmarks": run(True, ["sdpa", "flex", "flash", "floor"], random.Random(3), "/manual_time")})
    for name, previous in (("sample_time_to_verdict.json", False), ("sample_time_to_verdict_previous.json", True)):
        with open(name, "w") as f:
            json.dump(time_to_verdict(previous), f, indent=2)
            f.write("\n")


if __name__ == "__main__":
    main()
