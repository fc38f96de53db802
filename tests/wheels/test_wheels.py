"""Checks every wheel scripts/wheels.sh built (in $SAFEMMAP_WHEELS, default
dist/): its tags, its contents, and the extension module inside, whose
format, machine, exports and imports must suit the wheel's platform. Linux
wheels must pass `auditwheel show` for the manylinux policy they claim.
"""
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from binaries import elf_machine, macho_image, macho_slices, pe_image

ROOT = Path(__file__).resolve().parents[2]
WHEELS = sorted(Path(os.environ.get("SAFEMMAP_WHEELS", ROOT / "dist")).glob("safemmap-*.whl"))
PACKAGE_FILES = subprocess.run(
    ["git", "ls-files", "python/safemmap"], cwd=ROOT, capture_output=True, text=True, check=True
).stdout.split()
# name-version-python-abi-platform.whl; each tag part may be a dotted set.
WHEEL_NAME = re.compile(r"safemmap-(?P<version>[^-]+)-(?P<python>[^-]+)-(?P<abi>[^-]+)-(?P<platform>[^-]+)\.whl")


def test_wheels_were_built():
    assert WHEELS, "no wheels found: run scripts/wheels.sh first"


def parts(wheel):
    match = WHEEL_NAME.fullmatch(wheel.name)
    assert match, wheel.name
    return match


def extension(archive):
    """The name and bytes of the one extension module in the wheel."""
    modules = [n for n in archive.namelist() if re.fullmatch(r"safemmap/_safemmap\..*\.(so|pyd)", n)]
    assert len(modules) == 1, modules
    return modules[0], archive.read(modules[0])


@pytest.fixture(params=WHEELS, ids=[w.name for w in WHEELS])
def wheel(request):
    return request.param


def test_tags_match_the_wheel_file(wheel):
    name = parts(wheel)
    expected = {
        f"{python}-{abi}-{platform}"
        for python in name["python"].split(".")
        for abi in name["abi"].split(".")
        for platform in name["platform"].split(".")
    }
    with zipfile.ZipFile(wheel) as archive:
        metadata = archive.read(f"safemmap-{name['version']}.dist-info/WHEEL").decode()
    assert set(re.findall(r"^Tag: (\S+)$", metadata, re.M)) == expected
    assert re.search(r"^Root-Is-Purelib: false$", metadata, re.M)
    assert re.fullmatch(r"cp3\d+", name["python"]) and name["abi"] == name["python"]


def test_package_files_and_stubs_are_inside(wheel):
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        for path in PACKAGE_FILES:
            inside = path.removeprefix("python/")
            assert inside in names, f"{inside} missing"
            assert archive.read(inside) == (ROOT / path).read_bytes(), f"{inside} differs"
    assert {"safemmap/py.typed", "safemmap/__init__.pyi", "safemmap/__init__.py"} <= names


def test_extension_suits_the_platform(wheel):
    name = parts(wheel)
    version = name["python"][2:]
    platform = name["platform"]
    with zipfile.ZipFile(wheel) as archive:
        module, data = extension(archive)
    if "linux" in platform:
        arch = re.search(r"(x86_64|aarch64)$", platform).group(1)
        assert module == f"safemmap/_safemmap.cpython-{version}-{arch}-linux-gnu.so"
        assert elf_machine(data) == arch
    elif platform.startswith("macosx"):
        assert module == f"safemmap/_safemmap.cpython-{version}-darwin.so"
        slices = macho_slices(data)
        expected = {"x86_64", "arm64"} if "universal2" in platform else {platform.rsplit("_", 1)[-1]}
        assert set(slices) == expected
        for image in slices.values():
            dylibs, exported, undefined = macho_image(image)
            assert "_PyInit__safemmap" in exported
            assert not any("python" in lib.lower() for lib in dylibs), dylibs
            assert "/usr/lib/libSystem.B.dylib" in dylibs
            # The interpreter's functions are looked up in the loading
            # process (-undefined dynamic_lookup), not in a library named at
            # link time.
            python_symbols = {n: o for n, o in undefined.items() if re.match("__?Py", n)}
            assert python_symbols and set(python_symbols.values()) == {-2}, python_symbols
    elif platform == "win_amd64":
        assert module == f"safemmap/_safemmap.cp{version}-win_amd64.pyd"
        machine, imported, exported = pe_image(data)
        assert machine == "x86_64"
        assert "PyInit__safemmap" in exported
        # Its own version's DLL, not the stable ABI's python3.dll.
        pythons = {dll.lower() for dll in imported if re.fullmatch(r"(?i)python3\d*\.dll", dll)}
        assert pythons == {f"python{version}.dll"}, imported
    else:
        pytest.fail(f"no check for platform {platform}")


def test_linux_wheels_pass_auditwheel(wheel):
    platform = parts(wheel)["platform"]
    if "linux" not in platform:
        pytest.skip("auditwheel checks Linux wheels only")
    shown = subprocess.run(
        [sys.executable, "-m", "auditwheel", "show", str(wheel)], capture_output=True, text=True, check=True
    ).stdout
    print(shown)
    claimed = [tag for tag in platform.split(".") if tag.startswith("manylinux_")]
    assert claimed
    # auditwheel names the most compatible policy the wheel satisfies.
    found = re.search(r'consistent with the following platform tag:\s+"(manylinux_(\d+)_(\d+)_\w+)"', shown)
    assert found, shown
    for tag in claimed:
        glibc = tuple(int(n) for n in re.match(r"manylinux_(\d+)_(\d+)_", tag).groups())
        assert (int(found.group(2)), int(found.group(3))) <= glibc, f"{tag} claimed, {found.group(1)} satisfied"
        assert found.group(1).endswith(tag.split("_", 3)[3])
