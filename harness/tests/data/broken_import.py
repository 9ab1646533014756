"""A user module that fails on import (python_function_test.sh)."""
import a_module_that_does_not_exist  # noqa: F401


def f(q, k, v, valid_len, scale):
    return q
