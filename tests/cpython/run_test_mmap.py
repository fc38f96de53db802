"""Run this interpreter's own test/test_mmap.py against safemmap.

The stdlib test file is imported in place as ``test.test_mmap`` (never copied)
after ``sys.modules["mmap"]`` has been replaced by ``safemmap``, so every
``mmap`` name in it refers to safemmap.  Before running, the script checks that
the module under test really is safemmap: its ``mmap`` type must not be the
stdlib's and must be defined by an extension module inside the safemmap
package.  ``--allow-stdlib`` relaxes that check for a stand-in that re-exports
the stdlib module (only for testing this runner itself).

Skips are allowed only for tests that need Windows; any other skip means a
feature test_mmap probes for (``hasattr(mmap, ...)``) is missing, and counts as
a failure.

Usage: python tests/cpython/run_test_mmap.py [--no-largefile] [-v] [-k PATTERN]
Exit status: 0 when every test passed, 1 otherwise.
"""
import argparse
import importlib
import importlib.machinery
import os
import sys
import sysconfig
import tempfile
import unittest


def extension_defining(package, obj):
    """The file of an extension module in `package` that holds `obj`, or None."""
    prefix = package.__name__ + "."
    for name, module in list(sys.modules.items()):
        if module is None or not (name == package.__name__ or name.startswith(prefix)):
            continue
        path = getattr(module, "__file__", None) or ""
        if path.endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES)) and \
                any(value is obj for value in vars(module).values()):
            return path
    return None


def check_module_under_test(safemmap, stdlib_mmap, allow_stdlib):
    """Raise SystemExit unless `safemmap` is the real safemmap extension."""
    problems = []
    if safemmap is stdlib_mmap:
        problems.append("'safemmap' is the stdlib mmap module itself")
    if safemmap.mmap is stdlib_mmap.mmap:
        problems.append("safemmap.mmap is the stdlib mmap.mmap type")
    path = extension_defining(safemmap, safemmap.mmap)
    def under(keys):
        dirs = [os.path.realpath(sysconfig.get_paths()[key]) for key in keys]
        return any(os.path.realpath(path).startswith(d + os.sep) for d in dirs)

    if path is None:
        problems.append("no extension module inside the safemmap package defines safemmap.mmap")
    # In a virtualenv "platstdlib" is the venv's lib/pythonX.Y, which holds
    # its site-packages: an installed wheel is not the stdlib.
    elif under(("stdlib", "platstdlib")) and not under(("purelib", "platlib")):
        problems.append("safemmap.mmap comes from the stdlib: " + path)
    print("safemmap package:  ", getattr(safemmap, "__file__", None))
    print("mmap type defined in:", path)
    if not problems:
        return
    for problem in problems:
        print("NOT SAFEMMAP:", problem, file=sys.stderr)
    if not allow_stdlib:
        raise SystemExit(2)
    print("--allow-stdlib: continuing anyway (runner self-test only)", file=sys.stderr)


def load_test_mmap(safemmap, largefile):
    """Import the stdlib's test.test_mmap with safemmap standing in for mmap."""
    sys.modules["mmap"] = safemmap
    try:
        from test import support
    except ImportError:
        raise SystemExit("this interpreter has no 'test' package (install its test suite)")
    # Outside regrtest use_resources is None, meaning "everything allowed";
    # set it explicitly so that only the resources we chose are enabled.
    support.use_resources = ["largefile"] if largefile else []
    if "test.test_mmap" in sys.modules:
        raise SystemExit("test.test_mmap was imported before mmap was replaced")
    test_mmap = importlib.import_module("test.test_mmap")
    if test_mmap.mmap is not safemmap or test_mmap.mmap.mmap is not safemmap.mmap:
        raise SystemExit("test.test_mmap did not pick up safemmap as its mmap module")
    return test_mmap


class CountingResult(unittest.TextTestResult):
    """Counts successes itself: testsRun excludes skipped tests on some versions."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.successes = []

    def addSuccess(self, test):
        super().addSuccess(test)
        self.successes.append(test)


def unexpected_skips(result):
    return [(test, why) for test, why in result.skipped if "windows" not in why.lower()]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--largefile", action=argparse.BooleanOptionalAction, default=True,
                        help="enable the 'largefile' test resource (default: on)")
    parser.add_argument("--allow-stdlib", action="store_true",
                        help="accept a safemmap stand-in that re-exports the stdlib (self-test only)")
    parser.add_argument("-k", dest="patterns", action="append",
                        help="only run tests matching this pattern (unittest -k syntax)")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)

    import mmap as stdlib_mmap  # the real one, imported before the swap
    import safemmap

    print("Python", sys.version.split()[0], "at", sys.executable)
    check_module_under_test(safemmap, stdlib_mmap, args.allow_stdlib)
    test_mmap = load_test_mmap(safemmap, args.largefile)
    print("test file:", test_mmap.__file__)

    loader = unittest.TestLoader()
    if args.patterns:  # like unittest's -k: a plain word matches any name containing it
        loader.testNamePatterns = [p if "*" in p else "*{}*".format(p) for p in args.patterns]
    suite = loader.loadTestsFromModule(test_mmap)
    previous_cwd = os.getcwd()
    with tempfile.TemporaryDirectory(prefix="safemmap-test_mmap-") as workdir:
        os.chdir(workdir)  # test_mmap writes its files (TESTFN) into the cwd
        try:
            runner = unittest.TextTestRunner(verbosity=2 if args.verbose else 1,
                                             resultclass=CountingResult)
            result = runner.run(suite)
        finally:
            os.chdir(previous_cwd)
    if sys.modules.get("mmap") is not safemmap:
        raise SystemExit("sys.modules['mmap'] was replaced while the tests ran")

    bad_skips = unexpected_skips(result)
    for test, why in bad_skips:
        print("UNEXPECTED SKIP (counted as a failure): {}: {}".format(test.id(), why))
    failed = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses) + len(bad_skips)
    skipped = len(result.skipped) - len(bad_skips)
    passed = len(result.successes)
    print("test_mmap: {} passed, {} failed, {} skipped".format(passed, failed, skipped))
    return 0 if failed == 0 and passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
