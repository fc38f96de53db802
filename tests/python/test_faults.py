"""Faults in mapped memory raise OSError instead of killing the process.

Every case runs in a child process that must exit 0 with nothing on stderr:
a fault that escaped would kill it (SIGBUS, SIGSEGV) or make faulthandler
print. The control cases check that faults outside any map still kill.
"""

import os
import signal
import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="signals are Unix")

# A child's prelude: a 4-page file mapped whole, then cut to one page.
TRUNCATED = """
import errno, os, sys, tempfile, threading
import safemmap as mmap
PAGE = mmap.PAGESIZE
fd, path = tempfile.mkstemp()
os.unlink(path)
os.write(fd, b"x" * (4 * PAGE))
m = mmap.mmap(fd, 0)
os.ftruncate(fd, PAGE)

def expect_fault(operation, errno_=errno.EIO):
    try:
        result = operation()
    except OSError as err:
        assert err.errno == errno_, err
        assert "offset" in str(err), err
    else:
        raise AssertionError(f"no fault, got {result!r:.60}")
"""


def run_child(code, *python_options):
    return subprocess.run(
        [sys.executable, *python_options, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def assert_survives(code, *python_options):
    child = run_child(code, *python_options)
    assert (child.returncode, child.stderr) == (0, ""), child.stderr
    return child.stdout


READS = [
    "m[3 * PAGE]",
    "m[-1]",
    "m[PAGE - 1 : PAGE + 1]",
    "m[::PAGE]",
    "m[::-1]",
    "m.read()",
    "(m.seek(2 * PAGE), m.read_byte())",
    "(m.seek(PAGE - 2), m.readline())",
    "m.find(b'needle')",
    "m.rfind(b'x')",
    "m.find(b'y', PAGE)",
    "m.find(b'xy', 2 * PAGE, 2 * PAGE + 100)",  # short ranges are searched in a copy
    "m.rfind(b'xy', 2 * PAGE, 2 * PAGE + 100)",
    "m.count(b'xy', 2 * PAGE, 2 * PAGE + 100)",
    "list(m)",
    "b'z' in m",
    "bytes(m)",
    "b''.join(reversed(m))",
]

WRITES = [
    "m.__setitem__(2 * PAGE, 1)",
    "m.__setitem__(slice(2 * PAGE, 2 * PAGE + 3), b'abc')",
    "m.__setitem__(slice(0, None, PAGE), b'abcd')",
    "(m.seek(2 * PAGE), m.write(b'abc'))",
    "(m.seek(3 * PAGE), m.write_byte(7))",
    "m.move(0, 2 * PAGE, 16)",
    "m.move(2 * PAGE, 0, 16)",
]


@pytest.mark.parametrize("operation", READS + WRITES)
def test_access_past_a_truncation_raises_oserror(operation):
    assert_survives(TRUNCATED + f"expect_fault(lambda: {operation})\n")


# Another map given views of the truncated one: the fault is in the memory
# a buffer lends, not in the map the method belongs to.
LENT = [
    "other.write(view[PAGE : 2 * PAGE])",
    "other.__setitem__(slice(0, PAGE), view[PAGE : 2 * PAGE])",
    "other.__setitem__(slice(0, 8, 2), view[PAGE : PAGE + 4])",
    "other.readinto(view[PAGE : 2 * PAGE])",
    "other.find(view[2 * PAGE : 2 * PAGE + 4])",
    "other.rfind(view[2 * PAGE : 2 * PAGE + 100])",
    "other.count(view[2 * PAGE : 2 * PAGE + 4])",
]


@pytest.mark.parametrize("operation", LENT)
def test_a_fault_in_a_lent_buffer_raises_oserror(operation):
    setup = "other = mmap.mmap(-1, 4 * PAGE)\nview = memoryview(m)\n"
    assert_survives(TRUNCATED + setup + f"expect_fault(lambda: {operation})\n")


# A copy that faults part way stores the bytes before the faulting page,
# counted in 64-byte blocks from where it started; the error says how many,
# and the position moves past them.
PARTIAL = """
def expect_partial(operation, attribute, count, where):
    try:
        operation()
    except OSError as err:
        assert err.errno == errno.EIO, err
        assert getattr(err, attribute) == count, (getattr(err, attribute), count)
        assert where in str(err), err
    else:
        raise AssertionError("no fault")
"""


def test_a_write_across_a_cut_says_how_much_it_stored():
    assert_survives(
        TRUNCATED
        + PARTIAL
        + """
m.seek(PAGE // 2)
expect_partial(lambda: m.write(b"y" * PAGE), "characters_written", PAGE // 2, f"mapped memory at offset {PAGE}")
assert m.tell() == PAGE
assert os.pread(fd, PAGE, 0) == b"x" * (PAGE // 2) + b"y" * (PAGE // 2)
expect_partial(lambda: m.write(b"y"), "characters_written", 0, f"offset {PAGE}")
assert m.tell() == PAGE
"""
    )


def test_a_readinto_across_a_cut_says_how_much_it_read():
    assert_survives(
        TRUNCATED
        + PARTIAL
        + """
m.seek(PAGE // 2)
buffer = bytearray(PAGE)
expect_partial(lambda: m.readinto(buffer), "characters_read", PAGE // 2, f"mapped memory at offset {PAGE}")
assert m.tell() == PAGE
assert buffer[: PAGE // 2] == b"x" * (PAGE // 2)
"""
    )


def test_a_fault_in_a_lent_buffer_is_counted_from_that_buffer():
    stored = "((PAGE - 100) // 64 * 64)"
    assert_survives(
        TRUNCATED
        + PARTIAL
        + f"""
other = mmap.mmap(-1, 4 * PAGE)
view = memoryview(m)[100:]
expect_partial(lambda: other.write(view), "characters_written", {stored}, f"lent source buffer at offset {{PAGE - 100}}")
assert other.tell() == {stored}
assert other[:{stored}] == b"x" * {stored}
other.seek(0)
expect_partial(lambda: other.readinto(view), "characters_read", {stored}, f"lent destination buffer at offset {{PAGE - 100}}")
assert other.tell() == {stored}
"""
    )


@pytest.mark.parametrize("at_mib", [0, 3, 20])
def test_a_find_that_ends_before_a_cut_off_part_succeeds(at_mib):
    """find stops at its match, so it never meets the part of the file cut
    off beyond it: like the stdlib's, it returns the match, with the search
    split across workers or not."""
    assert_survives(
        f"""
import mmap as std_mmap, os, tempfile
import safemmap
MIB = 1 << 20
fd, path = tempfile.mkstemp()
os.unlink(path)
os.ftruncate(fd, 64 * MIB)
at = {at_mib} * MIB + 100
os.pwrite(fd, b"needle", at)
ours, std = safemmap.mmap(fd, 0), std_mmap.mmap(fd, 0)
os.ftruncate(fd, at + MIB)
assert std.find(b"needle") == at
assert ours.find(b"needle") == at
for workers in (None, 1, 2):
    assert ours.find(b"needle", 0, len(ours), workers=workers) == at, workers
"""
    )


# A file of LEN zeros (LENGTH: each test puts its own), mapped whole, then
# for each case given `y\n` at `at` and cut to `cut`; `cut_after_line`
# returns what is left of it.
CUT_AFTER_LINE = """
import os, tempfile
import safemmap as mmap
PAGE = mmap.PAGESIZE
MIB = 1 << 20
LEN = LENGTH
fd, path = tempfile.mkstemp()
os.unlink(path)
os.ftruncate(fd, LEN)
m = mmap.mmap(fd, 0)
previous = 0

def cut_after_line(at, cut):
    global previous
    os.ftruncate(fd, LEN)
    os.pwrite(fd, b"\\0\\0", previous)
    os.pwrite(fd, b"y\\n", at)
    os.ftruncate(fd, cut)
    previous = at
    return bytes(at) + b"y\\n" + bytes(cut - at - 2)
"""


def test_answers_that_lie_before_a_page_aligned_cut_are_returned():
    """Vector loops read ahead of the byte they test: the answers that lie
    in the bytes still there must not depend on the bytes cut off, as they
    do not with the stdlib. Only an answer that needs those raises."""
    assert_survives(
        CUT_AFTER_LINE.replace("LENGTH", "4 * PAGE")
        + """
def answer(operation):
    try:
        return operation()
    except OSError:
        return OSError

def lost_unless(found, needs_lost):
    return OSError if needs_lost else found

for cut in (PAGE, 2 * PAGE, 3 * PAGE):
    for at in range(cut - 200, cut - 1):
        kept = cut_after_line(at, cut)
        for start in (at, at - 1, at - 17, at - 100, cut - 300):
            cases = [
                (lambda: m.find(b"y\\n", start), kept.find(b"y\\n", start), LEN),
                (lambda: m.find(b"\\n", start), kept.find(b"\\n", start), LEN),
                (lambda: m.find(b"y\\n", start, workers=1), kept.find(b"y\\n", start), LEN),
                (lambda: m.find(b"y\\n", start, cut + 3), kept.find(b"y\\n", start), cut + 3),
                (lambda: m.find(b"\\0y\\n", start, at + 2), kept.find(b"\\0y\\n", start, at + 2), at + 2),
            ]
            for search, found, end in cases:
                expected = lost_unless(found, found == -1 and end > cut)
                assert answer(search) == expected, (cut, at, start, end)
            for end in (LEN, cut + 1, cut, at + 2):
                expected = lost_unless(kept.rfind(b"y\\n", start, end), end > cut)
                assert answer(lambda: m.rfind(b"y\\n", start, end)) == expected, (cut, at, start, end)
            m.seek(start)
            assert answer(m.readline) == kept[start : at + 2], (cut, at, start)
            for n in (at + 2 - start, cut - start, cut - start + 1):
                m.seek(start)
                expected = lost_unless(kept[start : start + n], start + n > cut)
                assert answer(lambda: m.read(n)) == expected, (cut, at, start, n)
"""
    )


def test_parallel_finds_that_end_before_a_cut_near_a_block_border_succeed():
    """The first MiB is searched alone, then blocks of a MiB: the cut falls
    on a block border, or 100 bytes either side, of a range long enough for
    two workers."""
    assert_survives(
        CUT_AFTER_LINE.replace("LENGTH", "16 * MIB")
        + """
for cut in (5 * MIB - PAGE, 5 * MIB, 5 * MIB + PAGE):
    for at in range(cut - 200, cut - 1, 7):
        cut_after_line(at, cut)
        for start in (cut - 2 * MIB, cut - 2 * MIB - 100, cut - 2 * MIB + 100):
            for workers in (1, 2):
                assert m.find(b"y\\n", start, LEN, workers=workers) == at, (cut, at, start, workers)
"""
    )


def test_the_map_works_again_once_the_file_grows_back():
    assert_survives(
        TRUNCATED
        + """
expect_fault(lambda: m[3 * PAGE])
assert m[PAGE - 1] == ord("x")
os.ftruncate(fd, 4 * PAGE)
assert m[3 * PAGE] == 0
m[3 * PAGE] = 9
assert m[3 * PAGE] == 9 and m.find(b"\\x09") == 3 * PAGE
m.flush()
assert os.pread(fd, 1, 3 * PAGE) == b"\\x09"
"""
    )


def test_an_inaccessible_page_raises_oserror():
    assert_survives(
        """
import errno
import safemmap as mmap
m = mmap.mmap(-1, 10, prot=0)
for operation in (lambda: m[0], lambda: m[:], lambda: m.find(b"a"), lambda: bytes(m)):
    try:
        operation()
    except OSError as err:
        assert err.errno == errno.EFAULT, err
    else:
        raise AssertionError("no fault")
"""
    )


@pytest.mark.parametrize("when", ["before", "after"])
def test_faulthandler_enabled_before_or_after(when):
    code = TRUNCATED.replace(
        "m = mmap.mmap(fd, 0)",
        "m = mmap.mmap(fd, 0)\nimport faulthandler; faulthandler.enable()",
    )
    options = ("-X", "faulthandler") if when == "before" else ()
    code = code if when == "after" else TRUNCATED
    assert_survives(code + "expect_fault(lambda: m[3 * PAGE])\nexpect_fault(lambda: m.find(b'q'))\n", *options)


DISPLACED = TRUNCATED + """
import signal
signal.signal(signal.SIGBUS, signal.SIG_DFL)  # over safemmap's, as a library's might go
{then}
expect_fault(lambda: m[3 * PAGE])
"""


def test_a_map_of_a_file_puts_the_handler_back_on_top():
    assert_survives(DISPLACED.replace("{then}", "mmap.mmap(fd, 0).close()"))


def test_an_anonymous_map_leaves_the_handler_where_it_is():
    # It installs the handler only if it never was, sparing two system
    # calls (README, "Fault protection"): the SIG_DFL stays, and kills.
    child = run_child(DISPLACED.replace("{then}", "mmap.mmap(-1, PAGE).close()"))
    assert child.returncode == -signal.SIGBUS, (child.returncode, child.stderr)


WILD_READ = """
import ctypes
import safemmap as mmap
m = mmap.mmap(-1, 4096)
m[0] = 1
{before}
ctypes.string_at(16)
print("survived")
"""


@pytest.mark.parametrize(
    "before",
    ["", "import faulthandler; faulthandler.enable()"],
    ids=["plain", "faulthandler"],
)
def test_a_fault_outside_any_map_still_kills(before):
    child = run_child(WILD_READ.format(before=before))
    assert child.returncode == -signal.SIGSEGV, (child.returncode, child.stderr)
    assert "survived" not in child.stdout
    if before:
        assert "Fatal Python error: Segmentation fault" in child.stderr


def test_the_stdlib_still_dies_where_safemmap_survives():
    code = TRUNCATED.replace("import safemmap as mmap", "import mmap") + "m[3 * PAGE]\n"
    assert run_child(code).returncode == -signal.SIGBUS


def test_reads_across_a_file_that_shrinks_and_grows_under_them():
    output = assert_survives(
        TRUNCATED
        + """
os.ftruncate(fd, 4 * PAGE)
stop = threading.Event()

def resize_forever():
    while not stop.is_set():
        os.ftruncate(fd, PAGE)
        os.ftruncate(fd, 4 * PAGE)

resizer = threading.Thread(target=resize_forever)
resizer.start()
faults = reads = 0
try:
    for round in range(20000):
        try:
            data = m[PAGE - 8 : 2 * PAGE + 8]
            reads += 1
            assert data[:8] == b"x" * 8 and set(data[8:]) <= {0, ord("x")}
        except OSError as err:
            assert err.errno == errno.EIO
            faults += 1
finally:
    stop.set()
    resizer.join()
print(reads, faults)
"""
    )
    reads, faults = map(int, output.split())
    assert reads + faults == 20000


@pytest.fixture
def tiny_tmpfs(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mount = tmp_path / "tmpfs"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)]).returncode:
        pytest.skip("cannot mount a tmpfs here")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=True)


