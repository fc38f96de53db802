"""Focused tests of CPython 3.13 mmap semantics (shared/reference/cpython-mmap-semantics.md)
that the stdlib's own test_mmap.py does not cover.

Section numbers in comments refer to that spec.  safemmap behaves like 3.13 on
every supported interpreter, so 3.13 behaviour is asserted regardless of the
running Python, except where the interpreter itself (not the module) produces
the result.  Tests marked ``deviation`` check where safemmap deliberately
differs from CPython 3.13; they are skipped while safemmap is a stdlib stand-in.
"""
import array
import bisect
import collections.abc
import ctypes
import errno
import gc
import inspect
import io
import mmap as std_mmap
import os
import pickle
import platform
import socket
import sys
import weakref
from collections import namedtuple

# used by the code strings in the tables below (see run())
import copy  # noqa: F401
import hashlib  # noqa: F401
import operator  # noqa: F401
import re  # noqa: F401
import struct  # noqa: F401

import pytest

import safemmap
from conftest import STANDIN

M = safemmap.mmap
P = safemmap.PAGESIZE
RW = safemmap.PROT_READ | safemmap.PROT_WRITE
PY312 = sys.version_info >= (3, 12)
PY314 = sys.version_info >= (3, 14)
PY315 = sys.version_info >= (3, 15)


def since(version, new, old):
    """`new` on Python `version` and later, `old` before: where CPython's mmap
    changed after 3.13, safemmap behaves as the running interpreter's (README:
    behaviour by Python version; 3.9-3.12 get 3.13's)."""
    return new if sys.version_info >= version else old


def on_314(new, old):
    return since((3, 14), new, old)


def on_315(new, old):
    return since((3, 15), new, old)
needs_py312 = pytest.mark.skipif(not PY312, reason="__buffer__ in Python needs 3.12")


# -- expectations ----------------------------------------------------------------

Raises = namedtuple("Raises", "type message")
Raises.__new__.__defaults__ = (None,)  # message None: the text is not checked


def oserror(code):
    """The exception OSError(code) becomes (PermissionError for EACCES ...)."""
    return Raises(type(OSError(code, "")), "[Errno {}] {}".format(code, os.strerror(code)))


CLOSED = Raises(ValueError, "mmap closed or invalid")
READONLY = Raises(TypeError, "mmap can't modify a readonly memory map.")
RESIZE_RO = Raises(TypeError, "mmap can't resize a readonly or copy-on-write memory map.")
LEN_NEG = Raises(OverflowError, "memory mapped length must be positive")
OFF_NEG = Raises(OverflowError, "memory mapped offset must be positive")
CONFLICT = Raises(ValueError, "mmap can't specify both access and flags, prot.")
BAD_ACCESS = Raises(ValueError, "mmap invalid access parameter.")
EMPTY = Raises(ValueError, "cannot mmap an empty file")
OFF_GT = Raises(ValueError, "mmap offset is greater than file size")
LEN_GT = Raises(ValueError, "mmap length is greater than file size")
SSIZE = Raises(OverflowError, "Python int too large to convert to C ssize_t")
CLONG = Raises(OverflowError, "Python int too large to convert to C long")
INT_GT = Raises(OverflowError, "signed integer is greater than maximum")
# A method's C int argument: from 3.14 converted by Argument Clinic.
C_INT = Raises(OverflowError, "Python int too large to convert to C int")
METHOD_INT_GT = on_314(C_INT, INT_GT)
CANT_FIT = "cannot fit 'int' into an index-sized integer"
EINVAL, EBADF, EACCES = oserror(errno.EINVAL), oserror(errno.EBADF), oserror(errno.EACCES)
# size() of a map without its descriptor (trackfd=False): a ValueError from 3.15.
SIZE_UNTRACKED = on_315(Raises(ValueError, "can't get size with trackfd=False"), EBADF)


def raised_by(code):
    """What the interpreter itself raises for `code`."""
    try:
        eval(code)
    except Exception as e:  # noqa: BLE001
        return Raises(type(e), str(e))
    raise AssertionError(code + " raised nothing")


# The interpreter's text (3.15 dropped "or None" from it).
SLICE_BOUND = raised_by('b""["a":3]')


def not_int(name):
    return Raises(TypeError, "'{}' object cannot be interpreted as an integer".format(name))


def not_bytes(name):
    return Raises(TypeError, "a bytes-like object is required, not '{}'".format(name))


def check(fn, expected):
    """Call fn(); it must return `expected`, or raise exactly what a Raises describes."""
    if isinstance(expected, Raises):
        with pytest.raises(expected.type) as info:
            fn()
        assert type(info.value) is expected.type
        if expected.message is not None:
            assert str(info.value) == expected.message
    else:
        assert fn() == expected


def run(code, m, **names):
    """Run a table's code string (an expression, or else a statement) with the map
    `m` and any other names in scope; return the expression's value."""
    scope = dict(names, m=m)
    try:
        compiled = compile(code, code, "eval")
    except SyntaxError:
        exec(compile(code, code, "exec"), globals(), scope)
        return None
    return eval(compiled, globals(), scope)


class Index:
    """An object with __index__ that may run an action first."""

    def __init__(self, value, action=None):
        self.value, self.action = value, action

    def __index__(self):
        if self.action:
            self.action()
        return self.value


# -- fixtures ------------------------------------------------------------------------

ACCESS_KW = {  # ways of getting each effective access (section 2.3)
    "default": {},
    "write": {"access": safemmap.ACCESS_WRITE},
    "read": {"access": safemmap.ACCESS_READ},
    "copy": {"access": safemmap.ACCESS_COPY},
    "prot_read": {"prot": safemmap.PROT_READ},
    "private": {"flags": safemmap.MAP_PRIVATE},
}
ACCESS_NAME = {"default": "ACCESS_DEFAULT", "write": "ACCESS_WRITE", "read": "ACCESS_READ",
               "copy": "ACCESS_COPY", "prot_read": "ACCESS_READ", "private": "ACCESS_DEFAULT"}
READONLY_KINDS = ["read", "prot_read"]
WRITABLE_KINDS = ["default", "write", "copy", "private"]
RESIZABLE_KINDS = ["default", "write", "private"]


@pytest.fixture
def mapped(make_file):
    """mapped(data=b'0123456789', pos=0, **mmap_kwargs) -> a map of a file holding data."""
    maps = []

    def factory(data=b"0123456789", pos=0, length=0, **kwargs):
        m = M(make_file(data).fileno(), length, **kwargs)
        maps.append(m)
        m.seek(pos)
        return m

    yield factory
    gc.collect()
    for m in maps:
        m.close()


@pytest.fixture
def m(mapped):
    return mapped()


@pytest.fixture
def fd_of(make_file, tmp_path):
    """fd_of(kind) -> a file descriptor of the given kind (see the constructor table)."""
    fds, keep = [], []

    def os_open(path, flags):
        fds.append(os.open(str(path), flags))
        return fds[-1]

    def factory(kind):
        if isinstance(kind, int):
            return kind
        if kind in ("f10", "fd0", "f2p"):
            return make_file({"f10": b"0123456789", "fd0": b"", "f2p": b"x" * 8292}[kind]).fileno()
        if kind == "fileobj":
            return make_file()
        if kind in ("rdonly", "wronly", "append"):
            path = tmp_path / kind
            path.write_bytes(b"0123456789")
            return os_open(path, {"rdonly": os.O_RDONLY, "wronly": os.O_WRONLY,
                                  "append": os.O_RDWR | os.O_APPEND}[kind])
        if kind == "devzero":
            return os_open("/dev/zero", os.O_RDWR)
        if kind == "dir":
            return os_open(tmp_path, os.O_RDONLY)
        if kind == "pipe":
            r, w = os.pipe()
            fds.extend((r, w))
            return r
        if kind == "socket":
            keep.append(socket.socket())
            return keep[-1].fileno()
        raise AssertionError(kind)

    yield factory
    for fd in fds:
        os.close(fd)
    for s in keep:
        s.close()


def describe(m):
    """The observable state of an open map, for comparison with a table row."""
    return dict(len=len(m), repr=repr(m), size=outcome(m.size))


def outcome(fn):
    try:
        return fn()
    except Exception as e:  # noqa: BLE001
        return Raises(type(e), str(e))


def repr_of(access="ACCESS_DEFAULT", length=10, pos=0, offset=0, name="mmap.mmap"):
    return "<{} closed=False, access={}, length={}, pos={}, offset={}>".format(
        name, access, length, pos, offset)


# == 1. Module namespace ==========================================================

CONSTANTS = {
    "ACCESS_DEFAULT": 0, "ACCESS_READ": 1, "ACCESS_WRITE": 2, "ACCESS_COPY": 3,
    "PROT_READ": 1, "PROT_WRITE": 2, "PROT_EXEC": 4,
    "MAP_SHARED": 1, "MAP_PRIVATE": 2, "MAP_ANON": 32, "MAP_ANONYMOUS": 32,
    "MAP_DENYWRITE": 2048, "MAP_EXECUTABLE": 4096, "MAP_NORESERVE": 16384,
    "MAP_POPULATE": 32768, "MAP_STACK": 131072,
    "MADV_NORMAL": 0, "MADV_RANDOM": 1, "MADV_SEQUENTIAL": 2, "MADV_WILLNEED": 3,
    "MADV_DONTNEED": 4, "MADV_FREE": 8, "MADV_REMOVE": 9, "MADV_DONTFORK": 10,
    "MADV_DOFORK": 11, "MADV_MERGEABLE": 12, "MADV_UNMERGEABLE": 13,
    "MADV_HUGEPAGE": 14, "MADV_NOHUGEPAGE": 15, "MADV_DONTDUMP": 16, "MADV_DODUMP": 17,
    "MADV_HWPOISON": 100,
}
if platform.machine() == "x86_64":
    CONSTANTS["MAP_32BIT"] = 64
if not STANDIN or sys.version_info >= (3, 15):  # 3.15's, on every version
    CONSTANTS.update(MS_ASYNC=1, MS_INVALIDATE=2, MS_SYNC=4)
linux_x86_64 = pytest.mark.skipif(
    not (sys.platform == "linux" and platform.machine() == "x86_64"),
    reason="the spec's constant values are for Linux x86_64")


@linux_x86_64
@pytest.mark.parametrize("name,value", sorted(CONSTANTS.items()))
def test_constant(name, value):
    assert getattr(safemmap, name) == value
    assert type(getattr(safemmap, name)) is int


def test_pagesize_constants():
    assert safemmap.PAGESIZE == os.sysconf("SC_PAGESIZE")
    assert safemmap.ALLOCATIONGRANULARITY == safemmap.PAGESIZE


