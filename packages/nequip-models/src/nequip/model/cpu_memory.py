"""Keep memory that PyTorch frees on the CPU inside the process, for repeated force calls.

glibc's ``malloc`` serves large requests (from a threshold that adapts up to 32 MiB) with
fresh ``mmap`` pages and hands them back to the kernel on ``free``; it also trims the top
of its heap when more than a threshold is free there. A force call on a system of a
thousand atoms or more allocates hundreds of megabytes of such per-edge buffers (most of
all a compiled or exported model, which keeps whole per-edge arrays instead of cache-sized
slices), so every molecular-dynamics step page-faults them in again and the kernel zeroes
every page: for a compiled model of a thousand atoms or more, that system time is a large
share of the step, and the time per atom grows with the system size. With freed memory
kept, the page faults stop after the first steps (figures in ``docs/benchmarks.md``).

:func:`retain_freed_memory` sets glibc's ``M_MMAP_MAX`` to 0 (large blocks come from the
heap too) and ``M_TRIM_THRESHOLD`` to its maximum (the heap is never trimmed), through
``mallopt``. This is what ``MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=...`` in the
environment would do, applied at run time. It affects the whole process and cannot be
undone: the process keeps its peak memory until it exits, which is what a simulation,
whose every step reaches the same peak, wants. :class:`nequip.integrations.ase.NequIPCalculator`
calls it for models on the CPU (``retain_freed_memory=True``, the default).
"""

import ctypes
import ctypes.util
import platform
import sys

# mallopt parameters of glibc's <malloc.h>
_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4

_retained = False


def retain_freed_memory() -> bool:
    """Make glibc keep freed memory in the process (see the module docstring); idempotent.

    Returns:
        ``True`` when the settings are in effect, ``False`` where they cannot be applied (a
        C library other than glibc: macOS, Windows, musl), in which case nothing changed.
    """
    global _retained
    if _retained:
        return True
    if not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc":
        return False
    try:
        mallopt = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    # a trim threshold of -1 is SIZE_MAX inside glibc (the int is converted to size_t): never trim
    _retained = mallopt(_M_MMAP_MAX, 0) == 1 and mallopt(_M_TRIM_THRESHOLD, -1) == 1
    return _retained
