"""Runs the ring backends over case folders with P ranks on this host (docs/ring.md):

    python ring_launcher.py CASE... --world P [--variant ring[,ring-mutant-...]] [--as NAME]
                            [--device cpu|cuda] [--block0 auto|flash|composed] [--timeout S]
    python ring_launcher.py --list-variants

`attn-harness run CASE --backend ring --world P` calls it. It checks the request (known
variants, P >= 1, L >= P for every case, P GPUs for cuda), starts P processes of
ring_worker.py (gloo on the CPU; NCCL on CUDA, one GPU per rank, NCCL_NVLS_ENABLE=0), and
watches them: when a rank fails, the others are stopped at once and the failing rank's message
is printed; when the run outlasts --timeout, every rank is stopped. Rank 0 records each
(case, variant) as CASE/outputs/<producer>.h5 (whole or not at all).

Exit codes: 0 every job recorded, 2 a request error or a rank failed (message on stderr).
Python's torch is imported only by the ranks (and here for --device cuda, to count GPUs).
"""
import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PACKAGE = os.path.join(os.path.dirname(os.path.dirname(HERE)), "harness", "python")
sys.path[:0] = [HERE, PACKAGE]

import ring_variants  # noqa: E402 (after the path)


class RequestError(Exception):
    """A request that cannot run: the message names what was expected and what was found."""


def _case_length(case):
    import h5py
    path = os.path.join(case, "inputs.h5")
    if not os.path.isfile(path):
        raise RequestError(f"{case}: no such case (expected a folder holding inputs.h5)")
    try:
        with h5py.File(path, "r") as f:
            return int(f.attrs["L"])
    except (OSError, KeyError) as e:
        raise RequestError(f"{path}: cannot read the sequence length L ({e})")


def check_request(args):
    """The jobs [(case, variant, producer)], or RequestError."""
    variants = [v for v in args.variant.split(",") if v]
    unknown = [v for v in variants if ring_variants.find(v) is None]
    if unknown or not variants:
        raise RequestError(f"unknown ring variant {', '.join(unknown) or '(none)'}: expected one "
                           f"of {', '.join(ring_variants.names())}")
    if args.producer and len(variants) != 1:
        raise RequestError(f"--as names one producer: expected one variant, found {len(variants)}")
    if args.world < 1:
        raise RequestError(f"--world: expected a number of ranks >= 1, found {args.world}")
    for case in args.cases:
        L = _case_length(case)
        if L < args.world:
            raise RequestError(f"--world {args.world}: the sequence of {case} has L = {L} rows; "
                               f"expected at most L ranks (one row or more per rank)")
    if args.timeout <= 0:
        raise RequestError(f"--timeout: expected seconds > 0, found {args.timeout}")
    if args.device == "cuda":
        import torch
        found = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if found < args.world:
            raise RequestError(f"--world {args.world} --device cuda: expected {args.world} GPUs "
                               f"(one per rank), found {found} (torch {torch.__version__})")
    return [(case, v, args.producer or v) for case in args.cases for v in variants]


def _stop(procs):
    """SIGTERM to the ranks still running, SIGKILL to those alive 5 s later."""
    for p in procs:
        if p.poll() is None:
            p.terminate()
    deadline = time.monotonic() + 5
    for p in procs:
        try:
            p.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def _failure_report(run_dir, codes, world):
    """The failing ranks, earliest first: their messages (or how they ended and their log)."""
    errors = []
    for r, code in enumerate(codes):
        if code in (None, 0):
            continue
        path = os.path.join(run_dir, f"rank{r}.err")
        if os.path.exists(path):
            with open(path) as f:
                e = json.load(f)
            errors.append((e["time"], r, e["message"].rstrip()))
        else:
            how = f"was killed by signal {-code} ({signal.Signals(-code).name})" if code < 0 else f"exited with code {code}"
            log = os.path.join(run_dir, f"rank{r}.log")
            tail = open(log).read()[-1500:].rstrip() if os.path.exists(log) else ""
            errors.append((os.path.getmtime(log) if tail else time.time(), r,
                           how + (f"; its last output:\n{tail}" if tail else "")))
    errors.sort()
    lines = []
    for i, (_, r, message) in enumerate(errors):
        head = f"ring rank {r} of {world} failed" if i == 0 else f"rank {r} failed after it"
        lines.append(f"{head}: " + message.replace("\n", "\n    "))
    return "\n".join(lines)


