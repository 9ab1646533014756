"""The ring backends by name: the correct sequence-parallel path and its mutants (defective
variants the gate self-test must catch). No torch import: the launcher lists and validates
names before any rank starts.

The C++ side keeps the same catalogue (harness/ring/ring_variants.cpp) for `attn-harness
backends` and the ring self-test; the ctest ring_cli checks that the two agree.
"""
from collections import namedtuple

Variant = namedtuple("Variant", "name defect summary invisible_when")

VARIANTS = [
    Variant("ring", None,
            "TTT attention over P ranks: block 0 by key/value chunks passed around the ring and "
            "merged by their LSE, singletons merged as in the flash path, hand-written ring "
            "backward", ""),
    Variant("ring-mutant-own-lse", "own_lse",
            "the defect that shipped, inside the ring: block 0's ring backward is fed grad_out "
            "* exp(lse0 - lse) with block 0's own ring-merged out0 and lse0 instead of the "
            "merged out and lse (dq and dk0 lose the singletons' share)", "t = 0"),
    Variant("ring-mutant-chunk-own-lse", "chunk_own_lse",
            "each key/value chunk's backward is fed grad_out * exp(lse_c - lse) with that "
            "chunk's own partial out_c and lse_c (the ring merge's LSE gradient dropped)",
            "world 1 with t = 0"),
    Variant("ring-mutant-diag-skip", "diag_skip",
            "the backward's causal skip also skips the diagonal chunk (j >= r instead of "
            "j > r): no dq, dk0, dv0 from a rank's own chunk; the forward is correct", ""),
    Variant("ring-mutant-missing-rotation", "missing_rotation",
            "the backward omits the last rotation that returns the dk0/dv0 accumulators to "
            "their owners: each rank records its successor's chunk gradients", "world 1"),
]

BY_NAME = {v.name: v for v in VARIANTS}


def find(name):
    """The Variant called `name`, or None."""
    return BY_NAME.get(name)


def names():
    return [v.name for v in VARIANTS]