# What safemmap adds to the stdlib's names (README: CPU counts).
EXTRAS = {"cpu_count", "process_cpu_count", "available_cpu_count",
          "default_thread_workers", "default_process_workers",
          "install", "uninstall", "InstallWarning"}


@linux_x86_64
def test_public_names_are_the_stdlib_ones_the_cpu_counts_and_install():
    public = {name for name in dir(safemmap) if not name.startswith("_")}
    stdlib = set(CONSTANTS) | {"PAGESIZE", "ALLOCATIONGRANULARITY", "error", "mmap"}
    assert public - EXTRAS == stdlib


@pytest.mark.parametrize("name", ["PROT_NONE", "MAP_FIXED", "MADV_SOFT_OFFLINE", "MAP_HUGETLB",
                                  "MAP_ALIGNED_SUPER", "MAP_CONCEAL", "MAP_JIT"])
def test_absent_constant(name):
    assert not hasattr(safemmap, name)


def test_error_is_oserror():
    assert safemmap.error is OSError


def test_type_names():
    home = "mmap" if STANDIN else "safemmap"
    assert (M.__name__, M.__qualname__, M.__module__) == ("mmap", "mmap", home)
    assert type(M) is type
    assert repr(M) == "<class '{}.mmap'>".format(home)


def test_type_pickles_by_name():
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        assert pickle.loads(pickle.dumps(M, protocol)) is M


def test_instances_keep_the_stdlib_type_name(m):
    # CPython's test_repr wants it; the interpreter's messages use it.
    assert repr(m).startswith("<mmap.mmap closed=False, access=ACCESS_")


@pytest.mark.skipif(STANDIN, reason="safemmap is a stdlib stand-in")
def test_type_is_not_the_stdlib_one():
    import mmap
    assert M is not mmap.mmap


@pytest.mark.skipif(sys.version_info < (3, 10), reason="3.9 has no immutable heap types")
def test_type_is_immutable():
    check(lambda: setattr(M, "foo", 1),
          Raises(TypeError, "cannot set 'foo' attribute of immutable type 'mmap.mmap'"))


def test_plain_instance_has_no_dict(m):
    assert not hasattr(m, "__dict__")
    with pytest.raises(AttributeError) as info:
        m.x = 1
    assert str(info.value).startswith("'mmap.mmap' object has no attribute 'x'")


METHODS = ["close", "find", "flush", "madvise", "move", "read", "read_byte", "readline",
           "resize", "rfind", "seek", "seekable", "size", "tell", "write", "write_byte",
           "__enter__", "__exit__", "__len__", "__getitem__", "__setitem__", "__delitem__",
           "__sizeof__", "__repr__"]


@pytest.mark.parametrize("name", METHODS)
def test_method_exists(name):
    assert callable(getattr(M, name))


# count and readinto are safemmap's additions (README), tested in test_scans.py.
@pytest.mark.parametrize("name", ["fileno", "index", "readable", "readlines",
                                  "__add__", "__mul__", "__bool__", "__class_getitem__"])
def test_method_absent(name):
    assert not hasattr(M, name)


def test_abcs(m):
    assert isinstance(m, collections.abc.Sized)
    assert isinstance(m, collections.abc.Hashable)
    assert not isinstance(m, collections.abc.Sequence)
    if PY312:
        assert isinstance(m, collections.abc.Buffer)


@pytest.mark.parametrize("call", [
    'm.read(n=3)', 'm.seek(dist=0)', 'm.seek(pos=0)', 'm.seek(0, whence=0)', 'm.find(sub=b"1")',
    'm.rfind(b"1", start=0)', 'm.write(data=b"")', 'm.write(b=b"")', 'm.write_byte(value=1)',
    'm.write_byte(byte=1)', 'm.move(dest=0, src=0, count=0)', 'm.move(0, 0, count=0)',
    'm.flush(offset=0)', 'm.flush(0, size=0)', 'm.madvise(option=0)', 'm.resize(newsize=5)',
    'm.resize(size=5)', 'm.__exit__(x=1)',
])
def test_methods_take_no_keywords(m, call):
    with pytest.raises(TypeError):  # the text may differ (allowed deviation)
        run(call, m)
    assert len(m) == 10 and m.tell() == 0


@pytest.mark.parametrize("name", [n for n in METHODS if n not in ("__getitem__", "__len__")])
def test_methods_are_positional_only(name):
    try:
        signature = inspect.signature(getattr(M, name))
    except (ValueError, TypeError):
        return  # CPython's methods have no signature at all
    parameters = list(signature.parameters.values())[1:]
    # The keywords: `workers=` of the scans (README), 3.15's `flags=` of flush.
    keywords = {"workers", "flags"}
    kinds = {p.kind for p in parameters if p.name not in keywords}
    assert kinds <= {inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.VAR_POSITIONAL}
    assert all(p.kind == inspect.Parameter.KEYWORD_ONLY for p in parameters if p.name in keywords)


@pytest.mark.parametrize("call", [
    'm.read(1, 2)', 'm.write()', 'm.write_byte()', 'm.seek()',
    'm.seek(0, 0, 0)', 'm.find()', 'm.rfind(b"", 0, 1, 2)',
    'm.move(0, 0)', 'm.flush(0, 0, 0)', 'm.madvise()',
    'm.madvise(0, 0, 1, 2)', 'm.resize()', 'm.tell(1)',
    'm.size(1)', 'm.read_byte(1)', 'm.readline(1)',
    'm.close(1)', 'm.__enter__(1)', 'm.seekable(1)',
])
def test_wrong_argument_count(m, call):
    with pytest.raises(TypeError):  # the text may differ (allowed deviation)
        run(call, m)


@pytest.mark.parametrize("bad,name", [(1.0, "float"), ("1", "str"), (None, "NoneType"),
                                      (b"1", "bytes")])
@pytest.mark.parametrize("call", [
    'm.seek(v)', 'm.seek(0, v)', 'm.find(b"1", v)',
    'm.move(v, 0, 1)', 'm.flush(v)', 'm.madvise(v)',
    'm.resize(v)', 'm.write_byte(v)',
])
def test_integer_arguments_reject_non_integers(m, call, bad, name):
    if bad is None and call.startswith("m.find") and sys.version_info >= (3, 14):
        assert run(call, m, v=bad) == 1  # the default bound
        return
    check(lambda: run(call, m, v=bad), not_int(name))


@pytest.mark.parametrize("call,expected", [
    ('m.seek(2**63)', SSIZE),
    ('m.seek(-2**63 - 1)', SSIZE),
    ('m.seek(0, 2**31)', METHOD_INT_GT),
    ('m.seek(0, -2**31 - 1)', on_314(C_INT, Raises(OverflowError, "signed integer is less than minimum"))),
    ('m.madvise(2**31)', METHOD_INT_GT),
    ('m.move(2**63, 0, 0)', SSIZE),
    ('m.flush(0, 2**63)', SSIZE),
    ('m.find(b"0", 2**63)', SSIZE),
    ('m.rfind(b"0", 0, -2**64)', SSIZE),
    ('m.resize(2**63)', SSIZE),
    ('m.write_byte(256)', Raises(OverflowError, "unsigned byte integer is greater than maximum")),
    ('m.write_byte(-1)', Raises(OverflowError, "unsigned byte integer is less than minimum")),
    ('m.write_byte(2**63)', CLONG),
    ('m.write_byte(-2**64)', CLONG),
])
def test_integer_overflow(m, call, expected):
    check(lambda: run(call, m), expected)
    assert m.tell() == 0


def test_integer_arguments_accept_bool_and_index(m):
    assert m.seek(Index(3), True) == 3
    assert m.read(True) == b"3"
    assert m.find(b"7", Index(2), Index(9)) == 7


# == 2. Constructor ================================================================

Ok = namedtuple("Ok", "len access size offset data")
Ok.__new__.__defaults__ = (10, "ACCESS_DEFAULT", EBADF, 0, None)

READ_ONLY_KW = dict(access=safemmap.ACCESS_READ)


def size_of(expected, kwargs):
    """The size() an Ok case gives: EBADF (no file) up to 3.14; from 3.15 an
    anonymous map's length, or the refusal of a map without its descriptor."""
    if expected.size != EBADF:
        return expected.size
    return SIZE_UNTRACKED if not kwargs.get("trackfd", True) else on_315(expected.len, EBADF)


