"""CPU counts: Python 3.13's on every supported version, and one for containers.

``cpu_count()``
    The logical CPUs of the system: ``os.cpu_count()``.
``process_cpu_count()``
    The CPUs the calling thread may run on (its affinity mask on Linux; the
    same as ``cpu_count()`` on macOS and Windows): Python 3.13's
    ``os.process_cpu_count()``, from which 3.13 sizes ``multiprocessing.Pool``
    and the ``concurrent.futures`` executors.
``available_cpu_count()``
    ``process_cpu_count()`` capped by the CPU quota of the process's cgroups
    (``docker run --cpus``, Kubernetes CPU limits), rounded up, and on Windows
    by the process affinity mask; at least 1. The number of workers to start
    for CPU-bound work, and the default ``workers`` of safemmap's parallel
    operations.
``default_thread_workers()``, ``default_process_workers()``
    Python 3.13's default sizes of ``ThreadPoolExecutor`` and of
    ``ProcessPoolExecutor`` / ``multiprocessing.Pool``, for code that must
    size its pools the same way on 3.9-3.12.

The override, ``PYTHON_CPU_COUNT=N`` or ``-X cpu_count=N`` (which wins;
``default`` is no override), replaces all of these counts with ``N``, as in
Python 3.13; ``-E`` and ``-I`` ignore the variable. On 3.13 and later the
interpreter's own setting is used. On 3.9-3.12 safemmap reads both when it is
imported, by 3.13's rules (3.13 reads them once, at start-up, so later changes
to ``os.environ`` do not count). A value 3.13 would refuse to start with
(``0``, ``abc``, ``-X cpu_count`` without a value) makes every function here
raise ValueError: those versions start anyway, and a silent fallback would
hide the mistake.
"""

import os
import sys

from safemmap._safemmap import (
    _available_cpu_count,
    _cpu_count,
    _parse_cpu_count,
    _process_cpu_count,
)

# concurrent.futures.process: WaitForMultipleObjects' limit of 63 handles,
# less two for the executor's own.
_MAX_WINDOWS_WORKERS = 63 - 2


def _read_override():
    """The override at import: (count or None, error message or None)."""
    config = getattr(sys, "_get_cpu_count_config", None)
    if config is not None:
        count = config()
        return (count if count > 0 else None), None
    sources = []
    variable = None if sys.flags.ignore_environment else os.environ.get("PYTHON_CPU_COUNT")
    if variable:
        sources.append(("PYTHON_CPU_COUNT", variable))
    if "cpu_count" in sys._xoptions:
        value = sys._xoptions["cpu_count"]
        sources.append(("-X cpu_count", "" if value is True else value))
    count = None
    for name, value in sources:
        try:
            count = _parse_cpu_count(value)
        except ValueError as err:
            return None, "{}: {} (Python 3.13 would refuse to start)".format(name, err)
    return count, None


_OVERRIDE, _INVALID = _read_override()


def _override():
    if _INVALID is not None:
        raise ValueError(_INVALID)
    return _OVERRIDE


def cpu_count():
    """Return the number of logical CPUs in the system, or None if unknown.

    Python 3.13's os.cpu_count(), with its PYTHON_CPU_COUNT and -X cpu_count
    override, on every version.
    """
    return _cpu_count(_override())


def process_cpu_count():
    """Return the number of CPUs the calling thread may run on, or None.

    Python 3.13's os.process_cpu_count(): the thread's affinity mask on
    Linux, cpu_count() elsewhere; the override replaces it.
    """
    return _process_cpu_count(_override())


def available_cpu_count():
    """Return how many workers CPU-bound work should use (at least 1).

    process_cpu_count(), capped by the CPU quota of the process's cgroups
    (rounded up) and on Windows by the process affinity mask. The override
    replaces it. safemmap's parallel operations default to this many workers.
    """
    return _available_cpu_count(_override())


def default_thread_workers():
    """Return Python 3.13's default max_workers of ThreadPoolExecutor.

    min(32, (process_cpu_count() or 1) + 4).
    """
    return min(32, (process_cpu_count() or 1) + 4)


def default_process_workers():
    """Return Python 3.13's default number of worker processes.

    process_cpu_count() or 1, as for ProcessPoolExecutor and
    multiprocessing.Pool, capped at 61 on Windows as ProcessPoolExecutor
    caps it (Pool does not).
    """
    workers = process_cpu_count() or 1
    if sys.platform == "win32":
        return min(workers, _MAX_WINDOWS_WORKERS)
    return workers
