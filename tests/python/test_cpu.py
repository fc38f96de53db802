"""CPU counts: Python 3.13's os.cpu_count()/os.process_cpu_count() with the
PYTHON_CPU_COUNT and -X cpu_count override on every version, the affinity
mask per thread, and the 3.13 pool defaults. Overrides and taskset run in
fresh interpreters; on 3.13 each result is compared with the interpreter's
own. Cgroup quotas are tested in Rust (crates/safemmap/tests/cpu.rs)."""
import json
import os
import shutil
import subprocess
import sys
import threading

import pytest

import safemmap

PY313 = sys.version_info >= (3, 13)
linux = pytest.mark.skipif(sys.platform != "linux", reason="affinity masks are Linux's")
needs_taskset = pytest.mark.skipif(shutil.which("taskset") is None, reason="no taskset")

# What a child prints: safemmap's counts (or the ValueError it raised), and
# the stdlib's, with the executors' default sizes.
REPORT = """
import concurrent.futures, json, os, safemmap

def attempt(function):
    try:
        return function()
    except ValueError as err:
        return "ValueError: {}".format(err)

print(json.dumps({
    "cpu": attempt(safemmap.cpu_count),
    "process": attempt(safemmap.process_cpu_count),
    "available": attempt(safemmap.available_cpu_count),
    "threads": attempt(safemmap.default_thread_workers),
    "processes": attempt(safemmap.default_process_workers),
    "os_cpu": os.cpu_count(),
    "os_process": os.process_cpu_count() if hasattr(os, "process_cpu_count") else None,
    "affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
    "thread_pool": concurrent.futures.ThreadPoolExecutor()._max_workers,
    "process_pool": concurrent.futures.ProcessPoolExecutor()._max_workers,
}))
"""


def run(*options, env=None, wrapper=()):
    """Runs REPORT in a fresh interpreter; env holds PYTHON_CPU_COUNT or
    not. Returns the CompletedProcess, with .report when it printed one."""
    environ = {k: v for k, v in os.environ.items()
               if k not in ("PYTHON_CPU_COUNT", "PYTHONFAULTHANDLER")}
    if env is not None:
        environ["PYTHON_CPU_COUNT"] = env
    done = subprocess.run([*wrapper, sys.executable, *options, "-c", REPORT],
                          capture_output=True, text=True, env=environ, timeout=60)
    done.report = json.loads(done.stdout) if done.returncode == 0 else None
    return done


def report(*options, env=None, wrapper=()):
    done = run(*options, env=env, wrapper=wrapper)
    assert done.returncode == 0, done.stderr
    return done.report


def check_313_defaults(counts):
    """The pool defaults follow process_cpu_count as in 3.13, and on 3.13
    every count is the interpreter's own."""
    process = counts["process"]
    assert counts["threads"] == min(32, process + 4)
    assert counts["processes"] == (min(process, 61) if sys.platform == "win32" else process)
    if PY313:
        assert counts["cpu"] == counts["os_cpu"]
        assert counts["process"] == counts["os_process"]
        assert counts["threads"] == counts["thread_pool"]
        assert counts["processes"] == counts["process_pool"]


def test_without_an_override():
    counts = report()
    assert counts["cpu"] == counts["os_cpu"]
    if counts["affinity"] is not None:
        assert counts["process"] == counts["affinity"]
    else:
        assert counts["process"] == counts["cpu"]
    assert 1 <= counts["available"] <= counts["process"]
    check_313_defaults(counts)


def test_types_in_process():
    if safemmap._cpu._OVERRIDE is not None or safemmap._cpu._INVALID is not None:
        pytest.skip("the test runner has a CPU count override")
    for function in (safemmap.cpu_count, safemmap.process_cpu_count, safemmap.available_cpu_count,
                     safemmap.default_thread_workers, safemmap.default_process_workers):
        assert type(function()) is int, function
    assert safemmap.cpu_count() == os.cpu_count()


@linux
@needs_taskset
def test_taskset_restricts_the_process_count_not_the_system_count():
    counts = report(wrapper=("taskset", "-c", "0"))
    assert (counts["process"], counts["available"], counts["affinity"]) == (1, 1, 1)
    assert counts["cpu"] == counts["os_cpu"] == os.cpu_count()
    assert (counts["threads"], counts["processes"]) == (5, 1)
    check_313_defaults(counts)


