"""Functions for python_function_test.sh: correct ones and every kind of wrong one."""
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python", "examples"))
from ttt_attention_example import ttt_attention, ttt_attention_tiled_gqa  # noqa: E402,F401


def out_only(q, k, v, valid_len, scale):
    return ttt_attention(q, k, v, valid_len, scale)[0]


def forward_only(q, k, v, valid_len, scale):
    with torch.no_grad():
        return ttt_attention(q, k, v, valid_len, scale)


def ignores_newest_block(q, k, v, valid_len, scale):
    return ttt_attention(q, k[:-1], v[:-1], valid_len, scale)


def raises(q, k, v, valid_len, scale):
    return helper_that_fails(q)


def helper_that_fails(q):
    raise RuntimeError("shapes do not line up in my kernel")


def wrong_shape(q, k, v, valid_len, scale):
    return q[:, :, 1:]


def wrong_dtype(q, k, v, valid_len, scale):
    return ttt_attention(q, k, v, valid_len, scale)[0].float()


def wrong_lse_shape(q, k, v, valid_len, scale):
    out, lse = ttt_attention(q, k, v, valid_len, scale)
    return out, lse[..., None]


def three_things(q, k, v, valid_len, scale):
    out, lse = ttt_attention(q, k, v, valid_len, scale)
    return out, lse, lse


def not_a_tensor(q, k, v, valid_len, scale):
    return q.tolist()


def backward_fails(q, k, v, valid_len, scale):
    class Fails(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x.clone()

        @staticmethod
        def backward(ctx, g):
            raise ValueError("my backward is not written yet")

    out, lse = ttt_attention(q, k, v, valid_len, scale)
    return Fails.apply(out), lse


def bad_declaration(q, k, v, valid_len, scale):
    return ttt_attention(q, k, v, valid_len, scale)


bad_declaration.invalid_rows = "mostly zeros"
