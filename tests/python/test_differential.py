"""Differential tests: safemmap.mmap against the interpreter's own mmap.mmap.

A Hypothesis state machine applies the same random operations to a safemmap
map and a stdlib map over two files with the same contents (or two anonymous
maps) and asserts that every call has the same outcome: the same return value,
or the same exception type and message.  At teardown both files must hold the
same bytes.

The operations stay clear of the documented deviations (growing a shared
anonymous map, resize(0), re-entrant arguments, aliasing sources).  Below
Python 3.13 the stdlib's seek() returns None and has no seekable()/trackfd=,
so those are only compared on 3.13; safemmap must still return the new
position from seek() on every version.

SAFEMMAP_HYPOTHESIS_EXAMPLES and SAFEMMAP_HYPOTHESIS_STEPS override the
number of examples and the steps per example.
"""
import mmap as std_mmap
import os
import random
import sys
import tempfile

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import (RuleBasedStateMachine, initialize, invariant,
                                 precondition, rule)

import safemmap
from conftest import STANDIN

PY313 = sys.version_info >= (3, 13)
# safemmap has 3.13 semantics on 3.9-3.13 (the interpreter's own later); a stdlib stand-in only on 3.13+
SAFEMMAP_IS_313 = PY313 or not STANDIN
GRAN = std_mmap.ALLOCATIONGRANULARITY
EXAMPLES = int(os.environ.get("SAFEMMAP_HYPOTHESIS_EXAMPLES", "800"))
STEPS = int(os.environ.get("SAFEMMAP_HYPOTHESIS_STEPS", "50"))
SETTINGS = settings(
    max_examples=EXAMPLES, stateful_step_count=STEPS, deadline=None,
    suppress_health_check=list(HealthCheck))

# Constructor keyword sets.  Each entry: (kwargs, writable, resizable, private)
# for the effective access (section 2.3 of the spec).
RW = std_mmap.PROT_READ | std_mmap.PROT_WRITE
MODES = [
    ({}, True, True, False),
    ({"access": std_mmap.ACCESS_WRITE}, True, True, False),
    ({"access": std_mmap.ACCESS_READ}, False, False, False),
    ({"access": std_mmap.ACCESS_COPY}, True, False, True),
    ({"flags": std_mmap.MAP_PRIVATE}, True, True, True),
    ({"prot": std_mmap.PROT_READ}, False, False, False),
]
ALPHABET = b"ab\n\x00\xff"  # small, so that find() and readline() hit often
HUGE = [2**63 - 1, -2**63, 2**63, -2**64]


def outcome(fn, m):
    """('ok', value) or ('raise', exception type, message)."""
    try:
        return ("ok", fn(m))
    except Exception as e:  # noqa: BLE001 - every exception is compared
        return ("raise", type(e), str(e))


def content(n, seed):
    return bytes(random.Random(seed).choices(ALPHABET, k=n))


def near(length):
    """Integers around the interesting boundaries of a map of this length."""
    return st.one_of(st.integers(-length - 3, length + 3),
                     st.sampled_from([0, length, GRAN, GRAN + 1] + HUGE))


def optional_args(*strategies):
    """A tuple of 0..len(strategies) leading arguments."""
    return st.one_of([st.tuples(*strategies[:k]) for k in range(len(strategies) + 1)])


