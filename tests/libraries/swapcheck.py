"""A pytest plugin for running a library's own tests with safemmap swapped
in (``python -m safemmap run -m pytest -p swapcheck --swap-check=PACKAGE``):
fails the run unless ``import mmap`` gave safemmap before the tests started
and, after them, the package's modules reached mmap through safemmap only.
"""
import sys
import types

import pytest

import safemmap


# The lines the summary prints, one per package checked.
REPORT = []


def pytest_addoption(parser):
    parser.addoption("--swap-check", action="append", default=[], metavar="PACKAGE",
                     help="a package whose modules must hold safemmap, never the stdlib's mmap")


def pytest_sessionstart(session):
    import mmap

    if mmap is not safemmap or mmap.mmap is not safemmap.mmap:
        pytest.exit("import mmap does not give safemmap: run under 'python -m safemmap run'",
                    returncode=3)


def mmap_objects(module):
    """The (name, value) globals of `module` that are an mmap module or type."""
    for name, value in list(vars(module).items()):
        if isinstance(value, types.ModuleType) and value.__name__ in ("mmap", "safemmap"):
            yield name, value
        elif isinstance(value, type) and value.__name__ == "mmap" and \
                value.__module__ in ("mmap", "safemmap"):
            yield name, value


def swap_report(package):
    """(holders of safemmap, holders of anything else) among `package`'s modules."""
    ours, others = [], []
    for module_name, module in sorted(sys.modules.items()):
        if module is None or not (module_name == package or module_name.startswith(package + ".")):
            continue
        for name, value in mmap_objects(module):
            held = "{}.{}".format(module_name, name)
            (ours if value in (safemmap, safemmap.mmap) else others).append(held)
    return ours, others


def pytest_sessionfinish(session, exitstatus):
    for package in session.config.getoption("swap_check"):
        ours, others = swap_report(package)
        if others or not ours:
            REPORT.append("swapcheck FAILED for {}: holds safemmap: {}; holds another mmap: {}"
                          .format(package, ours or "nothing", others or "nothing"))
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
        else:
            REPORT.append("swapcheck: {} reaches mmap through safemmap only ({})"
                          .format(package, ", ".join(ours)))


def pytest_terminal_summary(terminalreporter):
    for line in REPORT:
        terminalreporter.write_line(line, red="FAILED" in line)