def test_a_full_filesystem_under_a_shared_write(tiny_tmpfs):
    path = tiny_tmpfs / "sparse"
    output = assert_survives(
        f"""
import errno, os
import safemmap as mmap
PAGE = mmap.PAGESIZE
with open({str(path)!r}, "w+b") as f:
    f.truncate(1 << 20)
    m = mmap.mmap(f.fileno(), 0)
    written = 0
    try:
        for page in range(256):
            m[page * PAGE : (page + 1) * PAGE] = bytes([page % 251 + 1]) * PAGE
            written += 1
    except OSError as err:
        assert err.errno == errno.EIO, err
    assert 0 < written < 256, written
    m.flush(0, written * PAGE)
    print(written)
"""
    )
    written = int(output)
    with open(path, "rb") as f:
        for page in range(written):
            assert f.read(4096) == bytes([page % 251 + 1]) * 4096, page


def test_the_tour_shows_the_stdlib_dying_and_safemmap_raising():
    tour = subprocess.run([sys.executable, "-m", "safemmap"], capture_output=True, text=True, timeout=120)
    assert tour.returncode == 0, tour.stderr
    # Each result is printed as "   call   -> result".
    printed = dict(line.split(" -> ", 1) for line in tour.stdout.splitlines() if " -> " in line)
    results = {call.strip(): result for call, result in printed.items()}
    assert results["import mmap; m[500000]"] == "the process died of SIGBUS"
    assert results["import safemmap as mmap; m[500000]"].startswith("exit status 0: OSError: [Errno 5]")