CONSTRUCTOR_CASES = [
    # (fileno kind, positional args after fileno, keyword args, expected)
    ("anon", (10,), {}, Ok(data=b"\0" * 10)),
    ("anon", (0,), {}, EINVAL),
    ("anon", (-1,), {}, LEN_NEG),
    ("anon", (10,), dict(offset=P), Ok(offset=P)),
    ("anon", (10,), dict(offset=1), EINVAL),
    ("anon", (10,), dict(offset=-1), OFF_NEG),
    ("anon", (-1,), dict(access=4), LEN_NEG),
    ("anon", (10,), dict(offset=-1, access=4), OFF_NEG),
    (-2, (10,), {}, EBADF),
    (999, (10,), {}, EBADF),
    (999, (0,), {}, EBADF),
    (999, (10,), dict(trackfd=False), EBADF),
    (999, (10,), dict(access=4), BAD_ACCESS),
    (999, (10,), dict(access=1, prot=1), CONFLICT),
    (999, (-1,), {}, LEN_NEG),
    (2**31, (10,), {}, INT_GT),
    ("anon", (2**62,), {}, oserror(errno.ENOMEM)),
    ("anon", (2**63,), {}, SSIZE),
    ("anon", (10,), dict(offset=2**63), CLONG),
    ("anon", (True,), {}, Ok(len=1)),
    ("anon", (10.0,), {}, not_int("float")),
    ("fileobj", (0,), {}, not_int("_io.BufferedRandom")),
    ("anon", (10,), dict(flags=0), EINVAL),
    ("anon", (10,), dict(flags=3), EINVAL),
    ("anon", (10,), dict(flags=-1), EINVAL),
    ("anon", (10,), dict(flags=safemmap.MAP_PRIVATE), Ok()),
    ("anon", (10,), dict(flags=safemmap.MAP_SHARED | CONSTANTS["MAP_POPULATE"]), Ok()),
    ("anon", (10,), dict(prot=0), Ok(access="ACCESS_READ")),
    ("anon", (10,), dict(access=4), BAD_ACCESS),
    ("anon", (10,), dict(access=-1), BAD_ACCESS),
    ("anon", (10,), dict(access=True), Ok(access="ACCESS_READ")),
    ("anon", (10,), dict(access=None), not_int("NoneType")),
    ("anon", (10,), dict(access=safemmap.ACCESS_READ, prot=safemmap.PROT_READ), CONFLICT),
    ("anon", (10,), dict(access=safemmap.ACCESS_COPY, flags=safemmap.MAP_PRIVATE), CONFLICT),
    ("anon", (10,), dict(access=4, flags=safemmap.MAP_PRIVATE), CONFLICT),
    ("anon", (10,), dict(access=safemmap.ACCESS_COPY, flags=safemmap.MAP_SHARED, prot=RW),
     Ok(access="ACCESS_COPY")),
    ("anon", (10,), dict(access=safemmap.ACCESS_READ, flags=safemmap.MAP_SHARED),
     Ok(access="ACCESS_READ")),
    ("anon", (10,), dict(trackfd=False), Ok()),
    ("anon", (10,), dict(trackfd=0), Ok()),
    ("anon", (10,), dict(trackfd=None), Ok()),
    ("anon", (10,), dict(trackfd="x"), Ok()),
    ("f10", (0,), {}, Ok(size=10, data=b"0123456789")),
    ("f10", (5,), {}, Ok(len=5, size=10, data=b"01234")),
    ("f10", (11,), {}, LEN_GT),
    ("f10", (4096,), {}, LEN_GT),
    ("f10", (0,), dict(offset=4096), OFF_GT),
    ("f10", (0,), dict(offset=10), OFF_GT),
    ("f10", (1,), dict(offset=4096), LEN_GT),
    ("f10", (0,), dict(offset=1), EINVAL),
    ("f10", (5,), dict(offset=1), EINVAL),
    ("f10", (0,), dict(offset=9), EINVAL),
    ("f10", (11,), dict(offset=1), LEN_GT),
    ("f10", (0,), dict(offset=2**62), OFF_GT),
    ("f10", (0,), dict(trackfd=False), Ok(data=b"0123456789")),
    ("f10", (0,), dict(flags=safemmap.MAP_SHARED | safemmap.MAP_ANONYMOUS),
     Ok(size=10, data=b"\0" * 10)),
    ("fd0", (0,), {}, EMPTY),
    ("fd0", (0,), dict(offset=4096), EMPTY),
    ("fd0", (0,), READ_ONLY_KW, EMPTY),
    ("fd0", (0,), dict(trackfd=False), EMPTY),
    ("fd0", (10,), {}, LEN_GT),
    ("f2p", (0,), dict(offset=4096), Ok(len=4196, size=8292, offset=4096)),
    ("f2p", (0,), dict(offset=8192), Ok(len=100, size=8292, offset=8192, data=b"x" * 100)),
    ("f2p", (100,), dict(offset=8192), Ok(len=100, size=8292, offset=8192)),
    ("f2p", (101,), dict(offset=8192), LEN_GT),
    ("f2p", (0,), dict(offset=12288), OFF_GT),
    ("f2p", (10,), dict(offset=100), EINVAL),
    ("rdonly", (0,), {}, EACCES),
    ("rdonly", (0,), dict(access=safemmap.ACCESS_WRITE), EACCES),
    ("rdonly", (0,), dict(prot=safemmap.PROT_WRITE), EACCES),
    ("rdonly", (0,), READ_ONLY_KW, Ok(access="ACCESS_READ", size=10, data=b"0123456789")),
    ("rdonly", (0,), dict(prot=safemmap.PROT_READ), Ok(access="ACCESS_READ", size=10)),
    ("rdonly", (0,), dict(access=safemmap.ACCESS_COPY), Ok(access="ACCESS_COPY", size=10)),
    ("rdonly", (0,), dict(flags=safemmap.MAP_PRIVATE), Ok(size=10)),
    ("wronly", (0,), {}, EACCES),
    ("wronly", (0,), READ_ONLY_KW, EACCES),
    ("wronly", (0,), dict(access=safemmap.ACCESS_COPY), EACCES),
    ("append", (0,), {}, Ok(size=10, data=b"0123456789")),
    ("devzero", (10,), {}, Ok(size=0, data=b"\0" * 10)),
    ("devzero", (0,), {}, EINVAL),
    ("pipe", (0,), {}, EINVAL),
    ("dir", (0,), {}, EINVAL),
    ("pipe", (10,), {}, EACCES),
    ("dir", (10,), {}, EACCES),
    ("socket", (10,), {}, oserror(errno.EPERM)),
]


@pytest.mark.parametrize("kind,args,kwargs,expected", CONSTRUCTOR_CASES,
                         ids=["{}-{}-{}".format(c[0], c[1], c[2]) for c in CONSTRUCTOR_CASES])
def test_constructor(fd_of, kind, args, kwargs, expected):
    fileno = -1 if kind == "anon" else fd_of(kind)
    if isinstance(expected, Raises):
        check(lambda: M(fileno, *args, **kwargs), expected)
        return
    with M(fileno, *args, **kwargs) as m:
        assert describe(m) == dict(len=expected.len, size=size_of(expected, kwargs),
                                   repr=repr_of(expected.access, expected.len, 0, expected.offset))
        if expected.data is not None:
            assert m[:] == expected.data


@pytest.mark.parametrize("args,kwargs", [
    ((-1,), {}),  # length missing
    ((), {"length": 10}),  # fileno missing
    ((-1, 10, 1, 3, 0, 0, False), {}),  # trackfd is keyword-only
    ((-1, 10), {"length": 10}),
    ((-1, 10), {"tagname": "x"}),
])
def test_constructor_argument_errors(args, kwargs):
    with pytest.raises(TypeError):  # the texts may differ (allowed deviation)
        M(*args, **kwargs)


def test_constructor_keywords():
    with M(fileno=-1, length=10, flags=safemmap.MAP_SHARED, prot=RW,
           access=safemmap.ACCESS_DEFAULT, offset=0, trackfd=True) as m:
        assert len(m) == 10


def test_new_and_init():
    class S(M):
        pass
    s = M.__new__(S, -1, 10)
    assert type(s) is S and len(s) == 10
    s.__init__("ignored", 1, 2)  # object.__init__ ignores its arguments
    s.close()
    check(lambda: M.__new__(object, -1, 1),
          Raises(TypeError, "mmap.mmap.__new__(object): object is not a subtype of mmap.mmap"))


# -- 2.3 access derivation -------------------------------------------------------------

@pytest.mark.parametrize("prot,access", [
    (safemmap.PROT_READ, "ACCESS_READ"), (safemmap.PROT_EXEC, "ACCESS_READ"),
    (safemmap.PROT_READ | safemmap.PROT_EXEC, "ACCESS_READ"), (0, "ACCESS_READ"),
    (safemmap.PROT_WRITE, "ACCESS_WRITE"), (safemmap.PROT_WRITE | safemmap.PROT_EXEC, "ACCESS_WRITE"),
    (RW, "ACCESS_DEFAULT"), (7, "ACCESS_DEFAULT"), (-1, "ACCESS_DEFAULT"),
])
def test_access_derived_from_prot(prot, access):
    with M(-1, 10, prot=prot) as m:
        assert repr(m) == repr_of(access)


@pytest.mark.parametrize("kind", READONLY_KINDS)
@pytest.mark.parametrize("call", [
    'm[0] = 1', 'm[0:1] = b"a"', 'm[99] = 1', 'm["x"] = 1', 'm[0] = "x"', 'del m[0]',
    'm.write(b"a")', 'm.write_byte(1)', 'm.move(0, 1, 1)',
    '(m.seek(0, 2), m.write(b"a"))', '(m.seek(0, 2), m.write_byte(1))',
])
def test_readonly_maps_reject_writes(mapped, kind, call):
    m = mapped(**ACCESS_KW[kind])
    check(lambda: run(call, m), READONLY)
    assert m[:] == b"0123456789"


@pytest.mark.parametrize("call,expected", [
    ('m.write("a")', not_bytes("str")),  # the argument is parsed first
    ('m.write_byte(256)', Raises(OverflowError)),
    ('m.write_byte(b"a")', not_int("bytes")),
    ('m.move("a", 0, 0)', not_int("str")),
])
def test_readonly_check_comes_after_parsing(mapped, call, expected):
    check(lambda: run(call, mapped(**READ_ONLY_KW)), expected)


@pytest.mark.parametrize("kind", ACCESS_KW)
def test_effective_access_table(mapped, kind):
    m = mapped(**ACCESS_KW[kind])
    writable, resizable = kind in WRITABLE_KINDS, kind in RESIZABLE_KINDS
    with memoryview(m) as view:
        assert view.readonly is not writable
    # flush skips msync for READ and COPY, so an unaligned range succeeds there
    check(lambda: m.flush(1, 1), EINVAL if resizable else None)
    if not resizable:
        check(lambda: m.resize(20), RESIZE_RO)
    if writable:
        m[0] = ord("a")
        assert m[0] == ord("a")


@pytest.mark.parametrize("kind", ["copy", "private"])
def test_private_writes_do_not_reach_the_file(make_file, kind):
    f = make_file()
    with M(f.fileno(), 0, **ACCESS_KW[kind]) as m:
        m[:3] = b"abc"
        m.write(b"x")
        m.flush()
    f.seek(0)
    assert f.read() == b"0123456789"


def test_copy_map_sees_other_writes_until_it_writes_the_page(make_file):
    f = make_file()
    with M(f.fileno(), 0, access=safemmap.ACCESS_COPY) as copy_map, M(f.fileno(), 0) as shared:
        shared[0] = ord("a")
        assert copy_map[0] == ord("a")
        copy_map[1] = ord("b")
        shared[2] = ord("c")
        assert copy_map[:3] == b"ab2"


# -- trackfd, descriptors --------------------------------------------------------------

def open_fds():
    def is_open(fd):
        try:
            os.fstat(fd)
        except OSError:
            return False
        return True
    # the descriptor listdir used is closed again by the time is_open runs
    return {fd for fd in map(int, os.listdir("/proc/self/fd")) if is_open(fd)}


@pytest.mark.parametrize("trackfd", [True, False])
def test_trackfd_descriptor(make_file, trackfd):
    f = make_file()
    fd = f.fileno()
    before = open_fds()
    m = M(fd, 0, trackfd=trackfd)
    new = open_fds() - before
    if trackfd:
        (dup,) = new
        assert not os.get_inheritable(dup)
        f.close()  # the map keeps working through its own dup
        assert m.size() == 10
        before.discard(fd)
    else:
        assert new == set()
        check(m.size, SIZE_UNTRACKED)
    assert m[:] == DIGITS
    m.close()
    assert open_fds() == before  # the dup is closed; the caller's fd is left open


def test_trackfd_false_resize_after_exports_check(mapped):
    m = mapped(trackfd=False)
    check(lambda: m.resize(5), Raises(ValueError, "mmap can't resize with trackfd=False."))
    with memoryview(m):
        check(lambda: m.resize(5),
              Raises(BufferError, "mmap can't resize with extant buffers exported."))


