#!/usr/bin/env python3
"""The harness's own speed: time each step of a job on a realistic case, with its peak memory.

    time_to_verdict.py BUILD_DIR WORK_DIR [--preset llama3-8b] [--seq 4096] [--batch 2]
        [--ttt-step 6] [--pad 0,512] [--device cuda|cpu] [--backends sdpa,flash]
        [--steps generate,reference,run,gate] [--inspect dq@1,5,1000,3] [--repeat N] [--json FILE]

Steps: generate (a case folder), reference (the fp64 reference, cached), run (the backends on
--device), gate (flash against the reference, sdpa as the baseline), inspect (one element, as a
reviewer asks). Each step is one attn-harness process; its wall time and peak resident memory
(from wait4) are printed as an aligned table on stdout. --repeat N runs the whole job N times,
each from a fresh case folder (with generate among the steps), so every step is timed N times
and nothing is cached between repetitions.

--json FILE writes (schema 2; `attn-harness report --harness-timing FILE` reads 1 and 2):

    {"schema": "attn-harness.time-to-verdict/2",
     "date": "2026-12-01T10:52:33Z",               # UTC, when the job started
     "commit": "0.1.0 (cc61e3619bf2)",             # attn-harness --version
     "repeat": 3,
     "case": {"preset", "L", "B", "t", "pad", "device", "backends"},
     "steps": [{"name": "reference",
                "command": "...",                  # the first repetition's command line
                "seconds": 5.55,                   # median over the repetitions
                "samples": [6.07, 5.07, 5.55],     # one per repetition, seconds
                "max_rss_bytes": 3512340480,       # largest over the repetitions
                "exit_code": 0}, ...],
     "total_seconds": 13.75,                        # sum of the steps' medians
     "case_bytes": 2587938816,                      # the case folder on disk
     "host": {"cpu", "cores", "machine", "gpu"}}    # gpu: nvidia-smi's name, "" without

Schema 1 (before --repeat) had neither date, commit, repeat, samples nor host.gpu.
Exit 0 when every step exits 0 (gate: 0 or 1, both are verdicts), 1 otherwise.
"""
import argparse
import datetime
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time


def run_step(cmd):
    start = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out = p.stdout.read()
    _, status, usage = os.wait4(p.pid, 0)
    seconds = time.perf_counter() - start
    p.stdout.close()
    code = os.waitstatus_to_exitcode(status)
    return seconds, usage.ru_maxrss * 1024, code, out


def folder_bytes(path):
    total = 0
    for root, _, files in os.walk(path):
        total += sum(os.path.getsize(os.path.join(root, f)) for f in files)
    return total


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def gpu_name():
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=20)
        return out.stdout.strip().splitlines()[0] if out.returncode == 0 and out.stdout.strip() else ""
    except (OSError, subprocess.SubprocessError):
        return ""


def version(exe):
    try:
        out = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=20)
        return out.stdout.strip() if out.returncode == 0 else ""
    except (OSError, subprocess.SubprocessError):
        return ""


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("build_dir")
    ap.add_argument("work_dir")
    ap.add_argument("--preset", default="llama3-8b")
    ap.add_argument("--seq", type=int, default=4096)
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--ttt-step", type=int, default=6)
    ap.add_argument("--pad", default="0,512")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--backends", default="sdpa,flash")
    ap.add_argument("--steps", default="generate,reference,run,gate")
    ap.add_argument("--inspect", default="dq@1,5,1000,3", help="TENSOR@b,h,i,d for the inspect step")
    ap.add_argument("--repeat", type=int, default=1, help="run the whole job N times (fresh case each time)")
    ap.add_argument("--json")
    args = ap.parse_args()
    if args.repeat < 1:
        print(f"--repeat: expected 1 or more, found {args.repeat}", file=sys.stderr)
        return 2

    exe = os.path.join(args.build_dir, "attn-harness")
    case = os.path.join(args.work_dir, f"{args.preset}-L{args.seq}-B{args.batch}-t{args.ttt_step}")
    tensor, at = args.inspect.split("@")
    commands = {
        "generate": [exe, "generate", "-o", case, "--preset", args.preset, "--seq", str(args.seq),
                     "--batch", str(args.batch), "--ttt-step", str(args.ttt_step), "--pad", args.pad,
                     "--seed", "1", "-q"],
        "reference": [exe, "reference", case, "-q"],
        "run": [exe, "run", case, "--backend", args.backends, "--device", args.device, "-q"],
        "gate": [exe, "gate", case, "--candidate", "flash", "--baseline", "sdpa", "-q"],
        "inspect": [exe, "inspect", case, "--tensor", tensor, "--at", at, "-q"],
    }
    steps = args.steps.split(",")
    for s in steps:
        if s not in commands:
            print(f"unknown step {s!r}: expected {', '.join(commands)}", file=sys.stderr)
            return 2
    os.makedirs(args.work_dir, exist_ok=True)
    started = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")

    samples = {s: [] for s in steps}
    rss = {s: 0 for s in steps}
    codes = {s: 0 for s in steps}
    ok = True
    for rep in range(args.repeat):
        if "generate" in steps and os.path.isdir(case):
            shutil.rmtree(case)
        for s in steps:
            tag = f" (repetition {rep + 1}/{args.repeat})" if args.repeat > 1 else ""
            print(f"[time-to-verdict] {s}{tag} ...", file=sys.stderr, flush=True)
            seconds, peak, code, out = run_step(commands[s])
            samples[s].append(round(seconds, 3))
            rss[s] = max(rss[s], peak)
            codes[s] = code if code != 0 else codes[s]
            good = code == 0 or (s == "gate" and code == 1)
            ok = ok and good
            if not good:
                print(f"{s} failed (exit {code}):\n{out}", file=sys.stderr)
                break
            if s in ("gate", "inspect") and rep == 0:
                print(out.rstrip())
        if not ok:
            break
    results = [dict(name=s, command=" ".join(commands[s]), seconds=round(statistics.median(samples[s]), 3),
                    samples=samples[s], max_rss_bytes=rss[s], exit_code=codes[s])
               for s in steps if samples[s]]
    total = sum(r["seconds"] for r in results)
    size = folder_bytes(case) if os.path.isdir(case) else 0
    print(f"\ncase {os.path.basename(case)} ({args.device}), {size / 2**30:.2f} GiB on disk")
    print(f"{'step':<10} {'seconds':>8} {'range':>15} {'peak RSS':>10}  exit")
    for r in results:
        spread = f"{min(r['samples']):.2f}-{max(r['samples']):.2f}" if len(r["samples"]) > 1 else "-"
        print(f"{r['name']:<10} {r['seconds']:>8.2f} {spread:>15} {r['max_rss_bytes'] / 2**30:>8.2f} GiB  {r['exit_code']}")
    print(f"{'total':<10} {total:>8.2f}")
    if args.json:
        doc = {"schema": "attn-harness.time-to-verdict/2", "date": started, "commit": version(exe),
               "repeat": args.repeat,
               "case": dict(preset=args.preset, L=args.seq, B=args.batch, t=args.ttt_step, pad=args.pad,
                            device=args.device, backends=args.backends),
               "steps": results, "total_seconds": round(total, 3), "case_bytes": size,
               "host": dict(cpu=cpu_model(), cores=os.cpu_count(), machine=platform.machine(),
                            gpu=gpu_name() if args.device == "cuda" else "")}
        tmp = args.json + ".tmp"
        with open(tmp, "w") as f:
            json.dump(doc, f, indent=2)
            f.write("\n")
        os.replace(tmp, args.json)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
