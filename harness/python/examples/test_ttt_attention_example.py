"""The example test: gate an implementation with one call, and see the gate catch a planted bug.

Run it from the checkout after scripts/setup.sh (CI runs it as ctest `python_package_example`):

    ATTN_HARNESS=build/attn-harness PYTHONPATH=harness/python python -m pytest -q harness/python/examples
"""
import pytest

from attn_harness.testing import GateFailure, assert_gate_passes, check_function
from ttt_attention_example import ttt_attention, ttt_attention_tiled_gqa


def test_the_example_passes_the_gate(tmp_path):
    r = assert_gate_passes(ttt_attention, tmp_path)
    assert r.report["totals"]["failed_tensors"] == 0
    assert r.report["totals"]["cases"] == 4


def test_the_gate_catches_the_planted_gqa_bug(tmp_path):
    with pytest.raises(GateFailure) as failure:
        assert_gate_passes(ttt_attention_tiled_gqa, tmp_path)
    message = str(failure.value)
    # The gate's own report: the failing cases and tensors with their numbers.
    assert "FAIL" in message and "out: err_c" in message, message
    r = check_function(ttt_attention_tiled_gqa, tmp_path)
    # Tiling and interleaving agree when Hkv = 1: the MQA case passes, every other case fails.
    verdicts = {c["case"].rsplit("/", 1)[-1]: c["passed"] for c in r.report["cases"]}
    assert verdicts == {"gqa-t3-padded": False, "mqa-t6-padded": True, "gqa-t1": False,
                        "gqa-t0-padded": False}, verdicts


def test_a_function_of_the_wrong_shape_is_reported(tmp_path):
    def half_rows(q, k, v, valid_len, scale):
        return q[:, :, : q.shape[2] // 2]

    with pytest.raises(GateFailure, match=r"out: expected shape \[2, 8, 160, 128\], found \[2, 8, 80, 128\]"):
        assert_gate_passes(half_rows, tmp_path)