@pytest.mark.parametrize("kind,kwargs", [("rdonly", {}), ("f10", {"offset": 1}),
                                         ("pipe", {}), ("devzero", {"offset": 1})])
def test_failed_construction_leaks_no_descriptor(fd_of, kind, kwargs):
    fd = fd_of(kind)
    before = open_fds()
    with pytest.raises(OSError):
        M(fd, 10 if kind in ("pipe", "devzero") else 0, **kwargs)
    assert open_fds() == before


def test_anonymous_map_has_no_descriptor():
    before = open_fds()
    with M(-1, 10) as m:
        assert open_fds() == before
        if sys.version_info >= (3, 15):
            assert m.size() == 10
            return
        with pytest.raises(OSError) as info:
            m.size()
    assert type(info.value) is OSError
    assert (info.value.errno, info.value.filename) == (errno.EBADF, None)


def test_anonymous_trackfd_false_cannot_resize():
    with M(-1, 10, trackfd=False) as m:
        check(lambda: m.resize(5), Raises(ValueError, "mmap can't resize with trackfd=False."))


def test_audit_event(run_py):
    result = run_py("""
        import sys, tempfile, safemmap as mmap
        events = []
        sys.addaudithook(lambda name, args: name == "mmap.__new__" and events.append(args))
        def attempt(*args, **kwargs):
            try:
                mmap.mmap(*args, **kwargs).close()
            except Exception as e:
                pass
        attempt(-1, 10)
        attempt(-1, -1)                    # fails before the event
        attempt(-1, 10, access=4)          # fails before the event
        attempt(-1, 10, access=1, prot=1)  # fails before the event
        with tempfile.TemporaryFile() as f:
            attempt(f.fileno(), 0, prot=mmap.PROT_READ)  # empty file: fails after the event
            f.write(b"x" * 10); f.flush()
            attempt(f.fileno(), 5, access=mmap.ACCESS_COPY)
            fd = f.fileno()
        attempt(-1, 10, prot=mmap.PROT_WRITE, offset=4096)
        print([("FD",) + tuple(a[1:]) if a[0] == fd else tuple(a) for a in events])
    """)
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.strip() == \
        "[(-1, 10, 0, 0), ('FD', 0, 1, 0), ('FD', 5, 3, 0), (-1, 10, 2, 4096)]"


def test_an_audit_hook_that_raises_stops_the_construction(run_py):
    result = run_py("""
        import sys, mmap, safemmap
        def hook(name, args):
            if name == "mmap.__new__" and args[1] == 7:
                raise KeyError(args)
        sys.addaudithook(hook)
        for module in (mmap, safemmap):
            try:
                module.mmap(-1, 7)
            except KeyError as e:
                print(module.__name__, repr(e))
            module.mmap(-1, 8).close()
    """)
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.splitlines() == [
        "mmap KeyError((-1, 7, 0, 0))", "safemmap KeyError((-1, 7, 0, 0))"]


# == 3.1 read, readline, write, write_byte =================================================

LINES = b"ab\ncd\n\nxyz"


@pytest.mark.parametrize("args,result,pos", [
    ((), b"\ncd\n\nxyz", 10), ((None,), b"\ncd\n\nxyz", 10), ((-1,), b"\ncd\n\nxyz", 10),
    ((-5,), b"\ncd\n\nxyz", 10), ((-2**63,), b"\ncd\n\nxyz", 10),
    ((0,), b"", 2), ((3,), b"\ncd", 5), ((100,), b"\ncd\n\nxyz", 10),
    ((2**63 - 1,), b"\ncd\n\nxyz", 10), ((True,), b"\n", 3), ((Index(2),), b"\nc", 4),
    ((2**63,), Raises(OverflowError, CANT_FIT), 2),
    ((-2**64,), Raises(OverflowError, CANT_FIT), 2),
    (("3",), Raises(TypeError, "argument should be integer or None, not 'str'"), 2),
    ((3.0,), Raises(TypeError, "argument should be integer or None, not 'float'"), 2),
    ((b"1",), Raises(TypeError, "argument should be integer or None, not 'bytes'"), 2),
])
def test_read(mapped, args, result, pos):
    m = mapped(LINES, pos=2)
    check(lambda: m.read(*args), result)
    assert m.tell() == pos


@pytest.mark.parametrize("start", [10, 12])
@pytest.mark.parametrize("call,result", [
    ('m.read()', b""), ('m.read(5)', b""), ('m.readline()', b""),
    ('m.read_byte()', Raises(ValueError, "read byte out of range")),
    ('m.write_byte(1)', Raises(ValueError, "write byte out of range")),
    ('m.write(b"a")', Raises(ValueError, "data out of range")),
])
def test_io_at_or_past_the_end(mapped, start, call, result):
    m = mapped(LINES + b"\n\n", pos=start)
    m.resize(10)  # so pos 12 lies past the end
    check(lambda: run(call, m), result)
    assert m.tell() == start


def test_write_empty_at_and_past_the_end(mapped):
    m = mapped(pos=10)
    assert m.write(b"") == 0
    m.seek(8)
    m.resize(5)  # pos 8 > L 5
    check(lambda: m.write(b""), Raises(ValueError, "data out of range"))


def test_read_byte_returns_int(m):
    assert [m.read_byte() for _ in range(3)] == [48, 49, 50]
    assert m.tell() == 3


@pytest.mark.parametrize("data,lines", [
    (LINES, [b"ab\n", b"cd\n", b"\n", b"xyz", b""]),
    (b"a\r\nb\rc\n", [b"a\r\n", b"b\rc\n", b""]),
    (b"\n", [b"\n", b""]),
    (b"no newline", [b"no newline", b""]),
])
def test_readline(mapped, data, lines):
    m = mapped(data)
    got = [m.readline() for _ in lines]
    assert got == lines
    assert m.tell() == len(data)


@pytest.mark.parametrize("pos,data,result,after", [
    (0, b"abc", 3, b"abc3456789"),
    (8, b"ab", 2, b"01234567ab"),
    (3, b"", 0, b"0123456789"),
    (8, b"abc", Raises(ValueError, "data out of range"), b"0123456789"),
    (0, bytearray(b"ab"), 2, b"ab23456789"),
    (0, memoryview(b"abcdef")[1:3], 2, b"bc23456789"),
    (0, array.array("i", [0x64636261]), 4, b"abcd456789"),
    (0, "ab", not_bytes("str"), b"0123456789"),
    (0, 1, not_bytes("int"), b"0123456789"),
    (0, memoryview(b"abcdef")[::2],
     Raises(BufferError, "memoryview: underlying buffer is not C-contiguous"), b"0123456789"),
])
def test_write(mapped, pos, data, result, after):
    m = mapped(pos=pos)
    check(lambda: m.write(data), result)
    assert m[:] == after
    assert m.tell() == pos + (result if isinstance(result, int) else 0)


def test_write_returns_int(m):
    assert type(m.write(b"ab")) is int


def test_write_from_itself_acts_like_memmove(m):
    m.seek(2)
    assert m.write(memoryview(m)[0:8]) == 8
    assert m[:] == b"0101234567"
    m.seek(0)
    assert m.write(m) == 10
    assert m[:] == b"0101234567"
    m.resize(5)  # the temporary exports were released


@pytest.mark.parametrize("value,result,after", [
    (97, None, b"a123456789"), (True, None, b"\x01123456789"), (Index(98), None, b"b123456789"),
    (0, None, b"\x00123456789"), (255, None, b"\xff123456789"),
    (256, Raises(OverflowError, "unsigned byte integer is greater than maximum"), b"0123456789"),
    (-1, Raises(OverflowError, "unsigned byte integer is less than minimum"), b"0123456789"),
    (b"a", not_int("bytes"), b"0123456789"),
])
def test_write_byte(m, value, result, after):
    check(lambda: m.write_byte(value), result)
    assert m[:] == after
    assert m.tell() == (1 if result is None else 0)


# == 3.2 seek / tell / seekable ==================================================================

@pytest.mark.parametrize("args,result", [
    ((0,), 0), ((10,), 10), ((3, 1), 8), ((-3, 1), 2), ((0, 2), 10), ((-1, 2), 9),
    ((-10, 2), 0), ((1, True), 6), ((Index(4),), 4), ((0, 0), 0),
    ((11,), Raises(ValueError, "seek out of range")),
    ((-1,), Raises(ValueError, "seek out of range")),
    ((100, 1), Raises(ValueError, "seek out of range")),
    ((-100, 1), Raises(ValueError, "seek out of range")),
    ((2**63 - 1, 1), Raises(ValueError, "seek out of range")),
    ((-2**63, 1), Raises(ValueError, "seek out of range")),
    ((1, 2), Raises(ValueError, "seek out of range")),
    ((-11, 2), Raises(ValueError, "seek out of range")),
    ((0, 3), Raises(ValueError, "unknown seek type")),
    ((0, -1), Raises(ValueError, "unknown seek type")),
    ((0, 2**31), METHOD_INT_GT), ((2**63,), SSIZE), ((1.0,), not_int("float")),
])
def test_seek(mapped, args, result):
    m = mapped(pos=5)
    check(lambda: m.seek(*args), result)
    assert m.tell() == (5 if isinstance(result, Raises) else result)
    assert type(m.tell()) is int


def test_seek_after_shrink_past_pos(mapped):
    m = mapped(pos=8)
    m.resize(5)
    assert m.tell() == 8
    check(lambda: m.seek(0, 1), Raises(ValueError, "seek out of range"))
    assert m.seek(-4, 1) == 4
    assert repr(m) == repr_of(length=5, pos=4)


def test_seekable(m):
    assert m.seekable() is True
    m.close()
    assert m.seekable() is True


# == 3.3 find / rfind ============================================================================

ONES = b"one two ones"  # L = 12

