"""safemmap's additions for speed: count(), readinto(), parallel scans with
workers=, and the GIL let go during long operations."""

import collections
import os
import random
import signal
import sys
import threading
import time

import pytest

import safemmap

MIB = 1 << 20


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    """A 24 MiB map of random text, needles planted across chunk borders."""
    # Random bytes mapped onto the alphabet in C: a choice per byte in
    # Python took 9 minutes under qemu.
    alphabet = b"abcdefgh \n"
    to_text = bytes(alphabet[b % len(alphabet)] for b in range(256))
    data = bytearray(random.Random(7).randbytes(24 * MIB).translate(to_text))
    for at in (0, 4 * MIB - 3, 6 * MIB - 1, 12 * MIB - 2, 18 * MIB - 5, 24 * MIB - 16):
        data[at : at + 16] = b"<straddling-16B>"
    path = tmp_path_factory.mktemp("scans") / "big"
    path.write_bytes(data)
    with open(path, "r+b") as f:
        m = safemmap.mmap(f.fileno(), 0)
        yield m, bytes(data)
        m.close()


@pytest.mark.parametrize("needle", [b"<straddling-16B>", b"\n", b"ab", b"aa", b"hgfedcba", b"zz", b""])
@pytest.mark.parametrize("workers", [None, 1, 2, 3, 8])
def test_parallel_scans_match_serial_and_bytes(big, needle, workers):
    m, data = big
    # No keyword at all: the fast entry point's own long search.
    kw = {} if workers is None else {"workers": workers}
    for start, end in [(0, len(data)), (5 * MIB + 7, 19 * MIB - 3), (-9 * MIB, None)]:
        stop = len(data) if end is None else end
        assert m.find(needle, start, stop, **kw) == data.find(needle, start, stop)
        assert m.rfind(needle, start, stop, **kw) == data.rfind(needle, start, stop)
        assert m.count(needle, start, end, **kw) == data.count(needle, start, end)


@pytest.mark.parametrize(
    "args",
    [(b"a",), (b"ab", 1), (b"ab", -5), (b"ab", 2, -1), (b"", 3, None), (b"", 20), (b"", 5, 2),
     (97,), (ord("\n"), None, 9), (b"ab", None, None), (bytearray(b"ab"),), (memoryview(b"ab"),),
     (b"ab", 2**70), (b"ab", -2**70)],
)
def test_count_has_bytes_count_semantics(args):
    data = b"ab\nab\nabab\naab"
    m = safemmap.mmap(-1, len(data))
    m[:] = data
    m.seek(5)  # unlike find, count does not start at the position
    assert m.count(*args) == data.count(*args)


@pytest.mark.parametrize(
    "args, error",
    [(("a",), TypeError), ((256,), ValueError), ((-1,), ValueError), ((b"a", "x"), TypeError),
     ((b"a", 1.0), TypeError), ((), TypeError)],
)
def test_count_rejects_what_bytes_count_rejects(args, error):
    m = safemmap.mmap(-1, 10)
    with pytest.raises(error):
        m.count(*args)
    with pytest.raises(error):
        b"0123456789".count(*args)


def test_type_errors_name_the_type_as_cpython_does():
    # tp_name: with its module for an extension type, as CPython 3.13 says it.
    m = safemmap.mmap(-1, 10)
    deque = collections.deque()
    with pytest.raises(TypeError) as by_bytes:
        b"".count(deque)
    with pytest.raises(TypeError) as by_map:
        m.count(deque)
    assert str(by_map.value) == str(by_bytes.value)
    assert "'collections.deque'" in str(by_map.value)
    with pytest.raises(TypeError, match="^argument should be integer or None, not 'collections.deque'$"):
        m.read(deque)
    with pytest.raises(TypeError, match="^readinto\\(\\) argument must be read-write bytes-like object, "
                                        "not collections.deque$"):
        m.readinto(deque)


def test_count_on_a_closed_map():
    m = safemmap.mmap(-1, 10)
    m.close()
    with pytest.raises(ValueError, match="mmap closed or invalid"):
        m.count(b"x")
    # As every method: the closed-check first up to 3.13, the arguments first from 3.14.
    first = TypeError if sys.version_info >= (3, 14) else ValueError
    with pytest.raises(first):
        m.count("not even a needle")


def test_readinto_reads_from_the_position():
    m = safemmap.mmap(-1, 10)
    m[:] = b"0123456789"
    m.seek(4)
    buffer = bytearray(4)
    assert m.readinto(buffer) == 4 and buffer == b"4567" and m.tell() == 8
    assert m.readinto(buffer) == 2 and buffer == b"8967" and m.tell() == 10
    assert m.readinto(buffer) == 0
    view = memoryview(bytearray(6))[::2]
    with pytest.raises((TypeError, BufferError)):
        m.readinto(view)
    with pytest.raises(TypeError, match="read-write bytes-like object"):
        m.readinto(b"read only")
    m.seek(0)
    assert m.readinto(memoryview(m)[5:]) == 5 and m[:] == b"0123401234"