class MmapPair(RuleBasedStateMachine):
    """Drives self.sm (safemmap) and self.std (stdlib) in lockstep."""

    def __init__(self):
        super().__init__()
        self.sm = self.std = None
        self.files = []

    # -- setup and teardown ---------------------------------------------

    @initialize(data=st.data(), mode=st.sampled_from(MODES), anonymous=st.booleans(),
                offset=st.sampled_from([0, GRAN]), seed=st.integers(0, 2**32),
                size=st.one_of(st.integers(1, 300), st.integers(GRAN - 40, GRAN + 40)),
                trackfd=st.booleans() if PY313 else st.just(True))
    def open_maps(self, data, mode, anonymous, offset, seed, size, trackfd):
        kwargs, self.writable, self.resizable, private = mode
        kwargs = dict(kwargs, offset=offset)
        if not trackfd:
            kwargs["trackfd"] = False
        self.shared_anonymous = anonymous and not private
        self.trackfd = trackfd
        body = content(size, seed)
        if anonymous:
            fileno, length = -1, size
        else:
            length = data.draw(st.one_of(st.just(0), st.integers(1, size)), label="length")
        maps = []
        for module in (safemmap, std_mmap):
            if not anonymous:
                fd, path = tempfile.mkstemp(prefix="safemmap-diff-")
                f = os.fdopen(fd, "r+b")
                f.write(b"\x01" * offset + body)
                f.flush()
                self.files.append((f, path))
                fileno = f.fileno()
            maps.append(module.mmap(fileno, length, **kwargs))
        self.sm, self.std = maps
        if anonymous and self.writable:
            for m in maps:
                m[:] = body

    def teardown(self):
        for m in (self.sm, self.std):
            if m is not None:
                m.close()
        contents = []
        for f, path in self.files:
            f.close()
            with open(path, "rb") as g:
                contents.append(g.read())
            os.unlink(path)
        if contents:
            assert contents[0] == contents[1], "final file contents differ"

    # -- helpers -----------------------------------------------------------

    @property
    def length(self):
        return len(self.std) if not self.std.closed else 0

    def both(self, fn):
        return outcome(fn, self.sm), outcome(fn, self.std)

    def check(self, fn):
        got, want = self.both(fn)
        assert got == want, "safemmap {!r} != stdlib {!r}".format(got, want)
        return want

    # -- invariants ----------------------------------------------------------

    @invariant()
    def same_state(self):
        if self.std is None:
            return
        for probe in (lambda m: m.tell(), len, lambda m: m.closed, lambda m: m[:], repr):
            self.check(probe)
        if SAFEMMAP_IS_313:
            assert self.sm.seekable() is True
        if PY313:
            self.check(lambda m: m.seekable())

    # -- position I/O ----------------------------------------------------------

    @rule(data=st.data())
    def read(self, data):
        args = data.draw(optional_args(st.one_of(st.none(), near(self.length))))
        self.check(lambda m: m.read(*args))

    @rule()
    def read_byte(self):
        self.check(lambda m: m.read_byte())

    @rule()
    def readline(self):
        self.check(lambda m: m.readline())

    @rule(data=st.data())
    def write(self, data):
        room = max(self.length - self.std.tell(), 0) if not self.std.closed else 0
        size = data.draw(st.one_of(st.integers(0, room + 2), st.integers(0, 5)))
        payload = data.draw(st.binary(min_size=size, max_size=size))
        self.check(lambda m: m.write(payload))

    @rule(value=st.one_of(st.integers(0, 255), st.sampled_from([256, -1, True] + HUGE)))
    def write_byte(self, value):
        self.check(lambda m: m.write_byte(value))

    @rule(data=st.data(), whence=st.sampled_from([(), (0,), (1,), (2,), (3,), (-1,)]))
    def seek(self, data, whence):
        pos = data.draw(near(self.length))
        got, want = self.both(lambda m: m.seek(pos, *whence))
        if got[0] == "ok" and SAFEMMAP_IS_313:
            assert got[1] == self.sm.tell()
        if not PY313:  # the stdlib's seek() returns None: compare positions
            got, want = [("ok", m.tell()) if r == ("ok", None) else r
                         for m, r in ((self.sm, got), (self.std, want))]
        assert got == want

    # -- searching -----------------------------------------------------------

    @rule(data=st.data(), method=st.sampled_from(["find", "rfind"]))
    def find(self, data, method):
        current = self.std[:] if not self.std.closed else b"ab"
        i = data.draw(st.integers(0, len(current)))
        j = data.draw(st.integers(i, min(i + 6, len(current))))
        needle = data.draw(st.one_of(st.just(current[i:j]), st.binary(max_size=3),
                                     st.just(current[i:j]).map(bytearray)))
        args = data.draw(optional_args(near(self.length), near(self.length)))
        self.check(lambda m: getattr(m, method)(needle, *args))

    # -- item access -----------------------------------------------------------

    def slices(self):
        bound = st.one_of(st.none(), near(self.length), st.sampled_from([2**100, -2**100]))
        step = st.one_of(st.none(), st.sampled_from([1, 2, 3, -1, -2, -3, 7, 0, 2**63, -2**63]))
        return st.builds(slice, bound, bound, step)

    @rule(data=st.data())
    def getitem(self, data):
        key = data.draw(st.one_of(near(self.length), self.slices()))
        self.check(lambda m: m[key])

    @rule(data=st.data())
    def setitem_index(self, data):
        key = data.draw(near(self.length))
        value = data.draw(st.one_of(st.integers(0, 255), st.sampled_from([256, -1, True])))

        def assign(m):
            m[key] = value
        self.check(assign)

    @rule(data=st.data())
    def setitem_slice(self, data):
        key = data.draw(self.slices())
        try:
            size = len(range(*key.indices(self.length)))
        except ValueError:  # step 0
            size = 1
        size = max(0, size + data.draw(st.sampled_from([0, 0, 0, 1, -1])))
        value = data.draw(st.binary(min_size=size, max_size=size))

        def assign(m):
            m[key] = value
        self.check(assign)

    @rule(data=st.data())
    def move(self, data):
        arg = st.one_of(st.integers(-1, self.length + 1), st.sampled_from([2**63 - 1]))
        dest, src, count = data.draw(st.tuples(arg, arg, arg))
        self.check(lambda m: m.move(dest, src, count))

    # -- whole-map operations --------------------------------------------------

    @rule(data=st.data())
    def flush(self, data):
        point = st.one_of(st.sampled_from([0, 1, GRAN, -1, self.length]),
                          st.integers(-1, self.length + 1))
        args = data.draw(optional_args(point, point))
        self.check(lambda m: m.flush(*args))

    # Not MADV_RANDOM or MADV_SEQUENTIAL: advice that changes how part of
    # the map is read splits it, and a later growth fails in CPython (EFAULT)
    # where safemmap succeeds, a documented deviation.
    @rule(data=st.data(), option=st.sampled_from(
        [std_mmap.MADV_NORMAL, std_mmap.MADV_WILLNEED, std_mmap.MADV_DONTNEED]))
    def madvise(self, data, option):
        start = st.one_of(st.sampled_from([0, 1, GRAN, -1, self.length]),
                          st.integers(-1, self.length + 1))
        args = data.draw(optional_args(start, near(self.length)))
        self.check(lambda m: m.madvise(option, *args))

    @rule(data=st.data())
    def resize(self, data):
        length = self.length
        if self.shared_anonymous:  # growing one is a documented deviation
            newsize = data.draw(st.integers(1, max(length, 1)))
        else:
            newsize = data.draw(st.one_of(st.integers(1, length + GRAN + 100),
                                          st.sampled_from([-1, 2**63])))
        self.check(lambda m: m.resize(newsize))

    @rule()
    def size(self):
        self.check(lambda m: m.size())

    @rule()
    def as_bytes(self):
        self.check(bytes)

    @precondition(lambda self: self.length <= 300)
    @rule(needle=st.sampled_from([b"a", b"\n", b"\x00", b"ab", b"", 97, "a", bytearray(b"b")]))
    def iterate(self, needle):
        self.check(list)
        self.check(lambda m: list(reversed(m)))
        self.check(lambda m: needle in m)

    @rule(dice=st.integers(0, 15))
    def close(self, dice):
        if dice == 0:  # rarely: later steps then check the closed behaviour
            self.check(lambda m: m.close())