FIND_CASES = [
    # (method, args, pos, result)
    ("find", (b"one",), 1, 8), ("rfind", (b"one ",), 1, -1), ("find", (b"one",), 12, -1),
    ("find", (b"one",), 0, 0), ("rfind", (b"one",), 0, 8), ("rfind", (b"one",), 9, -1),
    ("find", (b"o", -5), 0, 8), ("find", (b"o", -100), 0, 0), ("rfind", (b"o", 0, -4), 0, 6),
    ("find", (b"s", 0, 100), 0, 11), ("find", (b"s", 0, 11), 0, -1), ("find", (b"two", 4, 7), 0, 4),
    ("find", (b"two", 4, 6), 0, -1), ("find", (b"o", 5, 3), 0, -1), ("find", (b"", 5, 3), 0, -1),
    ("rfind", (b"", 5, 3), 0, -1),
    ("find", (bytearray(b"tw"),), 0, 4), ("find", (memoryview(b"xones")[1:],), 0, 8),
    ("find", (array.array("b", b"wo"),), 0, 5),
    ("find", (ONES + b"!",), 0, -1), ("find", (ONES,), 0, 0), ("rfind", (ONES,), 0, 0),
    ("find", (b"o", 2**63 - 1), 0, -1), ("find", (b"o", -2**63), 0, 0),
    ("find", (b"o", 2**63), 0, SSIZE), ("find", (b"o", Index(3)), 0, 6),
    ("find", (111,), 0, not_bytes("int")), ("rfind", ("o",), 0, not_bytes("str")),
    # None for a bound: the default from 3.14
    ("find", (b"o", None), 0, on_314(0, not_int("NoneType"))),
    ("rfind", (b"o", 0, None), 0, on_314(8, not_int("NoneType"))),
    ("find", (b"o", None, None), 5, on_314(6, not_int("NoneType"))),
    ("find", (memoryview(b"oonnee")[::2],), 0,
     Raises(BufferError, "memoryview: underlying buffer is not C-contiguous")),
    # empty needle: start (find) or end (rfind) after normalisation
    ("find", (b"",), 3, 3), ("rfind", (b"",), 3, 12), ("find", (b"", 11), 0, 11),
    ("rfind", (b"", 11), 0, 12), ("rfind", (b"", 0, 5), 0, 5), ("find", (b"", -3), 0, 9),
    ("find", (b"", 12), 0, 12), ("rfind", (b"", 12), 0, 12),
    # Q7: an empty needle with start > L gives L up to 3.14 (bytes gives -1, as 3.15 does)
    ("find", (b"", 13), 0, on_315(-1, 12)), ("find", (b"", 20, 30), 0, on_315(-1, 12)),
    ("rfind", (b"", 13), 0, on_315(-1, 12)), ("rfind", (b"", 2**63 - 1), 0, on_315(-1, 12)),
]


@pytest.mark.parametrize("method,args,pos,result", FIND_CASES)
def test_find(mapped, method, args, pos, result):
    m = mapped(ONES, pos=pos)
    check(lambda: getattr(m, method)(*args), result)
    assert m.tell() == pos


def test_find_matches_bytes_for_explicit_bounds(mapped):
    """Apart from Q7 (empty needle, start > L, before 3.15), find/rfind equal
    bytes.find/rfind."""
    m, size = mapped(ONES), len(ONES)
    for needle in [b"", b"o", b"on", b"one", b"ones", b"s", b"z", ONES]:
        for start in range(-14, 15):
            for end in range(-14, 15):
                for method in ("find", "rfind"):
                    want = getattr(ONES, method)(needle, start, end)
                    if needle == b"" and start > size and end >= size and not PY315:
                        want = size  # Q7
                    assert getattr(m, method)(needle, start, end) == want, (method, needle, start, end)


def test_find_accepts_a_map_as_needle(mapped):
    m = mapped(ONES)
    with M(-1, 3) as needle:
        needle[:] = b"two"
        assert m.find(needle) == 4
    assert m.find(m) == 0
    m.resize(5)  # the temporary export was released


# == 3.4 move ==================================================================================

@pytest.mark.parametrize("args,result", [
    ((0, 5, 5), b"5678956789"), ((5, 0, 5), b"0123401234"), ((1, 0, 9), b"0012345678"),
    ((0, 1, 9), b"1234567899"), ((10, 0, 0), b"0123456789"), ((0, 10, 0), b"0123456789"),
    ((3, 3, 4), b"0123456789"),
    ((11, 0, 0), Raises(ValueError, "source, destination, or count out of range")),
    ((10, 0, 1), Raises(ValueError, "source, destination, or count out of range")),
    ((0, 0, 11), Raises(ValueError, "source, destination, or count out of range")),
    ((-1, 0, 1), Raises(ValueError, "source, destination, or count out of range")),
    ((0, -1, 1), Raises(ValueError, "source, destination, or count out of range")),
    ((0, 0, -1), Raises(ValueError, "source, destination, or count out of range")),
    ((2**63 - 1, 2**63 - 1, 2**63 - 1), Raises(ValueError, "source, destination, or count out of range")),
    ((1, 2**63 - 1, 1), Raises(ValueError, "source, destination, or count out of range")),
])
def test_move(mapped, args, result):
    m = mapped(pos=3)
    if isinstance(result, Raises):
        check(lambda: m.move(*args), result)
        result = b"0123456789"
    else:
        assert m.move(*args) is None
    assert m[:] == result
    assert m.tell() == 3


# == 3.5 flush =================================================================================

FLUSH_OUT = Raises(ValueError, "flush values out of range")


@pytest.mark.parametrize("size", [10000, 3 * P])
@pytest.mark.parametrize("args,syncing,copying", [
    ((), None, None), ((0,), None, None), ((0, 0), None, None), ((P, 100), None, None),
    ((2 * P, 0), None, None), ((1, 1), EINVAL, None), ((-1,), FLUSH_OUT, FLUSH_OUT),
    # an offset alone, a size of -1: to the end from 3.15
    ((P,), on_315(None, FLUSH_OUT), on_315(None, FLUSH_OUT)),
    ((1,), on_315(EINVAL, FLUSH_OUT), on_315(None, FLUSH_OUT)),
    ((0, -1), on_315(None, FLUSH_OUT), on_315(None, FLUSH_OUT)),
    ((0, -2), FLUSH_OUT, FLUSH_OUT), ((P, -1), on_315(None, FLUSH_OUT), on_315(None, FLUSH_OUT)),
    ((0, "SIZE+1"), FLUSH_OUT, FLUSH_OUT), ((1, "SIZE"), FLUSH_OUT, FLUSH_OUT),
    ((0, 2**63 - 1), FLUSH_OUT, FLUSH_OUT), ((2**63 - 1, 1), FLUSH_OUT, FLUSH_OUT),
])
@pytest.mark.parametrize("kind", ACCESS_KW)
def test_flush(mapped, kind, size, args, syncing, copying):
    m = mapped(b"x" * size, **ACCESS_KW[kind])
    args = tuple(size + 1 if a == "SIZE+1" else size if a == "SIZE" else a for a in args)
    check(lambda: m.flush(*args), syncing if kind in RESIZABLE_KINDS else copying)


def test_flush_unaligned_end_offset(mapped):
    check(lambda: mapped(b"x" * 10000).flush(10000, 0), EINVAL)


def test_flush_writes_to_the_file(make_file):
    f = make_file()
    with M(f.fileno(), 0) as m:
        m[:2] = b"ab"
        assert m.flush() is None
        assert os.pread(f.fileno(), 10, 0) == b"ab23456789"


MS_FLAGS = [getattr(safemmap, name, None) for name in ("MS_SYNC", "MS_ASYNC", "MS_INVALIDATE")]


@pytest.mark.skipif(STANDIN and not PY315, reason="3.15's flush(flags=)")
@pytest.mark.parametrize("flags,result", [
    (0, None), (MS_FLAGS[0], None), (MS_FLAGS[1], None), (MS_FLAGS[2], None),
    (12345, EINVAL), ("x", not_int("str")), (2**31, METHOD_INT_GT), (None, not_int("NoneType")),
])
def test_flush_flags_go_to_msync(make_file, flags, result):
    f = make_file()
    with M(f.fileno(), 0) as m:
        m[:2] = b"ab"
        check(lambda: m.flush(0, 10, flags=flags), result)
        if result is None:
            assert os.pread(f.fileno(), 10, 0) == b"ab23456789"


def test_flush_anonymous_trackfd_false():
    with M(-1, 10, trackfd=False) as m:
        assert m.flush() is None


# == 3.6 madvise ===============================================================================

MADV_START = Raises(ValueError, "madvise start out of bounds")


@pytest.mark.parametrize("args,result", [
    ((safemmap.MADV_NORMAL,), None), ((safemmap.MADV_NORMAL, 0, 0), None),
    ((safemmap.MADV_NORMAL, 0, 1), None), ((safemmap.MADV_NORMAL, P, 100000), None),
    ((safemmap.MADV_WILLNEED, P), None),
    ((0, 2 * P), MADV_START), ((0, -1), MADV_START), ((0, -2**63), MADV_START),
    ((0, 0, -1), Raises(ValueError, "madvise length invalid")),
    ((0, P, 2**63 - 1), Raises(OverflowError, "madvise length too large")),
    ((0, 2 * P - 1), EINVAL), ((0, 1, 1), EINVAL), ((9999,), EINVAL), ((-1,), EINVAL),
    ((2**31,), METHOD_INT_GT), ((0, 2**63), SSIZE),
])
@pytest.mark.parametrize("kind", ["default", "read"])
def test_madvise(kind, args, result):
    with M(-1, 2 * P, **ACCESS_KW[kind]) as m:
        check(lambda: m.madvise(*args), result)


@pytest.mark.parametrize("flags,after", [(safemmap.MAP_SHARED, b"abc"), (safemmap.MAP_PRIVATE, b"\0\0\0")])
def test_madvise_dontneed(flags, after):
    with M(-1, P, flags=flags) as m:
        m[:3] = b"abc"
        m.madvise(safemmap.MADV_DONTNEED)
        assert m[:3] == after


# == 3.7 resize ================================================================================

@pytest.mark.parametrize("offset,length,newsize,file_len", [
    (0, 0, 5, 5), (0, 0, 20, 20), (0, 4, 6, 6), (0, 4, 2, 2), (0, 0, P + 1, P + 1),
    (P, 0, 10, P + 10), (P, 0, 3, P + 3),
])
@pytest.mark.parametrize("kind", RESIZABLE_KINDS)
def test_resize_sets_the_file_length(make_file, kind, offset, length, newsize, file_len):
    f = make_file(b"z" * offset + b"0123456789")
    with M(f.fileno(), length, offset=offset, **ACCESS_KW[kind]) as m:
        assert m.resize(newsize) is None
        assert len(m) == newsize and m.size() == file_len
        # the bytes come from the file, whose tail the truncation may have kept
        assert m[:] == (b"0123456789" + b"\0" * newsize)[:newsize]
        assert repr(m) == repr_of(ACCESS_NAME[kind], newsize, 0, offset)
    assert os.fstat(f.fileno()).st_size == file_len


def test_resize_does_not_clamp_pos(mapped):
    m = mapped(pos=8)
    m.resize(3)
    assert m.tell() == 8
    assert m.read() == b"" and m.readline() == b""
    m.resize(10)
    assert m.read() == b"\0\0"


