"""Shared fixtures for the safemmap Python tests.

Run with the module under test importable as ``safemmap`` (an installed
wheel, or PYTHONPATH pointing at a stand-in that re-exports the stdlib).
"""
import mmap as std_mmap
import os
import subprocess
import sys
import textwrap

import pytest

import safemmap

# True while safemmap is only a stand-in that re-exports the stdlib module.
# Tests of deliberate deviations from CPython 3.13 are skipped then: the
# stdlib would crash or give the CPython answer.
STANDIN = safemmap.mmap is std_mmap.mmap


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "deviation: safemmap deliberately differs from CPython 3.13 here")


def pytest_collection_modifyitems(config, items):
    if not STANDIN or os.environ.get("SAFEMMAP_RUN_DEVIATIONS"):
        return
    skip = pytest.mark.skip(reason="deviation from CPython; safemmap is only a stdlib stand-in")
    for item in items:
        if "deviation" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def make_file(tmp_path):
    """make_file(data=b'0123456789', mode='r+b') -> an open file holding data."""
    opened = []

    def factory(data=b"0123456789", mode="r+b"):
        path = tmp_path / "f{}".format(len(opened))
        path.write_bytes(data)
        f = open(path, mode)
        opened.append(f)
        return f

    yield factory
    for f in opened:
        f.close()


@pytest.fixture
def run_py():
    """run_py(code) runs code in a fresh interpreter that imports safemmap the
    same way as this one, and returns the CompletedProcess (text output)."""

    def run(code, timeout=60):
        env = dict(os.environ)
        env.pop("PYTHONFAULTHANDLER", None)
        return subprocess.run([sys.executable, "-c", textwrap.dedent(code)],
                              capture_output=True, text=True, env=env, timeout=timeout)

    return run