MmapPair.TestCase.settings = SETTINGS
TestMmapPair = MmapPair.TestCase


# -- the constructor -----------------------------------------------------------

FILE_SIZES = {"empty": 0, "small": 10, "pages": 2 * GRAN + 100}


@SETTINGS
@given(fileno=st.sampled_from(["anon", "empty", "small", "pages", "bad", "minus2"]),
       length=st.sampled_from([-1, 0, 1, 10, 100, 101, 4196, 2 * GRAN + 101, 2**63]),
       flags=st.sampled_from([None, std_mmap.MAP_SHARED, std_mmap.MAP_PRIVATE, 0, 3]),
       prot=st.sampled_from([None, RW, std_mmap.PROT_READ, std_mmap.PROT_WRITE, 0,
                             std_mmap.PROT_EXEC, 7]),
       access=st.sampled_from([None, 0, 1, 2, 3, 4, -1]),
       offset=st.sampled_from([None, 0, 1, 100, GRAN, 2 * GRAN, 3 * GRAN, -1, 2**63]))
def test_constructor(fileno, length, flags, prot, access, offset):
    kwargs = {k: v for k, v in dict(flags=flags, prot=prot, access=access,
                                    offset=offset).items() if v is not None}
    results = []
    for module in (safemmap, std_mmap):
        with tempfile.TemporaryFile() as f:
            f.write(b"x" * FILE_SIZES.get(fileno, 0))
            f.flush()
            fd = {"anon": -1, "bad": 999, "minus2": -2}.get(fileno, f.fileno())

            def construct(_):
                m = module.mmap(fd, length, **kwargs)
                with m:
                    return repr(m), len(m), outcome(lambda m: m.size(), m)
            results.append(outcome(construct, None))
    assert results[0] == results[1]