@pytest.mark.parametrize("setup,call,expected", [
    ("export", 'm.resize(-1)', Raises(BufferError, "mmap can't resize with extant buffers exported.")),
    ("trackfd", 'm.resize(-1)', Raises(ValueError, "mmap can't resize with trackfd=False.")),
    ("read", 'm.resize(-1)', RESIZE_RO),
    ("copy", 'm.resize(-1)', RESIZE_RO),
    ("default", 'm.resize(-1)', Raises(ValueError, "new size out of range")),
    ("default", 'm.resize(2**63 - 1)', oserror(errno.EFBIG)),
    ("default", 'm.resize("x")', not_int("str")),
])
def test_resize_check_order(mapped, setup, call, expected):
    kwargs = {"export": {}, "trackfd": {"trackfd": False, "access": safemmap.ACCESS_READ}}.get(
        setup, ACCESS_KW.get(setup))
    m = mapped(**kwargs)
    view = memoryview(m) if setup == "export" else None
    check(lambda: run(call, m), expected)
    if view is not None:
        view.release()
    assert len(m) == 10


def sealed_against_shrinking(data):
    import fcntl

    fd = os.memfd_create("sealed", os.MFD_ALLOW_SEALING)
    os.write(fd, data)
    fcntl.fcntl(fd, fcntl.F_ADD_SEALS, fcntl.F_SEAL_SHRINK)
    return open(fd, "r+b")


