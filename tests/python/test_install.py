"""safemmap.install() and ``python -m safemmap run``: safemmap for code
that imports ``mmap`` itself. Each case runs in a fresh interpreter, since
the swap is for the whole process."""
import subprocess
import sys
import textwrap

import pytest

from conftest import STANDIN

pytestmark = pytest.mark.skipif(STANDIN, reason="safemmap is a stdlib stand-in")

# A program that maps a file, cuts the file under the map and reads past
# the cut through whatever `import mmap` gives it.
TRUNCATE_THEN_READ = """\
import mmap, os, sys, tempfile
fd, path = tempfile.mkstemp()
os.unlink(path)
os.write(fd, b"x" * (1 << 20))
m = mmap.mmap(fd, 0)
os.ftruncate(fd, 4096)
try:
    m[500000]
except OSError as err:
    print("OSError", err.errno, "args", sys.argv[1:], "module", mmap.__name__)
"""


def python(*args, cwd=None):
    return subprocess.run([sys.executable, *args], capture_output=True, text=True,
                          timeout=60, cwd=cwd)


def run_code(code):
    child = python("-W", "error", "-c", textwrap.dedent(code))
    assert child.returncode == 0, child.stderr
    return child.stdout


def test_install_before_any_import_of_mmap_swaps_every_later_one():
    out = run_code("""
        import sys, safemmap
        assert "mmap" not in sys.modules
        print(safemmap.install())
        import mmap
        from mmap import mmap as the_type, ACCESS_READ
        print(mmap is safemmap, the_type is safemmap.mmap, ACCESS_READ == safemmap.ACCESS_READ)
        print(safemmap.install())
    """)
    assert out.split("\n")[:3] == ["()", "True True True", "()"]


def test_install_names_the_modules_that_keep_the_stdlib_mmap():
    out = run_code("""
        import sys, types, warnings
        import mmap as stdlib
        holder = types.ModuleType("holder"); holder.mmap = stdlib
        copier = types.ModuleType("copier"); copier.the_map = stdlib.mmap
        sys.modules.update(holder=holder, copier=copier, blocked=None, plain=object())
        import safemmap
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            held = safemmap.install()
        print(held)
        print([(w.category.__name__, str(w.message)) for w in caught])
        import mmap
        print(mmap is safemmap, holder.mmap is stdlib, copier.the_map is stdlib.mmap)
    """)
    held, warned, swapped = out.splitlines()
    assert eval(held) == ("__main__", "copier", "holder")
    assert eval(warned) == [(
        "InstallWarning",
        "the stdlib's mmap was imported before safemmap.install(), and these modules "
        "keep it (their maps are not protected): __main__, copier, holder")]
    assert swapped == "True True True"


def test_install_warning_can_be_made_an_error():
    child = python("-c", "import mmap, safemmap, sys, warnings\n"
                   "warnings.simplefilter('error', safemmap.InstallWarning)\n"
                   "try:\n    safemmap.install()\nexcept safemmap.InstallWarning:\n"
                   "    print(sys.modules['mmap'] is safemmap)")
    assert child.returncode == 0, child.stderr
    assert child.stdout == "True\n"  # raised after the swap: what can be swapped is


def test_install_is_quiet_when_the_stdlib_module_is_only_in_sys_modules():
    out = run_code("""
        import importlib, sys, safemmap
        importlib.import_module("mmap")  # nobody keeps a name for it
        print(safemmap.install(), sys.modules["mmap"] is safemmap)
    """)
    assert out == "() True\n"


def test_uninstall_brings_back_the_displaced_stdlib_module():
    out = run_code("""
        import sys, importlib, safemmap
        stdlib = id(importlib.import_module("mmap"))  # in no module's globals
        safemmap.install()
        import mmap as during
        safemmap.uninstall()
        import mmap as after
        print(during is safemmap, id(after) == stdlib)
        safemmap.uninstall()  # not installed: nothing to do
        print(id(sys.modules["mmap"]) == stdlib)
    """)
    assert out == "True True\nTrue\n"


def test_uninstall_without_a_displaced_module_lets_import_load_the_stdlib():
    out = run_code("""
        import sys, safemmap
        safemmap.install()
        safemmap.uninstall()
        print("mmap" in sys.modules)
        import mmap
        print(mmap is safemmap, mmap.__name__)
    """)
    assert out == "False\nFalse mmap\n"


def test_run_script_turns_a_crash_of_plain_import_mmap_into_oserror(tmp_path):
    script = tmp_path / "truncate.py"
    script.write_text(TRUNCATE_THEN_READ)
    plain = python(str(script))
    assert plain.returncode < 0  # SIGBUS: the stdlib's map kills it
    swapped = python("-m", "safemmap", "run", str(script), "one", "two")
    assert swapped.returncode == 0, swapped.stderr
    assert swapped.stdout == "OSError 5 args ['one', 'two'] module safemmap\n"


def test_run_script_runs_it_as_python_would(tmp_path):
    (tmp_path / "helper.py").write_text("VALUE = 42\n")
    script = tmp_path / "main.py"
    script.write_text("import sys, helper\nprint(__name__, sys.argv, helper.VALUE)\n"
                      "raise SystemExit(3)\n")
    child = python("-m", "safemmap", "run", str(script), "--flag")
    assert child.returncode == 3, child.stderr
    assert child.stdout == "__main__ [{!r}, '--flag'] 42\n".format(str(script))


def test_run_module(tmp_path):
    (tmp_path / "truncating.py").write_text(TRUNCATE_THEN_READ)
    child = python("-m", "safemmap", "run", "-m", "truncating", "x", cwd=tmp_path)
    assert child.returncode == 0, child.stderr
    assert child.stdout == "OSError 5 args ['x'] module safemmap\n"


@pytest.mark.parametrize("args", [["run"], ["run", "-m"], ["run", "-x"], ["tour"]])
def test_bad_arguments_print_the_usage(args):
    child = python("-m", "safemmap", *args)
    assert child.returncode == 1
    assert child.stderr.startswith("usage: python -m safemmap")
