"""Memory-mapped files that never kill the process.

A drop-in for CPython's ``mmap`` module (``import safemmap as mmap``) on
Python 3.9-3.15, behaving as the running version's (3.13's on older ones),
whose accesses raise OSError where the stdlib's would die of SIGBUS or
SIGSEGV. For code that imports ``mmap`` itself: ``safemmap.install()``, or
``python -m safemmap run script.py``.
"""

import faulthandler as _faulthandler
import functools as _functools
import sys as _sys
import warnings as _warnings

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



class InstallWarning(RuntimeWarning):
    """install() found modules holding the stdlib's mmap already: their maps
    stay unprotected."""


# The stdlib module install() took out of sys.modules, for uninstall().
_displaced_mmap = None


def _holders_of(stdlib_mmap):
    """The names of the modules whose globals hold the stdlib's ``mmap``
    module or its ``mmap`` type (``import mmap``, ``from mmap import mmap``)."""
    held = (stdlib_mmap, getattr(stdlib_mmap, "mmap", None))
    return tuple(
        sorted(
            name
            for name, module in list(_sys.modules.items())
            if name != "mmap"
            # Not every entry is a module with a namespace (None, stand-ins).
            and any(
                value is thing
                for value in list((getattr(module, "__dict__", None) or {}).values())
                for thing in held
            )
        )
    )


def install():
    """Makes ``import mmap`` give safemmap, in every module, from now on.

    Modules that imported the stdlib's ``mmap`` before (``import mmap``, or
    ``from mmap import mmap``) keep the object they got: their maps stay
    unprotected. install() names them: it returns their names (an empty
    tuple when there are none) and, when there are any, warns with
    InstallWarning, since the swap then only half happened
    (``warnings.simplefilter("error", safemmap.InstallWarning)`` before
    the call makes that an exception, raised once the swap is done).
    Calling it again changes nothing.
    """
    global _displaced_mmap
    this = _sys.modules[__name__]
    current = _sys.modules.get("mmap")
    if current is this:
        return ()
    holders = _holders_of(current) if current is not None else ()
    _displaced_mmap = current
    _sys.modules["mmap"] = this
    if holders:
        _warnings.warn(
            "the stdlib's mmap was imported before safemmap.install(), and these "
            "modules keep it (their maps are not protected): " + ", ".join(holders),
            InstallWarning,
            stacklevel=2,
        )
    return holders


def uninstall():
    """Undoes install(): ``import mmap`` gives the stdlib's module again.
    Modules that imported it meanwhile keep safemmap."""
    global _displaced_mmap
    if _sys.modules.get("mmap") is not _sys.modules[__name__]:
        return
    if _displaced_mmap is None:
        del _sys.modules["mmap"]
    else:
        _sys.modules["mmap"] = _displaced_mmap
        _displaced_mmap = None