def test_readinto_a_large_array():
    array = pytest.importorskip("array")
    m = safemmap.mmap(-1, 3 * MIB)
    m[MIB : MIB + 4] = b"\x01\x00\x00\x00"
    target = array.array("i", bytes(2 * MIB))
    m.seek(MIB)
    assert m.readinto(target) == 2 * MIB and target[0] == 1


def ticks_during(work, tick=lambda: None):
    """How often another thread ran (calling `tick`) while `work()` did: with
    a switch interval this long, the ticker only runs while this thread waits
    for something, here only if `work` lets go of the GIL."""
    ticks = 0
    stop = threading.Event()

    def ticker():
        nonlocal ticks
        while not stop.is_set():
            ticks += 1
            tick()
            time.sleep(0)  # hands the GIL back at once

    interval = sys.getswitchinterval()
    sys.setswitchinterval(100)
    counter = threading.Thread(target=ticker)
    counter.start()
    try:
        before = ticks
        work()
        return ticks - before
    finally:
        stop.set()
        counter.join()
        sys.setswitchinterval(interval)


@pytest.mark.parametrize("scan", [
    lambda m: m.count(b"\n", workers=1),
    lambda m: m.find(b"absent needle", 0),  # the fast entry point's own
    lambda m: m.rfind(b"absent needle", 0, len(m), workers=1),
])
def test_long_scans_let_other_threads_run(big, scan):
    m, _ = big
    assert ticks_during(lambda: [scan(m) for _ in range(20)]) > 20


def test_long_slices_and_lines_let_other_threads_run():
    size, newline = 32 * MIB, 8 * MIB
    m = safemmap.mmap(-1, size)
    m[newline - 4 : newline + 1] = b"line\n"
    expected = bytes(newline - 4) + b"line\n" + bytes(size - newline - 1)
    assert ticks_during(lambda: [m[:] for _ in range(10)]) > 0
    assert ticks_during(lambda: [(m.seek(newline + 1), m.readline()) for _ in range(10)]) > 0
    assert m[:] == expected and m[MIB + 2 :] == expected[MIB + 2 :]
    m.seek(3)
    assert m.readline() == expected[3 : newline + 1] and m.tell() == newline + 1
    assert m.readline() == expected[newline + 1 :] and m.tell() == size
    assert m.readline() == b""


def resizable(tmp_path, size):
    f = open(tmp_path / "resized", "w+b")
    f.truncate(size)
    return f, safemmap.mmap(f.fileno(), size)


def test_other_threads_see_a_resize_whole(tmp_path):
    f, m = resizable(tmp_path, 8 * MIB)
    m[:4] = b"head"
    stop = threading.Event()
    problems = []

    def resize_back_and_forth():
        try:
            for i in range(200):
                m.resize((8 if i % 2 else 4) * MIB)
        finally:
            stop.set()

    def use_the_map():
        # Each call sees the map at one size or the other, never in between
        # (the resizing thread lets go of the GIL while it shrinks).
        sizes = (4 * MIB, 8 * MIB)
        while not stop.is_set():
            try:
                assert len(m) in sizes and m.size() in sizes
                assert m[:4] == b"head" and m[0] == ord("h") and m[-1] == 0
                assert m.find(b"ead", 0) == 1 and m.count(b"\0") + 4 in sizes
                m.seek(0)
                assert m.read_byte() == ord("h")
                assert m.readline() in [b"ead" + bytes(size - 4) for size in sizes]
            except Exception as e:  # noqa: BLE001 - reported below
                problems.append(repr(e))
                return

    with f:
        user = threading.Thread(target=use_the_map)
        user.start()
        resize_back_and_forth()
        user.join()
        m.close()
    assert problems == []


def test_other_threads_use_a_map_while_it_shrinks_or_closes(tmp_path):
    f, m = resizable(tmp_path, 64 * MIB)
    seen = []

    def look():
        if not m.closed:
            seen.append((len(m), m[:4], m[MIB - 1]))

    # Cached pages: truncating the file and unmapping them take a while,
    # but on a loaded machine the other thread may get no CPU in that
    # window: a few tries, of which one must let it run.
    def shrink():
        m.resize(64 * MIB)
        m[:] = b"head" + b"\1" * (64 * MIB - 4)
        return ticks_during(lambda: m.resize(MIB), look)

    def close():
        nonlocal m
        f.truncate(64 * MIB)
        m = safemmap.mmap(f.fileno(), 64 * MIB)
        m[:] = bytes(64 * MIB)
        return ticks_during(m.close, look)

    with f:
        assert any(shrink() > 0 for _ in range(10))
        assert (MIB, b"head", 1) in seen, "the map is short while the rest goes"
        assert set(seen) <= {(MIB, b"head", 1), (64 * MIB, b"head", 1)}
        assert m.size() == MIB and m[:] == b"head" + b"\1" * (MIB - 4)
        assert any(close() > 0 for _ in range(10))
        assert m.closed