@pytest.mark.parametrize("file_kind", ["read-only descriptor", "sealed memfd"])
def test_a_resize_whose_truncation_fails_changes_nothing(make_file, file_kind):
    data = bytes(range(256)) * (3 * P // 256) + b"tail"
    if file_kind == "sealed memfd":
        if not hasattr(os, "memfd_create"):
            pytest.skip("needs memfd_create")
        f, kwargs, error = sealed_against_shrinking(data), {}, errno.EPERM
    else:
        # A private writable map of a read-only file: ftruncate refuses it.
        f = make_file(data, mode="rb")
        kwargs, error = {"flags": safemmap.MAP_PRIVATE, "prot": RW}, errno.EINVAL
    with f, M(f.fileno(), 0, **kwargs) as m:
        m[:2] = b"ab"
        check(lambda: m.resize(P + 1), oserror(error))
        assert len(m) == len(data) and m.size() == len(data)
        assert m[:] == b"ab" + data[2:] and m[-4:] == b"tail"
        if file_kind == "sealed memfd":  # the seal lets it grow: the map is whole
            m.resize(len(data) + 10)
            assert m[:] == b"ab" + data[2:] + bytes(10)


def test_resize_offset_plus_newsize_overflows(make_file):
    with M(make_file(b"x" * (P + 10)).fileno(), 0, offset=P) as m:
        check(lambda: m.resize(2**63 - 1), Raises(ValueError, "new size out of range"))


def test_resize_private_anonymous_grows():
    with M(-1, P, flags=safemmap.MAP_PRIVATE) as m:
        m[-1] = 7
        m.resize(3 * P)
        assert m[P - 1] == 7 and m[3 * P - 1] == 0
        check(m.size, on_315(3 * P, EBADF))


def test_resize_shared_anonymous_shrinks():
    with M(-1, 3 * P) as m:
        m.resize(P)
        assert len(m) == P


def test_resize_huge_anonymous():
    with M(-1, P, flags=safemmap.MAP_PRIVATE) as m:
        check(lambda: m.resize(2**62), EINVAL)
        assert len(m) == P


@pytest.mark.deviation
@pytest.mark.parametrize("start,newsize", [(P, P + 1), (P, 2 * P), (10, 4000), (10, 5000)])
def test_resize_shared_anonymous_growth_refused(start, newsize):  # Q3
    with M(-1, start) as m:
        check(lambda: m.resize(newsize),
              Raises(ValueError, "mmap: can't expand a shared anonymous mapping"))
        assert len(m) == start


@pytest.mark.deviation
@pytest.mark.skipif(not hasattr(safemmap, "MADV_RANDOM"), reason="madvise")
def test_resize_grows_a_map_that_advice_split(make_file):
    """CPython's resize fails here with EFAULT (mremap refuses a mapping that
    advice for part of it split), leaving the file grown."""
    f = make_file(b"x" * (P + 1))
    m = M(f.fileno(), 0)
    m.madvise(safemmap.MADV_RANDOM, 0, 1)
    m.resize(2 * P + 1)
    m[2 * P] = ord("!")
    assert len(m) == m.size() == 2 * P + 1
    assert m[:P + 1] == b"x" * (P + 1) and m[2 * P] == ord("!")
    m.close()


@pytest.mark.deviation
def test_resize_zero_leaves_the_file_alone(run_py):  # Q6, in a child: CPython dies here
    result = run_py("""
        import os, tempfile, safemmap as mmap
        with tempfile.TemporaryFile() as f:
            f.write(b"x" * 8192); f.flush()
            m = mmap.mmap(f.fileno(), 0, offset=4096)
            try:
                m.resize(0)
            except OSError as e:
                print(type(e).__name__, e.errno)
            print(os.fstat(f.fileno()).st_size, len(m), m[4095], m.size())
            m.close()
    """)
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.split("\n")[:2] == ["OSError 22", "8192 4096 120 8192"]


# == 3.8 size, len, closed =======================================================================

def test_size_is_the_whole_file(make_file):
    f = make_file(b"x" * (P + 100))
    with M(f.fileno(), 50, offset=P) as m:
        assert (len(m), m.size()) == (50, P + 100)
        os.ftruncate(f.fileno(), P + 200)  # size() follows the file, len() does not
        assert (len(m), m.size()) == (50, P + 200)


@pytest.mark.parametrize("action", [lambda m: setattr(m, "closed", True),
                                    lambda m: delattr(m, "closed")])
def test_closed_is_read_only(m, action):
    check(lambda: action(m),
          Raises(AttributeError, "attribute 'closed' of 'mmap.mmap' objects is not writable"))


# == 3.9 close and the context manager ============================================================

def test_close_is_idempotent(m):
    assert m.closed is False
    assert m.close() is None
    assert m.close() is None
    assert m.closed is True


def test_close_with_exports_keeps_the_map_open(m):
    view = memoryview(m)
    sub = view[2:4]
    view.release()
    check(m.close, Raises(BufferError, "cannot close exported pointers exist"))
    check(lambda: m.__exit__(None, None, None), Raises(BufferError))
    assert m.closed is False and m[:] == b"0123456789"
    sub.release()
    m.close()


def test_context_manager(m):
    assert m.__enter__() is m
    assert m.__exit__() is None
    assert m.closed
    assert m.__exit__(1, 2, 3, 4) is None
    check(m.__enter__, CLOSED)


def test_context_manager_propagates_exceptions(m):
    with pytest.raises(KeyError):
        with m:
            raise KeyError
    assert m.closed


# == 3.10 repr, hash, equality, pickling, sizeof ===================================================

def test_repr(mapped):
    m = mapped(pos=3, access=safemmap.ACCESS_COPY)
    assert repr(m) == str(m) == repr_of("ACCESS_COPY", 10, 3)
    m.close()
    assert repr(m) == "<mmap.mmap closed=True>"


@pytest.mark.parametrize("kwargs,access", [({}, "ACCESS_DEFAULT"), (ACCESS_KW["write"], "ACCESS_WRITE"),
                                           (ACCESS_KW["read"], "ACCESS_READ"), (ACCESS_KW["copy"], "ACCESS_COPY")])
def test_repr_access_and_offset(make_file, kwargs, access):
    with M(make_file(b"x" * (P + 20)).fileno(), 7, offset=P, **kwargs) as m:
        assert repr(m) == repr_of(access, 7, 0, P)


def test_hash_and_equality(m):
    data = b"0123456789"
    with M(-1, 10) as other:
        other[:] = data
        assert m == m and m != other
        assert hash(m) == hash(m) == object.__hash__(m)
    assert m != data
    assert m == bytearray(data) and bytearray(data) == m and m == memoryview(data)
    assert bytearray(b"0123456780") != m
    assert bytearray(b"1") > m
    check(lambda: m < m, Raises(TypeError, "'<' not supported between instances of 'mmap.mmap' and 'mmap.mmap'"))
    m.close()
    assert m == m and hash(m) == object.__hash__(m)


@pytest.mark.parametrize("call,message", [
    ('pickle.dumps(m, 2)', "cannot pickle 'mmap.mmap' object"),
    ('pickle.dumps(m, pickle.HIGHEST_PROTOCOL)', "cannot pickle 'mmap.mmap' object"),
    ("copy.copy(m)", "cannot pickle 'mmap.mmap' object"),
    ("copy.deepcopy(m)", "cannot pickle 'mmap.mmap' object"),
    ('pickle.dumps(m, 0)', "cannot pickle 'mmap' object"),
    ('pickle.dumps(m, 1)', "cannot pickle 'mmap' object"),
    ('m.__reduce__()', "cannot pickle 'mmap' object"),
])
def test_not_picklable(m, call, message):
    check(lambda: run(call, m), Raises(TypeError, message))


@pytest.mark.skipif(sys.version_info < (3, 11), reason="object.__getstate__ is new in 3.11")
def test_getstate(m):
    assert m.__getstate__() is None


@pytest.mark.deviation
@pytest.mark.parametrize("length", [1, 10, 5 * P])
def test_sizeof(length):
    # CPython reports its own object's 80 bytes; safemmap reports its own
    # object's size (README: deliberate differences). Either way, constant.
    m = M(-1, length)
    size = type(m).__basicsize__
    assert m.__sizeof__() == size
    m.close()
    assert m.__sizeof__() == size


# == 4.1 getitem ===================================================================================

DIGITS = b"0123456789"


@pytest.mark.parametrize("key,result", [
    (0, 48), (9, 57), (-1, 57), (-10, 48), (True, 49), (Index(3), 51),
    (10, Raises(IndexError, "mmap index out of range")),
    (-11, Raises(IndexError, "mmap index out of range")),
    (-2**63, Raises(IndexError, "mmap index out of range")),
    (2**63, Raises(IndexError, CANT_FIT)), (-2**64, Raises(IndexError, CANT_FIT)),
    (1.0, Raises(TypeError, "mmap indices must be integers")),
    ("1", Raises(TypeError, "mmap indices must be integers")),
    (None, Raises(TypeError, "mmap indices must be integers")),
    ((1,), Raises(TypeError, "mmap indices must be integers")),
    (Ellipsis, Raises(TypeError, "mmap indices must be integers")),
    (slice(0, 3, 0), Raises(ValueError, "slice step cannot be zero")),
    (slice("a", 3), SLICE_BOUND),
    (slice(0, 3.0), SLICE_BOUND),
])
def test_getitem(m, key, result):
    check(lambda: m[key], result)


SLICES = [slice(*s) for s in [
    (None,), (5, 2), (None, None, -1), (1, 100, 3), (100, -100, -7), (None, None, 2**63),
    (None, None, -2**63), (-2**100, 2**100), (2**100, -2**100, -1), (-3, None), (3, -3, 2),
    (Index(1), Index(8), Index(3)), (8, 1, -3), (0, 0), (10, 10), (-1, -11, -1),
]]


@pytest.mark.parametrize("key", SLICES, ids=str)
def test_getitem_slice_matches_bytes(m, key):
    assert m[key] == DIGITS[key]
    assert type(m[key]) is bytes


# == 4.2 / 4.3 setitem, delitem =====================================================================

IDX_RANGE = Raises(IndexError, "mmap index out of range")
WRONG_SIZE = Raises(IndexError, "mmap slice assignment is wrong size")
NOT_INT_VALUE = Raises(TypeError, "mmap item value must be an int")


@pytest.mark.parametrize("key,value,result", [
    (0, 97, b"a123456789"), (-1, 97, b"012345678a"), (0, True, b"\x01123456789"),
    (0, Index(98), b"b123456789"), (Index(1), 0, b"0\x0023456789"),
    (10, 1, IDX_RANGE), (-11, 1, IDX_RANGE),
    # both bad: the index's error up to 3.13, the value's from 3.14
    (99, "x", on_314(NOT_INT_VALUE, IDX_RANGE)),
    (-11, 256, on_314(Raises(ValueError, "mmap item value must be in range(0, 256)"), IDX_RANGE)),
    (2**63, 1, Raises(IndexError, CANT_FIT)),
    (0, b"a", NOT_INT_VALUE), (0, "a", NOT_INT_VALUE), (0, 1.0, NOT_INT_VALUE), (0, None, NOT_INT_VALUE),
    (0, 2**63, Raises(TypeError, CANT_FIT)),
    (0, 256, Raises(ValueError, "mmap item value must be in range(0, 256)")),
    (0, -1, Raises(ValueError, "mmap item value must be in range(0, 256)")),
    ("x", 1, Raises(TypeError, "mmap indices must be integer")),
    (1.0, 1, Raises(TypeError, "mmap indices must be integer")),
    (None, b"a", Raises(TypeError, "mmap indices must be integer")),
])
def test_setitem_index(m, key, value, result):
    def assign():
        m[key] = value
    if isinstance(result, Raises):
        check(assign, result)
        result = DIGITS
    else:
        assign()
    assert m[:] == result


@pytest.mark.parametrize("key,value,result", [
    (slice(0, 3), b"abc", b"abc3456789"), (slice(0, 3), bytearray(b"abc"), b"abc3456789"),
    (slice(0, 3), memoryview(b"abc"), b"abc3456789"),
    (slice(0, 4), array.array("h", [0x4241, 0x4443]), b"ABCD456789"),
    (slice(None, None, 2), b"abcde", b"a1b3c5d7e9"),
    (slice(None, None, -1), b"abcdefghij", b"jihgfedcba"),
    (slice(8, 100), b"ab", b"01234567ab"), (slice(100, 200), b"", DIGITS),
    (slice(5, 2), b"", DIGITS), (slice(-2**100, 2**100), b"abcdefghij", b"abcdefghij"),
    (slice(None, None, 2**63), b"a", b"a123456789"),
    (slice(9, 1, -3), b"abc", b"012c45b78a"),
    (slice(5, 2), b"a", WRONG_SIZE), (slice(0, 3), b"ab", WRONG_SIZE),
    (slice(None, None, 2), b"abcdef", WRONG_SIZE),
    (slice(0, 3, 0), b"abc", Raises(ValueError, "slice step cannot be zero")),
    (slice(0, 2), "ab", not_bytes("str")), (slice(0, 2), [1, 2], not_bytes("list")),
    (slice(0, 1), 1, not_bytes("int")), (slice(0, 1), None, not_bytes("NoneType")),
    (slice(0, 3), memoryview(b"abcdef")[::2],
     Raises(BufferError, "memoryview: underlying buffer is not C-contiguous")),
])
def test_setitem_slice(m, key, value, result):
    def assign():
        m[key] = value
    if isinstance(result, Raises):
        check(assign, result)
        result = DIGITS
    else:
        assign()
    assert m[:] == result


def test_setitem_from_maps(m):
    with M(-1, 2) as src:
        src[:] = b"ab"
        m[0:2] = src
    m[2:7] = memoryview(m)[0:5]  # step-1 slices act like memmove
    assert m[:] == b"abab234789"


@pytest.mark.deviation
def test_extended_slice_from_an_aliasing_source_copies_first(m):  # Q9
    m[1:10:2] = memoryview(m)[0:5]
    assert m[:] == b"0021426384"


@pytest.mark.parametrize("key,result", [
    (0, Raises(TypeError, "mmap doesn't support item deletion")),
    (99, on_314(Raises(TypeError, "mmap doesn't support item deletion"), IDX_RANGE)),
    (slice(0, 2), Raises(TypeError, "mmap object doesn't support slice deletion")),
    (slice(None, None, 0), Raises(ValueError, "slice step cannot be zero")),
    ("x", Raises(TypeError, "mmap indices must be integer")),
])
def test_delitem(m, key, result):
    def delete():
        del m[key]
    check(delete, result)
    assert m[:] == DIGITS


# == 4.4 iteration, in, operators ======================================================================

def test_iteration_yields_bytes(m):
    assert list(m) == [bytes([c]) for c in DIGITS]
    assert next(iter(m)) == b"0"
    assert list(enumerate(m))[1] == (1, b"1")
    assert b"".join(m) == DIGITS
    assert sorted(m, reverse=True)[0] == max(m) == b"9"
    assert list(reversed(m)) == [bytes([c]) for c in reversed(DIGITS)]
    assert list(memoryview(m)) == list(DIGITS)


@pytest.mark.parametrize("call,expected", [
    ("sum(m)", Raises(TypeError, "unsupported operand type(s) for +: 'int' and 'bytes'")),
    ('array.array("B", m)', Raises(TypeError)),
    ('m + b"x"', Raises(TypeError, "unsupported operand type(s) for +: 'mmap.mmap' and 'bytes'")),
    ('m * 2', Raises(TypeError, "unsupported operand type(s) for *: 'mmap.mmap' and 'int'")),
    ('2 * m', Raises(TypeError, "unsupported operand type(s) for *: 'int' and 'mmap.mmap'")),
    ("operator.index(m)", Raises(TypeError)),
    ('operator.iadd(m, b"x")',
     Raises(TypeError, "unsupported operand type(s) for +=: 'mmap.mmap' and 'bytes'")),
    ('operator.imul(m, 2)',
     Raises(TypeError, "unsupported operand type(s) for *=: 'mmap.mmap' and 'int'")),
    ('b"x" + m', b"x0123456789"), ("int(m)", 123456789), ("bool(m)", True),
    ("len(m)", 10),
])
def test_operators(m, call, expected):
    check(lambda: run(call, m), expected)


@pytest.mark.parametrize("needle,result", [
    (b"1", True), (bytearray(b"1"), True), (memoryview(b"1"), True), (b"9", True),
    (49, False), (b"12", False), ("1", False), (b"", False), (b"a", False), (None, False),
])
def test_contains(m, needle, result):
    assert (needle in m) is result


def sequence_api():
    """PySequence_GetItem and PySequence_SetItem, which C code (bisect) calls:
    they reach the type's own sequence item slots, not m[i]."""
    get, set_ = ctypes.pythonapi.PySequence_GetItem, ctypes.pythonapi.PySequence_SetItem
    get.argtypes, get.restype = [ctypes.py_object, ctypes.c_ssize_t], ctypes.py_object
    set_.argtypes = [ctypes.py_object, ctypes.c_ssize_t, ctypes.py_object]
    delete = ctypes.pythonapi.PySequence_DelItem
    delete.argtypes = [ctypes.py_object, ctypes.c_ssize_t]
    return get, set_, delete


@pytest.mark.parametrize("access", [safemmap.ACCESS_WRITE, safemmap.ACCESS_READ])
def test_the_c_sequence_protocol_gives_and_takes_one_byte_bytes(make_file, access):
    get, set_, delete = sequence_api()
    maps = [module.mmap(make_file(DIGITS).fileno(), 0, access=access)
            for module in (safemmap, std_mmap)]

    def same(call):
        outcomes = []
        for m in maps:
            try:
                outcomes.append(("ok", call(m)))
            except Exception as e:  # noqa: BLE001 - the exception is the outcome
                outcomes.append((type(e), str(e)))
        assert outcomes[0] == outcomes[1]
        return outcomes[0]

    for i in (0, 3, -1, -10, 9, 10, -11, 2**40):
        same(lambda m: get(m, i))
        for value in (b"A", b"", b"AB", 65, bytearray(b"A"), "A", None):
            same(lambda m: set_(m, i, value))
        same(lambda m: delete(m, i))
    same(lambda m: m[:])
    assert same(lambda m: bisect.bisect_left(m, b"5")) == ("ok", 5)
    for m in maps:
        m.close()
    same(lambda m: get(m, 0))
    same(lambda m: set_(m, 0, b"A"))


def test_iteration_follows_the_current_length(m):
    it = iter(m)
    assert [next(it), next(it)] == [b"0", b"1"]
    m.resize(3)
    assert list(it) == [b"2"]


def test_iteration_after_close(m):
    it = iter(m)
    m.close()
    check(lambda: next(it), CLOSED)
    iter(m)  # succeeds; the first next() fails
    check(lambda: next(iter(m)), CLOSED)


# == 4.5 buffer protocol ===============================================================================

@pytest.mark.parametrize("kind", ACCESS_KW)
def test_memoryview(mapped, kind):
    m = mapped(**ACCESS_KW[kind])
    with memoryview(m) as view:
        assert (view.format, view.itemsize, view.ndim, view.shape, view.strides) == ("B", 1, 1, (10,), (1,))
        assert view.c_contiguous and view.obj is m
        assert view.readonly is (kind in READONLY_KINDS)
        assert view.tobytes() == DIGITS
        if not view.readonly:
            view[0] = ord("v")
            assert m[0] == ord("v")


@needs_py312
@pytest.mark.parametrize("kind", READONLY_KINDS)
def test_writable_buffer_of_readonly_map(mapped, kind):
    m = mapped(**ACCESS_KW[kind])
    check(lambda: m.__buffer__(1), Raises(BufferError, "Object is not writable."))
    with m.__buffer__(0) as view:
        assert view.readonly


@pytest.mark.parametrize("kind", READONLY_KINDS)
def test_readinto_readonly_map(mapped, kind):
    check(lambda: io.BytesIO(b"abc").readinto(mapped(**ACCESS_KW[kind])),
          Raises(TypeError, "readinto() argument must be read-write bytes-like object, not mmap.mmap"))


def test_readinto_writable_map(m):
    assert io.BytesIO(b"abc").readinto(m) == 3
    assert m[:4] == b"abc3"


@needs_py312
def test_buffer_dunders(m):
    check(lambda: m.__buffer__("x"), Raises(TypeError))
    check(lambda: m.__buffer__(), Raises(TypeError))
    view = m.__buffer__(0)
    check(m.close, Raises(BufferError))
    view.release()
    m.close()


@pytest.mark.parametrize("consume", [
    "bytes(m)", "bytearray(m)", 'b"".join([m])', 're.search(b"34", m).span()',
    'hashlib.sha256(m).hexdigest()', 'struct.pack_into("b", m, 0, 1)',
    'struct.unpack_from("b", m)', 'm.write(m)', 'm.find(m)',
    'm[0:10] = m', 'io.BytesIO(b"ab").readinto(m)',
])
def test_temporary_exports_are_released(m, consume):
    run(consume, m)
    m.resize(5)
    m.close()


def test_derived_views_keep_the_export(m):
    view = memoryview(m)
    sub = view[2:4]
    view.release()
    check(lambda: m.resize(5), Raises(BufferError, "mmap can't resize with extant buffers exported."))
    assert sub.tobytes() == b"23"
    sub.release()
    m.resize(5)


def test_live_view_keeps_the_object_alive():
    m = M(-1, 10)
    ref = weakref.ref(m)
    view = memoryview(m)
    del m
    gc.collect()
    assert ref() is not None
    view.release()
    del view
    gc.collect()
    assert ref() is None


# == 5.1 a closed map ================================================================================

CLOSED_CALLS = [
    "len(m)", "bool(m)", "m[0]", 'm["x"]', "m[0:2]", "m[::2]", "m[0] = 1", 'm[0] = "x"',
    'm[0:1] = b"a"', "del m[0]", 'del m["x"]', "m.read()", 'm.read("x")', "m.read_byte()",
    "m.readline()", 'm.write(b"a")', 'm.write("a")', "m.write_byte(1000)", "m.seek(0)",
    'm.seek("x")', "m.tell()", "m.size()", 'm.find(b"1")', 'm.find("1")', 'm.rfind(b"1")',
    "m.flush()", 'm.flush(-1, "x")', "m.move(0, 0, 1)", "m.resize(5)",
    "m.madvise(safemmap.MADV_NORMAL)", "memoryview(m)", "bytes(m)", "list(m)", 'b"0" in m',
    "reversed(m)", "m.__enter__()",
]


@pytest.mark.parametrize("anonymous", [False, True])
@pytest.mark.parametrize("name", CLOSED_CALLS)
def test_closed_map_raises(mapped, anonymous, name):
    m = M(-1, 10) if anonymous else mapped()
    m.close()
    check(lambda: run(name, m), CLOSED_FROM_314.get(name, CLOSED) if PY314 else CLOSED)


# From 3.14 a method converts its arguments before the closed-check.
CLOSED_FROM_314 = {
    'm[0] = "x"': Raises(TypeError, "mmap item value must be an int"),
    "del m[0]": Raises(TypeError, "mmap doesn't support item deletion"),
    'del m["x"]': Raises(TypeError, "mmap indices must be integer"),
    'm.read("x")': Raises(TypeError, "argument should be integer or None, not 'str'"),
    'm.write("a")': not_bytes("str"),
    "m.write_byte(1000)": Raises(OverflowError, "unsigned byte integer is greater than maximum"),
    'm.seek("x")': not_int("str"),
    'm.find("1")': not_bytes("str"),
    'm.flush(-1, "x")': on_315(not_int("str"), CLOSED),
}


def test_closed_map_still_answers(m):
    m.close()
    assert (m.close(), m.closed, m.seekable(), m.__exit__(1, 2, 3)) == (None, True, True, None)
    assert repr(m) == "<mmap.mmap closed=True>" and m.__sizeof__() == type(m).__basicsize__
    assert m == m and hash(m) == object.__hash__(m)


# == subclassing, weakref ====================================================================================

class Sub(M):
    pass


def test_subclass():
    s = Sub(-1, 10)
    s.attr = 1
    assert s.__dict__ == {"attr": 1}
    assert repr(s) == repr_of(name="Sub")
    assert weakref.ref(s)() is s
    check(lambda: pickle.dumps(s), Raises(TypeError, "cannot pickle 'Sub' object"))
    s.close()
    assert repr(s) == "<Sub closed=True>"


def test_weakref(m):
    ref = weakref.ref(m)
    assert ref() is m
    del m
    gc.collect()


# == 5.3 sharing ===============================================================================================

def test_shared_file_maps_see_each_other(make_file):
    f = make_file()
    with M(f.fileno(), 0) as a, M(f.fileno(), 0) as b:
        a[0] = ord("a")
        os.pwrite(f.fileno(), b"p", 1)
        assert b[:3] == b"ap2"
    assert f.tell() == 0


@pytest.mark.parametrize("flags,child_sees", [(safemmap.MAP_SHARED, True), (safemmap.MAP_PRIVATE, False)])
def test_anonymous_map_across_fork(flags, child_sees):
    with M(-1, 10, flags=flags) as m:
        pid = os.fork()
        if pid == 0:
            m[0] = ord("c")
            os._exit(0)
        os.waitpid(pid, 0)
        assert (m[0] == ord("c")) is child_sees


def test_truncated_file_reads_zero_in_the_last_page(make_file):
    f = make_file(b"x" * 8192)
    with M(f.fileno(), 0) as m:
        f.truncate(10)
        assert (len(m), m.size(), m[4095], m[9]) == (8192, 10, 0, ord("x"))


# == 5.4 and section 7: re-entrancy, in child processes ================================================

REENTRANT_PRELUDE = """
import safemmap as mmap
P = mmap.PAGESIZE
m = mmap.mmap(-1, 64 * P, {kwargs})
m[:10] = b"0123456789"
def act():
    {action}
class X:
    def __init__(self, value=0):
        self.value = value
    def __index__(self):
        act()
        return self.value
class B:
    def __init__(self, data=b"ab"):
        self.data = data
    def __buffer__(self, flags):
        act()
        return memoryview(self.data)
def run(code):
    try:
        compiled = compile(code, "case", "eval")
    except SyntaxError:
        return exec(code)
    return eval(compiled)
try:
    result = run({expr!r})
except Exception as e:
    print(type(e).__name__ + ": " + str(e))
else:
    print("ok", repr(result))
"""

CLOSE, SHRINK = "m.close()", "m.resize(P)"
CLOSED_TEXT = "ValueError: mmap closed or invalid"
REENTRANT_CASES = [
    # (action, expression, expected output, needs __buffer__, deviation)
    (CLOSE, "m[X()]", CLOSED_TEXT, False, False),
    (CLOSE, "m[X():20]", CLOSED_TEXT, False, False),
    (CLOSE, "m[X():20:2]", CLOSED_TEXT, False, False),
    (CLOSE, "m[20:X():-2]", CLOSED_TEXT, False, False),
    (CLOSE, "m[X()] = 1", CLOSED_TEXT, False, False),
    (CLOSE, "m[5] = X()", CLOSED_TEXT, False, False),
    (CLOSE, "m[X(10):12] = b'ab'", CLOSED_TEXT, False, False),
    (CLOSE, "m[X():20:2] = b'1' * 10", CLOSED_TEXT, False, False),
    (CLOSE, "m.read(X())", CLOSED_TEXT, False, False),
    (CLOSE, "m.find(b'1', X())", CLOSED_TEXT, False, False),
    (CLOSE, "m.rfind(b'1', 0, X(5))", CLOSED_TEXT, False, False),
    (CLOSE, "m.move(1, 2, X())", CLOSED_TEXT, False, False),
    (CLOSE, "m.write_byte(X())", CLOSED_TEXT, False, False),
    (CLOSE, "m.madvise(mmap.MADV_NORMAL, 0, X())", CLOSED_TEXT, False, False),
    (CLOSE, "m.write(B())", CLOSED_TEXT, True, False),
    (CLOSE, "m[0:2] = B()", CLOSED_TEXT, True, False),
    (CLOSE, "m.find(B())", CLOSED_TEXT, True, False),
    (CLOSE, "m.__buffer__(X())", CLOSED_TEXT, True, False),
    # Q8: CPython lacks the second closed-check here; safemmap has it
    (CLOSE, "m.seek(X())", CLOSED_TEXT, False, True),
    (CLOSE, "m.flush(0, X(10))", CLOSED_TEXT, False, True),
    (CLOSE, "m.resize(X(P))", CLOSED_TEXT, False, True),
    # the map shrinks to one page while an argument is converted
    (SHRINK, "m[X(60 * P)]", "IndexError: mmap index out of range", False, False),
    (SHRINK, "m[X(0):10]", "ok b'0123456789'", False, False),
    (SHRINK, "len(m.read(X(5 * P))) == P", "ok True", False, False),
    (SHRINK, "m.find(b'9', 0, X(60 * P))", "ok 9", False, False),
    (SHRINK, "m.move(X(60 * P), 0, 1)", "ValueError: source, destination, or count out of range", False, False),
    (SHRINK, "(m.seek(60 * P), m.write_byte(X(1)))", "ValueError: write byte out of range", False, False),
    # Q4 and Q5: CPython writes out of bounds (SIGSEGV); safemmap re-checks
    (SHRINK, "m[60 * P] = X(7)", "IndexError: mmap index out of range", False, True),
    (SHRINK, "m[60 * P:64 * P] = B(b'x' * 4 * P)",
     "IndexError: mmap slice assignment is wrong size", True, True),
]


@pytest.mark.parametrize("kwargs", ["", "access=mmap.ACCESS_WRITE"])
@pytest.mark.parametrize("action,expr,expected,buffer,deviation", [
    pytest.param(*case, marks=[pytest.mark.deviation] if case[4] else [], id=case[1])
    for case in REENTRANT_CASES])
def test_reentrant_argument(run_py, kwargs, action, expr, expected, buffer, deviation):
    if buffer and not PY312:
        pytest.skip("__buffer__ in Python needs 3.12")
    result = run_py(REENTRANT_PRELUDE.format(kwargs=kwargs, action=action, expr=expr))
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.strip() == expected


def test_reentrant_seek_returns_position_when_shrunk(run_py):
    result = run_py(REENTRANT_PRELUDE.format(kwargs="", action=SHRINK, expr="m.seek(X(8))"))
    assert (result.returncode, result.stderr, result.stdout.strip()) == (0, "", "ok 8")
