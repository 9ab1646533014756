#!/usr/bin/env python3
"""The harness's own speed: time each step of a job on a realistic case, with its peak memory.

    time_to_verdict.py BUILD_DIR WORK_DIR [--preset llama3-8b] [--seq 4096] [--batch 2]
        [--ttt-step 6] [--pad 0,512] [--device cuda|cpu] [--backends sdpa,flash]
        [--steps generate,reference,run,gate] [--inspect dq@1,5,1000,3] [--json FILE]

Steps: generate (a case folder), reference (the fp64 reference, cached), run (the backends on
--device), gate (flash against the reference, sdpa as the baseline), inspect (one element, as a
reviewer asks). Each step is one attn-harness process; its wall time and peak resident memory
(from wait4) are printed as an aligned table on stdout and, with --json, written as
{"schema": "attn-harness.time-to-verdict/1", "case": {...}, "steps": [{"name", "command",
"seconds", "max_rss_bytes", "exit_code"}], "total_seconds", "case_bytes", "host": {...}}.
Exit 0 when every step exits 0 (gate: 0 or 1, both are verdicts), 1 otherwise.
"""
import argparse
import json
import os
import platform
import shutil
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
    ap.add_argument("--json")
    args = ap.parse_args()

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
    if "generate" in steps and os.path.isdir(case):
        shutil.rmtree(case)
    os.makedirs(args.work_dir, exist_ok=True)

    results, ok = [], True
    for s in steps:
        print(f"[time-to-verdict] {s} ...", file=sys.stderr, flush=True)
        seconds, rss, code, out = run_step(commands[s])
        results.append(dict(name=s, command=" ".join(commands[s]), seconds=round(seconds, 3),
                            max_rss_bytes=rss, exit_code=code))
        good = code == 0 or (s == "gate" and code == 1)
        ok = ok and good
        if not good:
            print(f"{s} failed (exit {code}):\n{out}", file=sys.stderr)
            break
        if s in ("gate", "inspect"):
            print(out.rstrip())
    total = sum(r["seconds"] for r in results)
    size = folder_bytes(case) if os.path.isdir(case) else 0
    print(f"\ncase {os.path.basename(case)} ({args.device}), {size / 2**30:.2f} GiB on disk")
    print(f"{'step':<10} {'seconds':>8} {'peak RSS':>10}  exit")
    for r in results:
        print(f"{r['name']:<10} {r['seconds']:>8.2f} {r['max_rss_bytes'] / 2**30:>8.2f} GiB  {r['exit_code']}")
    print(f"{'total':<10} {total:>8.2f}")
    if args.json:
        doc = {"schema": "attn-harness.time-to-verdict/1",
               "case": dict(preset=args.preset, L=args.seq, B=args.batch, t=args.ttt_step, pad=args.pad,
                            device=args.device, backends=args.backends),
               "steps": results, "total_seconds": round(total, 3), "case_bytes": size,
               "host": dict(cpu=cpu_model(), cores=os.cpu_count(), machine=platform.machine())}
        tmp = args.json + ".tmp"
        with open(tmp, "w") as f:
            json.dump(doc, f, indent=2)
            f.write("\n")
        os.replace(tmp, args.json)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
