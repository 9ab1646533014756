"""attn-harness for Python users: read a case's inputs as torch tensors, record a producer's
outputs into a case folder, and (attn_harness.testing) gate your own attention function from
pytest. The C++ tool `attn-harness` does the judging; this package only reads and writes the
case format (docs/case-format.md).
"""
from .case import (InputError, input_hash, read_inputs, record_outputs, write_inputs)

__all__ = ["InputError", "input_hash", "read_inputs", "record_outputs", "write_inputs"]