def test_close_gets_its_turn_against_a_resizing_loop(tmp_path):
    f, m = resizable(tmp_path, 8 * MIB)
    resizes = 0

    def resize_in_a_loop():
        nonlocal resizes
        while True:
            try:
                m.resize((8 if resizes % 2 else 2) * MIB)  # shrinks let go of the GIL
            except ValueError:  # closed
                return
            resizes += 1

    with f:
        resizer = threading.Thread(target=resize_in_a_loop)
        resizer.start()
        while resizes < 3:
            time.sleep(0.001)
        m.close()  # without turns in order, this could wait for as long as the loop runs
        resizer.join()
    assert m.closed


@pytest.mark.parametrize("finish", ["close", "resize"])
def test_close_and_resize_get_their_turn_against_a_scanning_loop(tmp_path, finish):
    f, m = resizable(tmp_path, 64 * MIB)
    stop = threading.Event()
    scans = 0

    def scan_in_a_loop():
        nonlocal scans
        while not stop.is_set():
            try:
                m.count(b"\n", workers=1)  # without the GIL, most of the time
            except ValueError:  # closed
                return
            scans += 1

    scanner = threading.Thread(target=scan_in_a_loop)
    scanner.start()
    try:
        while scans < 3:
            time.sleep(0.001)
        # Waiting for the scan in progress must keep new ones from starting,
        # or this would wait for as long as the loop runs.
        if finish == "close":
            m.close()
            assert m.closed
        else:
            m.resize(MIB)
            assert len(m) == MIB
    finally:
        stop.set()
        scanner.join()
        m.close()
        f.close()


def test_a_buffer_asked_for_while_close_waits_waits_too(tmp_path):
    # A view lent meanwhile would make the close fail with BufferError.
    f, m = resizable(tmp_path, 256 * MIB)
    stop = threading.Event()
    scanning = threading.Event()
    closing = threading.Event()
    outcomes = []

    def scan_in_a_loop():
        while not stop.is_set():
            scanning.set()
            try:
                m.count(b"\n", workers=1)  # without the GIL, most of the time
            except ValueError:  # closed
                return

    def close():
        closing.set()
        m.close()  # holds the GIL until it waits for the scan
        outcomes.append("closed")

    scanner = threading.Thread(target=scan_in_a_loop)
    closer = threading.Thread(target=close)
    scanner.start()
    scanning.wait()
    closer.start()
    closing.wait()
    try:
        memoryview(m)
    except ValueError as e:
        outcomes.append(str(e))
    finally:
        closer.join()
        stop.set()
        scanner.join()
        f.close()
    assert sorted(outcomes) == ["closed", "mmap closed or invalid"]


def test_close_waits_for_a_scan_in_another_thread(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(b"x" * (64 * MIB))
    with open(path, "r+b") as f:
        m = safemmap.mmap(f.fileno(), 0)
        results = []
        scanner = threading.Thread(target=lambda: results.append(m.count(b"y", workers=1)))
        scanner.start()
        time.sleep(0.001)
        m.close()  # must not unmap under the scan
        scanner.join()
    assert results in ([0], []) or isinstance(results[0], int)
    assert m.closed


@pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="needs setitimer")
def test_a_signal_handler_that_raises_ends_the_wait_of_close():
    m = safemmap.mmap(-1, 1 << 30)  # a scan of 1 GiB of untouched pages: slow
    started = threading.Event()
    scanner = threading.Thread(target=lambda: (started.set(), m.count(b"x", workers=1)))

    class Interrupted(Exception):
        pass

    def interrupt(signum, frame):
        raise Interrupted

    previous = signal.signal(signal.SIGALRM, interrupt)
    try:
        scanner.start()
        started.wait()
        time.sleep(0.01)
        signal.setitimer(signal.ITIMER_REAL, 0.02)
        with pytest.raises(Interrupted):
            m.close()  # waits for the scan, until the handler raises
        assert not m.closed
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        scanner.join()
    m.close()
    assert m.closed


@pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="needs setitimer")
@pytest.mark.parametrize("use", ["m.read(1)", "m.resize(4096)", "m.close()"])
def test_a_signal_handler_may_use_the_map_while_its_close_waits(run_py, use):
    # The handler runs on the thread that waits: waiting for its own
    # reservation or turn would be waiting for ever.
    result = run_py(f"""
        import signal, threading, time
        import safemmap
        m = safemmap.mmap(-1, 1 << 30)  # a scan of 1 GiB of untouched pages: slow
        started = threading.Event()
        scanner = threading.Thread(target=lambda: (started.set(), m.count(b"x", workers=1)))
        used = []
        signal.signal(signal.SIGALRM, lambda signum, frame: used.append({use}))
        scanner.start()
        started.wait()
        time.sleep(0.01)
        signal.setitimer(signal.ITIMER_REAL, 0.02)
        m.close()  # waits for the scan; the handler runs meanwhile
        scanner.join()
        print(len(used), m.closed)
    """, timeout=30)
    assert result.stdout.split() == ["1", "True"], result.stdout + result.stderr


def test_workers_must_be_a_positive_count():
    m = safemmap.mmap(-1, 10)
    assert m.find(b"\0", workers=0) == 0  # 0 counts as serial
    with pytest.raises(TypeError):
        m.find(b"\0", workers="2")
    with pytest.raises(OverflowError):
        m.count(b"\0", workers=-1)


def test_large_reads_released_from_the_gil_read_the_right_bytes(big):
    m, data = big
    m.seek(3 * MIB + 5)
    assert m.read(5 * MIB) == data[3 * MIB + 5 : 8 * MIB + 5]
    assert m.tell() == 8 * MIB + 5
    target = bytearray(2 * MIB)
    assert m.readinto(target) == 2 * MIB and target == data[8 * MIB + 5 : 10 * MIB + 5]
    m.seek(-MIB, os.SEEK_END)
    assert m.read() == data[-MIB:]


def test_large_writes_released_from_the_gil_write_all_or_nothing(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(bytes(4 * MIB))
    data = bytes(range(256)) * (8 * 1024)  # 2 MiB
    with open(path, "r+b") as f:
        m = safemmap.mmap(f.fileno(), 0)
        m.seek(MIB)
        assert m.write(data) == len(data) and m.tell() == 3 * MIB
        with pytest.raises(ValueError, match="data out of range"):
            m.write(data)
        assert m.tell() == 3 * MIB
        m.seek(0)
        assert m.write(memoryview(m)[MIB : 3 * MIB]) == 2 * MIB  # from itself
        m.close()
        read_only = safemmap.mmap(f.fileno(), 0, access=safemmap.ACCESS_READ)
        with pytest.raises(TypeError, match="readonly"):
            read_only.write(data)
    # The self-write behaves like memmove: it copies the source as it was.
    assert path.read_bytes() == data + data[MIB:] + bytes(MIB)


def exit_code_within(pid, seconds):
    """The exit code of child `pid`, or None (and the child killed) if it
    has not exited within `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.05)
    os.kill(pid, 9)
    os.waitpid(pid, 0)
    return None


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_parallel_scans_work_in_a_child_forked_after_the_pool_started(big):
    m, data = big
    expected = data.count(b"\n")
    assert m.count(b"\n", workers=2) == expected  # starts the scan threads
    pid = os.fork()
    if pid == 0:  # the child has the pool's memory but none of its threads
        os._exit(0 if m.count(b"\n", workers=2) == expected else 1)
    assert exit_code_within(pid, 60) == 0, "the forked child hung in a parallel scan"


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_close_in_a_child_forked_during_a_scan_does_not_wait_for_it(big):
    m, data = big
    stop = threading.Event()

    def scan_forever():
        while not stop.is_set():
            m.count(b"\n", workers=1)  # spends its time without the GIL

    scanner = threading.Thread(target=scan_forever)
    scanner.start()
    try:
        time.sleep(0.05)
        pid = os.fork()
        if pid == 0:  # the scanning thread is not here, its count is
            m.close()
            os._exit(0)
        assert exit_code_within(pid, 30) == 0, "close() in the child waited for the parent's scan"
    finally:
        stop.set()
        scanner.join()


@pytest.mark.skipif(not hasattr(os, "register_at_fork"), reason="needs fork")
def test_an_earlier_fork_hook_may_close_a_map_a_scan_was_using(run_py):
    # The fork is counted by the C library, before any Python hook runs: a
    # hook registered before safemmap was even imported does not wait.
    result = run_py("""
        import os, threading, time
        maps = []
        os.register_at_fork(after_in_child=lambda: [m.close() for m in maps])
        import safemmap
        m = safemmap.mmap(-1, 1 << 30)
        maps.append(m)
        scanner = threading.Thread(target=lambda: m.count(b"x", workers=1))
        scanner.start()
        time.sleep(0.05)
        pid = os.fork()
        if pid == 0:
            os._exit(0 if m.closed else 1)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                print("child", os.waitstatus_to_exitcode(status))
                break
            time.sleep(0.05)
        else:
            os.kill(pid, 9)
            print("child hung")
        scanner.join()
    """)
    assert result.stdout.strip() == "child 0", result.stdout + result.stderr