@linux
@needs_taskset
def test_the_override_skips_the_affinity_mask():
    counts = report(env="5", wrapper=("taskset", "-c", "0"))
    assert (counts["cpu"], counts["process"], counts["available"]) == (5, 5, 5)
    check_313_defaults(counts)


@linux
def test_a_thread_that_restricts_itself_sees_fewer_cpus():
    if safemmap._cpu._OVERRIDE is not None:
        pytest.skip("the test runner has a CPU count override")
    everything = os.sched_getaffinity(0)
    seen = {}

    def restricted():
        os.sched_setaffinity(0, {min(everything)})
        try:
            seen["process"] = safemmap.process_cpu_count()
            seen["available"] = safemmap.available_cpu_count()
            seen["cpu"] = safemmap.cpu_count()
            if PY313:
                seen["os_process"] = os.process_cpu_count()
        finally:
            os.sched_setaffinity(0, everything)
        seen["restored"] = safemmap.process_cpu_count()

    thread = threading.Thread(target=restricted)
    thread.start()
    thread.join()
    assert (seen["process"], seen["available"]) == (1, 1)
    assert seen["cpu"] == os.cpu_count()
    assert seen["restored"] == len(everything)
    if PY313:
        assert seen["os_process"] == 1
    assert safemmap.process_cpu_count() == len(os.sched_getaffinity(0)) == len(everything)


@pytest.mark.parametrize("options,env,expected", [
    ((), "5", 5),
    ((), "300", 300),             # may exceed the hardware
    ((), " +04", 4),              # strtol's leading space and sign
    ((), "\t\n64", 64),
    ((), "default", None),
    ((), "", None),               # an empty variable is unset
    (("-X", "cpu_count=3"), None, 3),
    (("-X", "cpu_count=3"), "5", 3),          # -X wins over the variable
    (("-X", "cpu_count=3"), "default", 3),
    (("-X", "cpu_count=default"), "5", None),  # even with 'default'
    (("-X", "cpu_count=default"), None, None),
    (("-X", "cpu_count= 7"), None, 7),
    (("-E",), "5", None),                      # -E and -I ignore the variable
    (("-I",), "5", None),
    (("-E", "-X", "cpu_count=3"), "5", 3),     # but not -X
    (("-E",), "abc", None),
])
def test_overrides(options, env, expected):
    counts = report(*options, env=env)
    if expected is None:
        assert counts["cpu"] == counts["os_cpu"] == os.cpu_count()
        plain = report()
        assert (counts["process"], counts["available"]) == (plain["process"], plain["available"])
    else:
        assert (counts["cpu"], counts["process"], counts["available"]) == (expected,) * 3
        assert counts["threads"] == min(32, expected + 4)
    check_313_defaults(counts)


INVALID = ["0", "-1", "-0", "abc", "4 ", "0x4", "1_0", "4.0", "2147483648", "Default", " ", "+"]


@pytest.mark.parametrize("options,env,source", [
    *[((), value, "PYTHON_CPU_COUNT") for value in INVALID],
    *[(("-X", "cpu_count=" + value), None, "-X cpu_count") for value in INVALID + [""]],
    (("-X", "cpu_count"), None, "-X cpu_count"),
    (("-X", "cpu_count=3"), "abc", "PYTHON_CPU_COUNT"),   # 3.13 checks both
    (("-X", "cpu_count=abc"), "3", "-X cpu_count"),
])
def test_invalid_overrides(options, env, source):
    done = run(*options, env=env)
    if PY313:
        # The interpreter refuses to start.
        assert done.returncode != 0
        assert "cpu_count=n option: n is missing or an invalid number" in done.stderr
        return
    # Older interpreters start: safemmap imports, and every count raises.
    assert done.returncode == 0, done.stderr
    value = env if source == "PYTHON_CPU_COUNT" else options[1].partition("=")[2]
    message = ('ValueError: {}: invalid CPU count {}: expected "default" or an integer '
               'from 1 to 2147483647 (Python 3.13 would refuse to start)')
    message = message.format(source, json.dumps(value))
    for name in ("cpu", "process", "available", "threads", "processes"):
        assert done.report[name] == message, name


def test_public_functions_are_documented():
    for name in ("cpu_count", "process_cpu_count", "available_cpu_count",
                 "default_thread_workers", "default_process_workers"):
        assert getattr(safemmap, name).__doc__, name
