"""The fast paths (m[key], read_byte, readline as raw C functions) against
the stdlib, in every state and with every kind of key: each case the fast
path serves and each it declines (to the full PyO3 method) must give the
stdlib's answer. `m.__getitem__(key)` and subclasses go the same way."""
import inspect
import mmap as std_mmap
import sys

import pytest

import safemmap

from conftest import STANDIN

pytestmark = pytest.mark.skipif(STANDIN, reason="tests safemmap's own entry points")

DATA = b"first line\nsecond\n\nlast, no newline"


class Index:
    def __init__(self, value):
        self.value = value

    def __index__(self):
        return self.value


class IntSubclass(int):
    pass


KEYS = [
    0, 1, 5, -1, -len(DATA), len(DATA) - 1,
    len(DATA), -len(DATA) - 1, 2**62, -2**62, 2**64, -2**64, 2**200,
    True, False, IntSubclass(3), Index(4), Index(-2), Index(2**70),
    slice(None), slice(2, 8), slice(-5, None), slice(None, -3), slice(8, 2),
    slice(2**70, None), slice(-2**70, 2**70), slice(0, len(DATA) + 10),
    slice(1, 9, 2), slice(None, None, -1), slice(9, 1, -3), slice(0, 5, 1),
    slice(0, 4, 0), slice(Index(1), Index(5)), slice(IntSubclass(1), 5),
    slice(True, None), slice("a", None), slice(None, 1.5),
    "0", 1.0, None, b"x", (1,),
]


def outcome(fn):
    try:
        return ("ok", fn())
    except Exception as e:  # noqa: BLE001 - the exception is the outcome
        return (type(e), str(e))


def maps(make_file, access=safemmap.ACCESS_WRITE):
    f = make_file(DATA)
    return safemmap.mmap(f.fileno(), 0, access=access), std_mmap.mmap(f.fileno(), 0, access=access)


@pytest.mark.parametrize("key", KEYS, ids=repr)
def test_subscript_matches_full_method_and_stdlib(make_file, key):
    ours, std = maps(make_file)
    fast = outcome(lambda: ours[key])
    assert fast == outcome(lambda: type(ours).__getitem__(ours, key))
    assert fast == outcome(lambda: std[key])


@pytest.mark.parametrize("key", [0, -1, 100, slice(1, 3), slice(None), "x"], ids=repr)
def test_subscript_of_closed_map(make_file, key):
    ours, std = maps(make_file)
    ours.close()
    std.close()
    assert outcome(lambda: ours[key]) == outcome(lambda: std[key])


def test_subscript_bound_that_closes_the_map(make_file):
    # Only ours: CPython before 3.12 crashes here.
    m, _ = maps(make_file)

    class Closing:
        def __index__(self):
            m.close()
            return 1

    assert outcome(lambda: m[slice(Closing(), 5)]) == (ValueError, "mmap closed or invalid")


def test_subclass_instances_give_the_same_answers(make_file):
    class Sub(safemmap.mmap):
        pass

    class OwnGetitem(safemmap.mmap):
        def __getitem__(self, key):
            return ("own", key)

    f = make_file(DATA)
    sub = Sub(f.fileno(), 0)
    assert sub[0] == DATA[0] and sub[2:5] == DATA[2:5] and sub[-1] == DATA[-1]
    assert sub.read_byte() == DATA[0] and sub.readline() == DATA[1:11]
    own = OwnGetitem(f.fileno(), 0)
    assert own[3] == ("own", 3)
    assert own.read_byte() == DATA[0]


@pytest.mark.parametrize("access", [safemmap.ACCESS_READ, safemmap.ACCESS_WRITE, safemmap.ACCESS_COPY])
def test_read_byte_and_readline_to_the_end(make_file, access):
    ours, std = maps(make_file, access)
    for _ in range(len(DATA) + 2):
        assert outcome(ours.read_byte) == outcome(std.read_byte)
        assert ours.tell() == std.tell()
    ours.seek(0)
    std.seek(0)
    for _ in range(6):
        assert outcome(ours.readline) == outcome(std.readline)
        assert ours.tell() == std.tell()


def test_read_byte_and_readline_past_the_end_after_resize(make_file):
    ours, std = maps(make_file)
    for m in (ours, std):
        m.seek(len(DATA) - 2)
        m.resize(4)
    for method in ("read_byte", "readline"):
        assert outcome(getattr(ours, method)) == outcome(getattr(std, method))
        assert ours.tell() == std.tell()


def test_read_byte_and_readline_of_closed_map(make_file):
    ours, std = maps(make_file)
    ours.close()
    std.close()
    for method in ("read_byte", "readline"):
        assert outcome(getattr(ours, method)) == outcome(getattr(std, method))


@pytest.mark.parametrize("call", [
    lambda m: m.read_byte(1), lambda m: m.readline(None), lambda m: m.read_byte(x=1),
])
def test_fast_methods_reject_arguments(make_file, call):
    ours, std = maps(make_file)
    assert outcome(lambda: call(ours)) == outcome(lambda: call(std))


def test_fast_methods_look_like_the_others():
    for name in ("read_byte", "readline"):
        method = getattr(safemmap.mmap, name)
        assert method.__name__ == name
        assert method.__qualname__ == "mmap." + name
        assert method.__objclass__ is safemmap.mmap
        assert inspect.signature(method) == inspect.signature(safemmap.mmap.tell)
    with pytest.raises(TypeError):
        safemmap.mmap.read_byte(b"not a map")


def test_fast_paths_hold_no_references(make_file):
    f = make_file(DATA)
    m = safemmap.mmap(f.fileno(), 0)
    key = slice(1, 4)
    before = sys.getrefcount(m), sys.getrefcount(key)
    for _ in range(1000):
        m[key], m[2], m.read_byte(), m.readline(), m.seek(0)
    assert (sys.getrefcount(m), sys.getrefcount(key)) == before
