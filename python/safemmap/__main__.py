"""``python -m safemmap``: a short tour of safemmap, computed live on this
machine. ``python -m safemmap run script.py [args]`` (or ``run -m module
[args]``): runs a program with ``import mmap`` giving safemmap
(``safemmap.install()`` first, then the program as ``python`` would run it).
"""

import os
import runpy
import signal
import subprocess
import sys
import tempfile
import textwrap

import safemmap

# A child process maps a file, truncates it under the map, then touches it.
TRUNCATE_THEN_TOUCH = textwrap.dedent(
    """
    import os, sys, tempfile
    import {module} as mmap
    fd, path = tempfile.mkstemp()
    os.unlink(path)
    os.write(fd, b"x" * (1 << 20))
    m = mmap.mmap(fd, 0)
    os.ftruncate(fd, 4096)
    try:
        print("m[500000] =", m[500000])
    except OSError as err:
        print("OSError:", err)
    """
)


def heading(title):
    print(f"\n== {title}")


def show(expression, namespace):
    """Prints an expression and what it gave: its value or its exception."""
    try:
        result = repr(eval(expression, namespace))
    except (OSError, ValueError) as err:
        result = f"{type(err).__name__}: {err}"
    print(f"   {expression:<44} -> {result}")


def tour_basics(path):
    heading("A drop-in for mmap: import safemmap as mmap")
    with open(path, "r+b") as f, safemmap.mmap(f.fileno(), 0) as m:
        names = {"m": m, "mmap": safemmap}
        for expression in (
            "len(m), m.size()",
            "m.readline()",
            "m.find(b'needle')",
            "m[m.find(b'needle'):][:12]",
            "m.rfind(b'line')",
            "m[0], m[-1]",
            "m[:4], m[::-1][:5]",
        ):
            show(expression, names)
        m[0:4] = b"LINE"
        print(f"   after m[0:4] = b'LINE', the file starts with {open(path, 'rb').read(10)!r}")


def tour_313(path):
    heading(f"Python 3.13's mmap features, here on Python {sys.version.split()[0]}")
    with open(path, "r+b") as f:
        m = safemmap.mmap(f.fileno(), 0)
        names = {"m": m, "mmap": safemmap}
        show("m.seekable()", names)
        show("m.seek(10)", names)
        show("m.seek(5, os.SEEK_CUR)", dict(names, os=os))
        show("m.seek(-1, os.SEEK_END)", dict(names, os=os))
        m.close()
        untracked = safemmap.mmap(f.fileno(), 0, trackfd=False)
        print("   untracked = mmap(fd, 0, trackfd=False): no descriptor is duplicated, so")
        names = {"untracked": untracked}
        show("untracked.size()", names)
        show("untracked.resize(10)", names)
        untracked.close()


def tour_counts(path):
    heading("Counting and workers: CPU counts as Python 3.13 defines them, and container quotas")
    names = {"safemmap": safemmap}
    for expression in (
        "safemmap.cpu_count(), safemmap.process_cpu_count()",
        "safemmap.available_cpu_count()",
        "safemmap.default_thread_workers(), safemmap.default_process_workers()",
    ):
        show(expression, names)
    with open(path, "r+b") as f, safemmap.mmap(f.fileno(), 0) as m:
        names = {"m": m}
        show("m.count(b'\\n')", names)
        show("m.count(b'line', 0, 100, workers=1)", names)
        buffer = bytearray(8)
        m.seek(0)
        show("(m.readinto(buffer), bytes(buffer))", dict(names, buffer=buffer))


def run_child(module):
    child = subprocess.run(
        [sys.executable, "-c", TRUNCATE_THEN_TOUCH.format(module=module)],
        capture_output=True,
        text=True,
    )
    if child.returncode < 0:
        return f"the process died of {signal.Signals(-child.returncode).name}"
    output = (child.stdout + child.stderr).strip().splitlines()
    return f"exit status {child.returncode}: {output[-1] if output else '(no output)'}"


def tour_crash_protection():
    heading("Crash protection: a 1 MiB file truncated to 4 KiB under the map, then m[500000]")
    for module, imported in (("mmap", "import mmap"), ("safemmap", "import safemmap as mmap")):
        print(f"   {imported + '; m[500000]':<44} -> {run_child(module)}")


USAGE = "usage: python -m safemmap [run script.py [args] | run -m module [args]]"


def run(argv):
    """Runs a script or module as ``__main__`` (as ``python script.py``
    or ``python -m module`` would) after ``safemmap.install()``."""
    if argv[:1] == ["-m"] and len(argv) >= 2:
        module, args = argv[1], argv[2:]
        safemmap.install()
        sys.argv = [module] + args  # run_module puts the file's path in argv[0]
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    elif argv and not argv[0].startswith("-"):
        script, args = argv[0], argv[1:]
        safemmap.install()
        sys.argv = [script] + args
        sys.path[0] = os.path.dirname(os.path.abspath(script))
        runpy.run_path(script, run_name="__main__")
    else:
        raise SystemExit(USAGE)


def main(argv):
    if argv[:1] == ["run"]:
        return run(argv[1:])
    if argv:
        raise SystemExit(USAGE)
    tour()


def tour():
    print(f"safemmap {getattr(safemmap, '__version__', '')} on Python {sys.version.split()[0]}")
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "tour.txt")
        with open(path, "wb") as f:
            f.write(b"".join(b"line %d\n" % i for i in range(1000)))
            f.write(b"a needle in the haystack\n")
        tour_basics(path)
        tour_313(path)
        tour_counts(path)
    tour_crash_protection()


if __name__ == "__main__":
    main(sys.argv[1:])
