"""Threads racing on one map: every call sees the map whole (one length, one
position), buffers lent are counted right, and nothing crashes.

On free-threaded Python the object's lock (crates/safemmap-py/src/lock.rs)
is what makes this hold. With the GIL the tests still race: long operations
let go of it, and a short switch interval makes it change hands often."""

import collections
import itertools
import os
import random
import sys
import threading
import time

import pytest

import safemmap

MIB = 1 << 20
THREADS = 6


@pytest.fixture(autouse=True)
def switch_often():
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    yield
    sys.setswitchinterval(interval)


def run_threads(worker, count=THREADS):
    """Runs worker(index) on `count` threads started together; re-raises the
    first exception any of them raised."""
    start = threading.Barrier(count)
    errors = []

    def run(index):
        try:
            start.wait()
            worker(index)
        except BaseException as e:  # noqa: BLE001 - re-raised below
            errors.append(e)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a thread hangs"
    if errors:
        raise errors[0]


def test_reads_share_out_the_bytes():
    data = bytes(range(256)) * 9
    per_thread = len(data) // THREADS
    assert per_thread % 3 == 0
    read = []

    def reader(_):
        mine = bytearray()
        while len(mine) < per_thread:
            mine.append(m.read_byte())
            mine += m.read(2)
        read.append(bytes(mine))

    with safemmap.mmap(-1, len(data)) as m:
        m[:] = data
        run_threads(reader)
        assert m.tell() == len(data)
    # Each read took its bytes and moved the position past them at once.
    assert sorted(b"".join(read)) == sorted(data)


