"""Memory-mapped files that never kill the process.

A drop-in for CPython's ``mmap`` module (``import safemmap as mmap``) on
Python 3.9-3.15, behaving as the running version's (3.13's on older ones),
whose accesses raise OSError where the stdlib's would die of SIGBUS or
SIGSEGV.
"""

import faulthandler as _faulthandler
import functools as _functools

from safemmap._safemmap import *  # noqa: F401,F403
from safemmap._safemmap import __version__, error, mmap  # noqa: F401
from safemmap._safemmap import (
    _forget_displaced_handler,
    _install_fault_handler,
    _set_default_workers,
)
from safemmap._cpu import (  # noqa: F401
    available_cpu_count,
    cpu_count,
    default_process_workers,
    default_thread_workers,
    process_cpu_count,
)


def _keep_on_top(enable):
    """Wraps faulthandler.enable: it installs its own SIGBUS/SIGSEGV handler
    over ours, which would kill the process on faults we can recover from.
    After it runs, ours goes back on top and chains to it for every fault
    that is not ours, so crashes still print faulthandler's traceback."""

    @_functools.wraps(enable)
    def enable_then_reinstall(*args, **kwargs):
        result = enable(*args, **kwargs)
        _install_fault_handler()
        return result

    enable_then_reinstall._safemmap_wrapped = True
    return enable_then_reinstall


def _forget_on_disable(disable):
    """Wraps faulthandler.disable: it puts back the handler it displaced
    (ours, or the default action if it came first), so ours must stop
    chaining to it (a crash would print a traceback after all) and, if it
    was gone, come back on top (our faults would kill the process)."""

    @_functools.wraps(disable)
    def disable_then_forget(*args, **kwargs):
        enabled = _faulthandler.is_enabled()
        result = disable(*args, **kwargs)
        if enabled:
            _forget_displaced_handler()
        return result

    disable_then_forget._safemmap_wrapped = True
    return disable_then_forget


if not getattr(_faulthandler.enable, "_safemmap_wrapped", False):
    _faulthandler.enable = _keep_on_top(_faulthandler.enable)
if not getattr(_faulthandler.disable, "_safemmap_wrapped", False):
    _faulthandler.disable = _forget_on_disable(_faulthandler.disable)

# Parallel scans (find, rfind, count) default to this many workers.
try:
    _set_default_workers(available_cpu_count())
except ValueError:  # an invalid CPU count override: scans use the core's count
    pass

