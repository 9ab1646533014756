"""Gate your own TTT attention function from a test (pytest or any other).

    from attn_harness.testing import assert_gate_passes

    def test_my_attention(tmp_path):
        assert_gate_passes(my_ttt_attention, tmp_path)

The function follows the contract of docs/own-implementation.md:
`fn(q, k, v, valid_len, scale) -> out` or `(out, lse)`. assert_gate_passes generates a few
realistic cases with `attn-harness generate` (padded and unpadded, GQA, t = 0 to 6), records the
`sdpa` baseline with `attn-harness run`, runs your function over each in this process, and judges
it with `attn-harness gate`: the verdict and its message are the C++ tool's own, nothing is
re-implemented here. A failing gate raises GateFailure (an AssertionError) whose message is the
gate's output.

The tool is found as $ATTN_HARNESS, else `attn-harness` on the PATH, else the build folder of
the checkout this package lives in (build/attn-harness).
"""
import dataclasses
import json
import os
import re
import shutil
import subprocess

from .case import InputError
from .function_backend import run_function

# Small cases that still exercise what goes wrong in TTT attention: GQA and MQA groups,
# right padding (and a batch element padded beyond t), every t from 0 to 6, both grad_out
# scales. Sizes keep the whole check to seconds on a CPU.
DEFAULT_CASES = (
    dict(name="gqa-t3-padded", preset="llama3-8b", heads=8, kv_heads=2, seq=160, ttt_step=3, batch=2,
         pad=(0, 23), seed=11),
    dict(name="mqa-t6-padded", preset="gpt-oss-20b", heads=8, kv_heads=1, seq=128, ttt_step=6, batch=2,
         pad=(9, 0), seed=12, grad_scale=1.0),
    dict(name="gqa-t1", preset="qwen3-30b-a3b", heads=8, kv_heads=2, seq=96, ttt_step=1, batch=1,
         seed=13),
    dict(name="gqa-t0-padded", preset="llama3-8b", heads=4, kv_heads=2, seq=128, ttt_step=0, batch=2,
         pad=(0, 40), seed=14),
)


class GateFailure(AssertionError):
    """The gate failed the function (or the function could not be run): the message says why."""


@dataclasses.dataclass
class GateResult:
    passed: bool
    exit_code: int
    text: str          # the gate's report (stdout, then stderr)
    report: dict       # the gate's JSON (attn-harness.gate/2); {} when it could not be read
    cases: list        # the case folders judged


def find_harness():
    """The attn-harness executable: $ATTN_HARNESS, `attn-harness` on the PATH, or the checkout's
    build/attn-harness."""
    exe = os.environ.get("ATTN_HARNESS") or shutil.which("attn-harness")
    if not exe:
        here = os.path.dirname(os.path.abspath(__file__))
        candidate = os.path.normpath(os.path.join(here, "..", "..", "..", "build", "attn-harness"))
        exe = candidate if os.access(candidate, os.X_OK) else None
    if not exe:
        raise InputError("attn-harness not found: set ATTN_HARNESS to the executable, put it on the "
                         "PATH, or build the checkout (scripts/setup.sh)")
    return exe


def _run(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        raise InputError(f"`{' '.join(cmd)}` exited with {p.returncode}: {p.stderr.strip() or p.stdout.strip()}")
    return p


def generate_cases(workdir, cases=DEFAULT_CASES, baseline="sdpa", harness=None):
    """Writes each case (a dict of `attn-harness generate` options plus "name") into workdir,
    with the baseline recorded. Returns the case folders. An existing case folder is reused when
    its baseline is current (generation is deterministic)."""
    exe = harness or find_harness()
    folders = []
    for spec in cases:
        spec = dict(spec)
        folder = os.path.join(str(workdir), spec.pop("name"))
        cmd = [exe, "generate", "-o", folder, "-q"]
        for key, value in spec.items():
            flag = "--" + key.replace("_", "-")
            if isinstance(value, (list, tuple)):
                cmd += [flag, ",".join(str(v) for v in value)]
            else:
                cmd += [flag, str(value)]
        _run(cmd)
        _run([exe, "run", folder, "--backend", baseline, "-q"])
        folders.append(folder)
    return folders


def gate(case_folders, candidate, baseline="sdpa", profile="bf16", harness=None):
    """`attn-harness gate` over the folders; never raises on a failing verdict."""
    exe = harness or find_harness()
    json_path = os.path.join(os.path.dirname(os.path.abspath(case_folders[0])), f".gate-{candidate}.json")
    cmd = [exe, "gate", *case_folders, "--candidate", candidate, "--baseline", baseline,
           "--profile", profile, "--json", json_path, "-q"]
    p = subprocess.run(cmd, capture_output=True, text=True)
    try:
        with open(json_path) as f:
            report = json.load(f)
        os.unlink(json_path)
    except (OSError, json.JSONDecodeError):
        report = {}
    return GateResult(passed=p.returncode == 0, exit_code=p.returncode,
                      text=(p.stdout + p.stderr).strip(), report=report, cases=list(case_folders))


def check_function(fn, workdir, cases=DEFAULT_CASES, device="cpu", name=None, profile="bf16",
                   harness=None):
    """Runs fn over generated cases and gates it. Returns a GateResult; raises GateFailure when
    fn cannot be run on a case (its exception, or outputs of the wrong shape or dtype)."""
    name = re.sub(r"[^A-Za-z0-9._-]", "_", name or getattr(fn, "__name__", "function")).lstrip(".") or "function"
    folders = generate_cases(workdir, cases, harness=harness)
    for folder in folders:
        try:
            run_function(folder, None, name, device, producer=name, fn=fn)
        except InputError as e:
            raise GateFailure(f"{name} could not be run on {folder}: {e}") from None
    return gate(folders, name, profile=profile, harness=harness)


def assert_gate_passes(fn, workdir, **kwargs):
    """check_function, raising GateFailure with the gate's own report when it fails."""
    r = check_function(fn, workdir, **kwargs)
    if not r.passed:
        raise GateFailure(f"attn-harness gate failed (exit {r.exit_code}):\n{r.text}")
    return r