def test_lines_are_read_once_each():
    lines = [b"%d\n" % i for i in range(600)]
    read = []

    def reader(_):
        read.extend(m.readline() for _ in range(len(lines) // THREADS))

    with safemmap.mmap(-1, sum(map(len, lines))) as m:
        m[:] = b"".join(lines)
        run_threads(reader)
    assert sorted(read, key=int) == lines


def test_seeks_add_up():
    def seeker(_):
        for _ in range(50):
            before = m.tell()
            m.seek(1, os.SEEK_CUR)
            assert m.tell() > before

    with safemmap.mmap(-1, 4096) as m:
        run_threads(seeker)
        assert m.tell() == THREADS * 50


def test_writes_land_whole():
    letters = b"ABCDEFGH"[:THREADS]
    rounds = 100

    def writer(index):
        letter = letters[index]
        for _ in range(rounds):
            m.write_byte(letter)
            m.write(bytes([letter]) * 2)

    def slicer(index):
        fill = bytes([letters[index]]) * 1024
        for _ in range(rounds):
            m[:1024] = fill
            assert len(set(m[:1024])) == 1

    with safemmap.mmap(-1, THREADS * rounds * 3) as m:
        run_threads(writer)
        counts = collections.Counter(m[:])
        assert counts == {letter: rounds * 3 for letter in letters}
        run_threads(slicer)


def test_buffers_lent_by_many_threads_are_counted():
    views = []
    lent = threading.Barrier(THREADS)

    def borrower(_):
        mine = [memoryview(m) for _ in range(50)]
        views.extend(mine)
        assert all(len(v) == 4096 and v[:4] == b"head" for v in mine)
        lent.wait()
        with pytest.raises(BufferError):
            m.close()
        with pytest.raises(BufferError):
            m.resize(8192)

    with safemmap.mmap(-1, 4096) as m:
        m[:4] = b"head"
        run_threads(borrower)
        assert len(views) == THREADS * 50
        for view in views:
            view.release()
        m.close()
    assert m.closed


def test_closing_from_many_threads():
    m = safemmap.mmap(-1, 4096)
    run_threads(lambda _: m.close())
    assert m.closed


# The map in the free-for-all is one of these sizes; its bytes are these
# (and zeros, where the file grew). Operations of a MiB or more let go of
# the GIL.
SIZES = (MIB // 2, 2 * MIB)
TEXT = (b"ab\n" * MIB)[: MIB + 5]
ALLOWED = b"ab\n\0"
# What a call racing with resize and close may raise: closed, out of range
# (the map shrank under the arguments), a buffer lent (resize, close).
EXPECTED = (ValueError, IndexError, BufferError)


def check(data):
    assert data.translate(None, ALLOWED) == b"", "bytes the map never held"


def operations(m, rng):
    """The map's methods, each with arguments that are right for one of
    the sizes and checks of what it returns."""

    def anywhere():
        return rng.randrange(SIZES[-1])

    def read():
        m.seek(anywhere())
        count = rng.choice((7, 2 * MIB))
        data = m.read(count)
        assert len(data) <= count
        check(data)

    def readinto():
        m.seek(anywhere())
        buffer = bytearray(rng.choice((10, MIB + 1)))
        count = m.readinto(buffer)
        assert 0 <= count <= len(buffer)
        check(bytes(buffer[:count]))

    def write():
        m.seek(anywhere())
        m.write(rng.choice((b"ab\n", TEXT)))

    def slice_():
        start, count = anywhere(), rng.choice((16, 2 * MIB))
        data = m[start : start + count]
        assert len(data) <= count
        check(data)

    def assign():
        start = rng.randrange(SIZES[0] - 3)
        m[start : start + 3] = b"ba\n"
        m[start] = ord("a")

    def lend():
        with memoryview(m) as view:
            assert len(view) in SIZES
            check(bytes(view[:64]))
            time.sleep(0)  # others try to resize or close meanwhile

    def iterate():
        for byte in itertools.islice(iter(m), 8):
            check(byte)

    def length():
        assert len(m) in SIZES

    def size():
        assert m.size() in SIZES

    def tell():
        assert 0 <= m.tell() <= SIZES[-1]

    def find():
        assert -1 <= m.find(b"a\n", anywhere()) < SIZES[-1]

    def count():
        assert 0 <= m.count(b"\n") <= SIZES[-1]

    return {
        "len": length,
        "size": size,
        "tell": tell,
        "item": lambda: check(bytes([m[rng.randrange(SIZES[0])]])),
        "read_byte": lambda: check(bytes([m.read_byte()])),
        "readline": lambda: check(m.readline()),
        "read": read,
        "readinto": readinto,
        "write": write,
        "slice": slice_,
        "assign": assign,
        "find": find,
        "count": count,
        "move": lambda: m.move(rng.randrange(1000), rng.randrange(1000), 100),
        "flush": m.flush,
        "lend": lend,
        "iterate": iterate,
        "resize": lambda: m.resize(rng.choice(SIZES)),
    }


def test_every_method_at_once_then_close(tmp_path):
    path = tmp_path / "raced"
    path.write_bytes((b"ab\n" * MIB)[: SIZES[-1]])
    succeeded = collections.Counter()
    closing = threading.Event()
    stop = threading.Event()

    def racer(index):
        rng = random.Random(index)
        ops = list(operations(m, rng).items())
        while not stop.is_set():
            name, op = rng.choice(ops)
            was_closed = m.closed
            try:
                op()
            except EXPECTED as e:
                # A closed map has one error for everything.
                assert not was_closed or isinstance(e, ValueError), repr(e)
                continue
            assert not was_closed, f"{name} worked on a closed map"
            if not closing.is_set():
                succeeded[name] += 1

    def close_midway():
        time.sleep(1.0)
        closing.set()
        while True:
            try:
                m.close()
                break
            except BufferError:  # a view is lent: try again
                time.sleep(0.001)
        time.sleep(0.2)  # the others meet a closed map for a while
        stop.set()

    with open(path, "r+b") as f:
        m = safemmap.mmap(f.fileno(), 0)
        closer = threading.Thread(target=close_midway)
        closer.start()
        try:
            run_threads(racer)
        finally:
            stop.set()
            closer.join()
    assert m.closed
    assert set(succeeded) == set(operations(m, random.Random()))
    assert os.path.getsize(path) in SIZES
    check(path.read_bytes())