def launch(jobs, args):
    """Starts the ranks, watches them; returns (exit code, message)."""
    run_dir = tempfile.mkdtemp(prefix="attn-ring-")
    procs = []
    try:
        config = dict(world=args.world, device=args.device, block0=args.block0,
                      pg_backend="nccl" if args.device == "cuda" else "gloo",
                      timeout_s=args.timeout, run_dir=run_dir, python_package=PACKAGE,
                      threads=max(1, (os.cpu_count() or 1) // args.world), commit=args.commit,
                      quiet=args.quiet,
                      jobs=[dict(case=c, variant=v, producer=p) for c, v, p in jobs])
        path = os.path.join(run_dir, "config.json")
        with open(path, "w") as f:
            json.dump(config, f)
        env = dict(os.environ, NCCL_NVLS_ENABLE="0", OMP_NUM_THREADS=str(config["threads"]),
                   PYTHONPATH=os.pathsep.join([HERE, PACKAGE] + [p for p in [os.environ.get("PYTHONPATH")] if p]))
        worker = os.path.join(HERE, "ring_worker.py")
        for r in range(args.world):
            log = open(os.path.join(run_dir, f"rank{r}.log"), "w")
            procs.append(subprocess.Popen([sys.executable, worker, path, str(r)], env=env,
                                          stdout=None if r == 0 else log, stderr=log))
            log.close()
        deadline = time.monotonic() + args.timeout
        while True:
            codes = [p.poll() for p in procs]
            if any(c not in (None, 0) for c in codes):
                time.sleep(0.2)  # let a failure's neighbours report theirs too
                codes = [p.poll() for p in procs]  # before the watchdog stops the others
                _stop(procs)
                return 2, _failure_report(run_dir, codes, args.world)
            if all(c == 0 for c in codes):
                return 0, ""
            if time.monotonic() > deadline:
                running = [r for r, c in enumerate(codes) if c is None]
                _stop(procs)
                return 2, (f"the ring run did not finish within {args.timeout:g} s, its time "
                           f"limit (attn-harness run --ring-timeout); ranks still running: "
                           f"{', '.join(map(str, running))}; all ranks were stopped")
            time.sleep(0.05)
    finally:
        _stop(procs)
        shutil.rmtree(run_dir, ignore_errors=True)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="ring_launcher.py",
                                     description="Run the ring backends over case folders with P ranks.")
    parser.add_argument("cases", nargs="*", metavar="CASE")
    parser.add_argument("--world", type=int, default=None, help="number of ranks P")
    parser.add_argument("--variant", default="ring", help="ring variants, comma-separated")
    parser.add_argument("--as", dest="producer", default=None, help="producer name (one variant)")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--block0", default="auto", choices=["auto", "flash", "composed"])
    parser.add_argument("--timeout", type=float, default=600.0,
                        help="seconds for the whole run (process group set-up included)")
    parser.add_argument("--commit", default="", help="recorded in the provenance")
    parser.add_argument("--quiet", action="store_true", help="no line per recorded job")
    parser.add_argument("--list-variants", action="store_true",
                        help="print the variants (name, tab, invisible when, tab, summary)")
    args = parser.parse_args(argv)
    if args.list_variants:
        for v in ring_variants.VARIANTS:
            print(f"{v.name}\t{v.invisible_when}\t{v.summary}")
        return 0
    try:
        if args.world is None:
            raise RequestError("expected --world P (the number of ranks)")
        if not args.cases:
            raise RequestError("expected one case folder or more")
        jobs = check_request(args)
    except RequestError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except ImportError as e:
        print(f"error: {sys.executable} cannot import {e.name}: the ring backends need torch, "
              "h5py and numpy (set ATTN_PYTHON to a Python that has them)", file=sys.stderr)
        return 2

    def on_signal(signum, _frame):
        raise SystemExit(128 + signum)  # launch()'s finally stops the ranks
    for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(s, on_signal)
    try:  # Linux: SIGTERM to this launcher when attn-harness dies, so that it stops the ranks
        import ctypes
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    rc, message = launch(jobs, args)
    if rc != 0:
        print(f"error: {message}\nnothing more was recorded (records already written by this run "
              "are complete)" if len(jobs) > 1 else f"error: {message}\nnothing was recorded",
              file=sys.stderr)
    return rc


if __name__ == "__main__":
    sys.exit(main())
