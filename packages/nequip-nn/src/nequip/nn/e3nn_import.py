"""Importing e3nn without importing ``torch._dynamo``.

e3nn 0.6 decorates one function of its Wigner module (``change_basis_real_to_complex``) with
``torch.compiler.disable`` when the module loads, and that decorator imports ``torch._dynamo``
(with SymPy's solvers and much of inductor): about 1.5 s of every process start on a 2-core
machine, paid also by processes that never compile (MD from a checkpoint, the command-line
tools). :func:`import_e3nn` imports ``e3nn.o3`` with the decorator deferred: the function is
disabled for dynamo at its first call after ``torch._dynamo`` has been imported, and runs
undecorated before that, when nothing can be compiling it. ``torch.compiler.disable`` is
replaced only for the duration of that import.
"""

import functools
import sys
from typing import Callable, Optional

import torch


def _disable_at_first_call(disable: Callable, fn: Optional[Callable] = None, recursive: bool = True, **kwargs):
    """``disable(fn, recursive, **kwargs)``, applied when ``fn`` is first called with dynamo imported."""
    if fn is None:  # used as ``@torch.compiler.disable(recursive=...)``
        return functools.partial(_disable_at_first_call, disable, recursive=recursive, **kwargs)
    disabled = None

    @functools.wraps(fn)
    def call(*args, **call_kwargs):
        nonlocal disabled
        if disabled is None:
            if "torch._dynamo" not in sys.modules:
                return fn(*args, **call_kwargs)
            disabled = disable(fn, recursive, **kwargs)
        return disabled(*args, **call_kwargs)

    return call


def import_e3nn() -> None:
    """Import ``e3nn.o3`` (once per process) without importing ``torch._dynamo``; see the module docstring."""
    if "e3nn.o3" in sys.modules:
        return
    disable = torch.compiler.disable
    torch.compiler.disable = functools.partial(_disable_at_first_call, disable)
    try:
        import e3nn.o3  # noqa: F401
    finally:
        torch.compiler.disable = disable
