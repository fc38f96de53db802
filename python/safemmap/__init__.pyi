"""Type stubs for safemmap: CPython's ``mmap`` module as the running
interpreter has it (3.13's on 3.9-3.13), with 3.15's API everywhere;
fault-safe."""

import sys
from collections.abc import Iterator
from typing import NoReturn, overload

if sys.version_info >= (3, 12):
    from collections.abc import Buffer as ReadableBuffer
    from collections.abc import Buffer as WriteableBuffer
else:
    from typing import Any as ReadableBuffer
    from typing import Any as WriteableBuffer

from typing_extensions import Self, SupportsIndex, TypeAlias

# find/rfind take None for start and end from Python 3.14.
if sys.version_info >= (3, 14):
    _SearchBound: TypeAlias = int | None
else:
    _SearchBound: TypeAlias = int

ACCESS_DEFAULT: int
ACCESS_READ: int
ACCESS_WRITE: int
ACCESS_COPY: int
ALLOCATIONGRANULARITY: int
PAGESIZE: int

PROT_READ: int
PROT_WRITE: int
PROT_EXEC: int

MAP_SHARED: int
MAP_PRIVATE: int
MAP_ANON: int
MAP_ANONYMOUS: int
MAP_NORESERVE: int
if sys.platform == "linux":
    MAP_DENYWRITE: int
    MAP_EXECUTABLE: int
    MAP_POPULATE: int
    MAP_STACK: int
    MAP_32BIT: int
if sys.platform == "darwin":
    MAP_JIT: int
    MAP_HASSEMAPHORE: int
    MAP_NOCACHE: int

MADV_NORMAL: int
MADV_RANDOM: int
MADV_SEQUENTIAL: int
MADV_WILLNEED: int
MADV_DONTNEED: int
MADV_FREE: int
if sys.platform == "linux":
    MADV_REMOVE: int
    MADV_DONTFORK: int
    MADV_DOFORK: int
    MADV_MERGEABLE: int
    MADV_UNMERGEABLE: int
    MADV_HUGEPAGE: int
    MADV_NOHUGEPAGE: int
    MADV_DONTDUMP: int
    MADV_DODUMP: int
    MADV_HWPOISON: int
if sys.platform == "darwin":
    MADV_FREE_REUSABLE: int
    MADV_FREE_REUSE: int

if sys.platform != "win32":
    MS_SYNC: int
    MS_ASYNC: int
    MS_INVALIDATE: int

error = OSError

class InstallWarning(RuntimeWarning):
    """install() found modules holding the stdlib's mmap already: their maps
    stay unprotected."""

def install() -> tuple[str, ...]:
    """Makes ``import mmap`` give safemmap from now on; returns the names of
    modules that imported the stdlib's mmap before and keep it (and warns
    with InstallWarning if there are any)."""

def uninstall() -> None:
    """Undoes install(): ``import mmap`` gives the stdlib's module again."""

def cpu_count() -> int | None:
    """The logical CPUs of the system: Python 3.13's os.cpu_count()."""

def process_cpu_count() -> int | None:
    """The CPUs the calling thread may run on: Python 3.13's os.process_cpu_count()."""

def available_cpu_count() -> int:
    """process_cpu_count() capped by cgroup CPU quotas (rounded up); at least 1."""

def default_thread_workers() -> int:
    """Python 3.13's ThreadPoolExecutor default: min(32, (process_cpu_count() or 1) + 4)."""

def default_process_workers() -> int:
    """Python 3.13's process pool default: process_cpu_count() or 1 (at most 61 on Windows)."""

class mmap:
    """A memory-mapped file or anonymous region (the running CPython's semantics).

    Accesses that fault (a truncated file, an I/O error) raise OSError
    instead of killing the process.
    """

    def __new__(
        cls,
        fileno: int,
        length: int,
        flags: int = ...,
        prot: int = ...,
        access: int = ...,
        offset: int = ...,
        *,
        trackfd: bool = True,
    ) -> Self: ...
    def close(self) -> None: ...
    @property
    def closed(self) -> bool: ...
    def find(
        self,
        sub: ReadableBuffer,
        start: _SearchBound = ...,
        end: _SearchBound = ...,
        /,
        *,
        workers: int | None = None,
    ) -> int: ...
    def rfind(
        self,
        sub: ReadableBuffer,
        start: _SearchBound = ...,
        end: _SearchBound = ...,
        /,
        *,
        workers: int | None = None,
    ) -> int: ...
    def count(
        self,
        sub: ReadableBuffer | SupportsIndex,
        start: SupportsIndex | None = None,
        end: SupportsIndex | None = None,
        /,
        *,
        workers: int | None = None,
    ) -> int:
        """Non-overlapping occurrences of `sub` in [start:end], as bytes.count
        counts them. Ranges of 8 MiB and more use up to `workers` threads
        (default: available_cpu_count()); the GIL is released meanwhile."""
    def readinto(self, buffer: WriteableBuffer, /) -> int:
        """Reads from the position into `buffer`; returns how many bytes."""
    def flush(self, offset: int = 0, size: int = ..., /, *, flags: int = 0) -> None:
        """Writes changes back (msync with `flags`, MS_SYNC when 0; ignored
        on Windows). `size` defaults as the running Python's does: to the
        end from 3.15 (where -1 also means the end), the map's length before."""
    def set_name(self, name: str, /) -> None:
        """Names an anonymous map `cpython:mmap:NAME` for the kernel (Linux
        5.17+). A kernel that cannot is reported only under `-X dev`."""
    def madvise(self, option: int, start: int = 0, length: int = ..., /) -> None: ...
    def move(self, dest: int, src: int, count: int, /) -> None: ...
    def read(self, n: int | None = None, /) -> bytes: ...
    def read_byte(self) -> int: ...
    def readline(self) -> bytes: ...
    def resize(self, newsize: int, /) -> None: ...
    def seek(self, pos: int, whence: int = 0, /) -> int: ...
    def seekable(self) -> bool: ...
    def size(self) -> int: ...
    def tell(self) -> int: ...
    def write(self, bytes: ReadableBuffer, /) -> int: ...
    def write_byte(self, byte: int, /) -> None: ...
    def __len__(self) -> int: ...
    @overload
    def __getitem__(self, key: SupportsIndex, /) -> int: ...
    @overload
    def __getitem__(self, key: slice, /) -> bytes: ...
    @overload
    def __setitem__(self, key: SupportsIndex, value: int, /) -> None: ...
    @overload
    def __setitem__(self, key: slice, value: ReadableBuffer, /) -> None: ...
    def __delitem__(self, key: SupportsIndex | slice, /) -> NoReturn: ...
    def __iter__(self) -> Iterator[bytes]: ...
    def __reversed__(self) -> Iterator[bytes]: ...
    def __contains__(self, item: object, /) -> bool: ...
    def __enter__(self) -> Self: ...
    def __exit__(self, *args: object) -> None: ...
    def __buffer__(self, flags: int, /) -> memoryview: ...
    def __release_buffer__(self, buffer: memoryview, /) -> None: ...
