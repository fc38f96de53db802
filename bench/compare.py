#!/usr/bin/env python3
"""Benchmark safemmap against CPython's own mmap, in one process.

Both modules map the same page-cached text file.  Every operation runs the
*same* Python function for both maps (the map object is a parameter), and the
runs are interleaved: warm-up stdlib, warm-up safemmap, then stdlib, safemmap,
stdlib, safemmap, ... for --rounds rounds.  The best run of each is reported,
with the ratio safemmap/stdlib (lower is better).

Absolute times drift between runs and machines; the ratio is the number to
quote.  Small operations are reported per call (the time includes the Python
``for`` loop around the call, identical for both modules); large ones in ms
and GB/s (1 GB = 10**9 bytes).

Examples:
    python bench/compare.py                     # 256 MiB file, 5 rounds
    python bench/compare.py --quick             # a few seconds, for CI
    python bench/compare.py --every-method      # also every other method
    python bench/compare.py --markdown          # table for BENCHMARKS.md
    python bench/compare.py --file /tmp/bench.txt --json results.json

Exit status: 0, or 1 if either module returned a wrong result (checked on
the warm-up run of every large operation), 2 if the module cannot be imported.
Rows whose method safemmap lacks (or that raise) are reported as skipped.
Only the standard library is needed.
"""

from __future__ import annotations

import argparse
import datetime
import gc
import importlib
import json
import math
import mmap as std_mmap
import os
import platform
import random
import re
import struct
import sys
import tempfile
import time
from dataclasses import dataclass
from typing import Any, Callable, Optional

MiB = 1 << 20

# Both needles contain '#' and ':', which the line generator never emits, so
# each occurs exactly once in a generated file.
NEEDLE_END = b"#SAFEMMAP:NEEDLE"  # planted near the end (for find)
NEEDLE_START = b"#SAFEMMAP:MARKER"  # planted near the start (for rfind)
# Also for rfind, near the start, but made of bytes the text is full of (the
# generator numbers workers 1-64 only). CPython's rfind skips ahead whenever
# the byte before its window is not in the needle: on this text it almost
# always skips with NEEDLE_START, and seldom with this one.
NEEDLE_COMMON = b"worker-99 failed"
ABSENT_BYTE = b"\x00"
assert len(NEEDLE_END) == len(NEEDLE_START) == len(NEEDLE_COMMON) == 16

WORDS = (
    "the of and to in is was for that with as on by at from this are be or "
    "it an have not which has had but were their been one all also its new "
    "more after first other some time only into can two over years most may "
    "about between where during under system file memory page cache map read "
    "write buffer offset length value error index count search start end "
    "process thread worker request response server client record table "
    "update delete insert select status ok failed retry timeout latency"
).split()
LEVELS = ("DEBUG", "INFO", "INFO", "INFO", "WARN", "ERROR")


# --------------------------------------------------------------------------
# Test file


def make_line(rng: random.Random) -> bytes:
    """One realistic ASCII line (average about 80 bytes, newline included)."""
    kind = rng.random()
    if kind < 0.03:
        return b"\n"
    if kind < 0.40:  # log line
        head = "2024-%02d-%02d %02d:%02d:%02d.%03d %-5s worker-%d" % (
            rng.randint(1, 12), rng.randint(1, 28), rng.randint(0, 23),
            rng.randint(0, 59), rng.randint(0, 59), rng.randint(0, 999),
            rng.choice(LEVELS), rng.randint(1, 64),
        )
        words = rng.choices(WORDS, k=rng.randint(2, 12))
        tail = "%s %d in %d ms" % (" ".join(words), rng.randint(0, 99999),
                                   rng.randint(0, 5000))
        return (head + " " + tail + "\n").encode()
    if kind < 0.55:  # comma-separated numbers
        fields = [str(rng.randint(0, 10 ** rng.randint(1, 7)))
                  for _ in range(rng.randint(3, 16))]
        return (",".join(fields) + "\n").encode()
    # prose: words with the odd number
    tokens = [
        str(rng.randint(0, 10 ** rng.randint(1, 6))) if rng.random() < 0.15
        else rng.choice(WORDS)
        for _ in range(rng.randint(2, 30))
    ]
    return (" ".join(tokens) + "\n").encode()


def generate_file(path: str, size: int, seed: int = 20240917) -> None:
    """Write exactly `size` bytes of lines, with the two needles planted."""
    rng = random.Random(seed)
    pool = [make_line(rng) for _ in range(1 << 16)]
    head = (b"".join(pool[:8]) + b"marker line " + NEEDLE_START + b" near the start\n"
            + b"2024-01-01 00:00:00.000 ERROR " + NEEDLE_COMMON + b" after 3 retries\n")
    tail = b"marker line " + NEEDLE_END + b" near the end\n" + b"".join(pool[8:24])
    body_size = size - len(head) - len(tail)
    if body_size < 1:
        raise SystemExit(f"file size {size} is too small")
    avg = sum(map(len, pool)) / len(pool)
    lines_per_chunk = max(1, int(4 * MiB / avg))
    with open(path, "wb") as f:
        f.write(head)
        written = 0
        while written < body_size:
            chunk = b"".join(rng.choices(pool, k=lines_per_chunk))
            if written + len(chunk) >= body_size:
                # Cut to size and end on a line boundary.
                chunk = chunk[: body_size - written - 1] + b"\n"
            f.write(chunk)
            written += len(chunk)
        f.write(tail)


@dataclass
class FileInfo:
    path: str
    size: int
    lines: int  # number of readline() calls that return data
    newlines: int
    prefix_lines: int  # complete lines within the first prefix_bytes
    prefix_bytes: int
    needle_end_at: int
    needle_start_at: int
    needle_common_at: int


# The short-line readline row's text: lines whose bytes are mostly the
# call's fixed cost, in an anonymous map of each module.
SHORT_LINES = 20_000
SHORT_LINE_MIN, SHORT_LINE_MAX = 20, 30  # bytes, newline included


def short_lines(seed: int = 11) -> bytes:
    rng = random.Random(seed)
    return b"".join(
        b"%0*d\n" % (rng.randint(SHORT_LINE_MIN, SHORT_LINE_MAX) - 1, i)
        for i in range(SHORT_LINES)
    )


def anonymous_map_of(module, data: bytes):
    m = module.mmap(-1, len(data))
    m.write(data)
    return m


def load_file(path: str, prefix_bytes: int) -> FileInfo:
    """Read the file once (to put it in the page cache) and gather counts."""
    size = os.path.getsize(path)
    prefix_bytes = min(prefix_bytes, size)
    newlines = prefix_newlines = pos = 0
    last = b""
    with open(path, "rb", buffering=0) as f:
        while True:
            chunk = f.read(16 * MiB)
            if not chunk:
                break
            newlines += chunk.count(b"\n")
            if pos < prefix_bytes:
                prefix_newlines += chunk.count(b"\n", 0, prefix_bytes - pos)
            pos += len(chunk)
            last = chunk[-1:]
        window = min(size, 64 * 1024)
        f.seek(0)
        head = f.read(window)
        f.seek(size - window)
        tail = f.read(window)
    start_at = head.find(NEEDLE_START)
    common_at = head.find(NEEDLE_COMMON)
    end_at = tail.rfind(NEEDLE_END)
    if min(start_at, common_at, end_at) < 0:
        raise SystemExit(
            f"{path}: needles not found in the first/last 64 KiB; "
            "was this file created by bench/compare.py? Remove it or pick "
            "another --file path."
        )
    return FileInfo(
        path=path,
        size=size,
        lines=newlines + (last not in (b"", b"\n")),
        newlines=newlines,
        prefix_lines=prefix_newlines,
        prefix_bytes=prefix_bytes,
        needle_end_at=size - window + end_at,
        needle_start_at=start_at,
        needle_common_at=common_at,
    )


# --------------------------------------------------------------------------
# Timed bodies.  Each takes the map and one argument; the same function runs
# for both modules.  Bound methods are cached in locals so that loop overhead
# is the same for both.


def getitem_loop(m, indices):
    for i in indices:
        m[i]


def slice16_loop(m, starts):
    for a in starts:
        m[a:a + 16]


def read_byte_loop(m, n):
    m.seek(0)
    read_byte = m.read_byte
    for _ in range(n):
        read_byte()


def seek_tell_loop(m, offsets):
    seek = m.seek
    tell = m.tell
    for x in offsets:
        seek(x)
        tell()


def tell_loop(m, n):
    tell = m.tell
    for _ in range(n):
        tell()


def len_loop(m, n):
    for _ in range(n):
        len(m)


def setitem_loop(m, indices):
    for i in indices:
        m[i] = 65


SIXTEEN = b"0123456789abcdef"


def setslice16_loop(m, starts):
    for a in starts:
        m[a:a + 16] = SIXTEEN


def find_window_loop(m, starts):
    find = m.find
    for a in starts:
        find(b"e ", a, a + 256)


def rfind_window_loop(m, starts):
    rfind = m.rfind
    for a in starts:
        rfind(b"e ", a, a + 256)


def find_onward_loop(m, starts):
    """find from a position to the end of the map: a match a few bytes on."""
    find = m.find
    for a in starts:
        find(b"e ", a)


def strided16_loop(m, starts):
    for a in starts:
        m[a:a + 32:2]


def iterate_loop(m, n):
    for _ in zip(range(n), iter(m)):
        pass


def unpack_loop(m, starts):
    """A buffer request per call, as parsers of binary files make."""
    unpack_from = struct.Struct("<I").unpack_from
    for a in starts:
        unpack_from(m, a)


def construct_loop(m, n):
    new = type(m)
    for _ in range(n):
        new(-1, 4096).close()


def readline_loop(m, n):
    m.seek(0)
    readline = m.readline
    for _ in range(n):
        readline()
    return m.tell()


def read_chunks_loop(m, size):
    m.seek(0)
    read = m.read
    while read(size):
        pass
    return m.tell()


def call_method(m, spec):
    """Large single calls: spec = (method name, args, kwargs)."""
    name, args, kwargs = spec
    return getattr(m, name)(*args, **kwargs)


def repeat_loop(m, spec):
    """spec = (a function of the map, how many calls)."""
    function, n = spec
    for _ in range(n):
        function(m)


def every_method_ops(calls: int) -> list:
    """--every-method: a row for each method and size the rows above leave
    out, so that no slower one goes unnoticed."""
    n = max(1, calls // 10)
    data16, data4k = b"0123456789abcdef", b"w" * 4096
    madvise = getattr(std_mmap, "MADV_NORMAL", None)
    rows = [  # (name, function, needs a writable map)
        ("m.__enter__()", lambda m: m.__enter__(), False),
        ("m.closed", lambda m: m.closed, False),
        ("m.seekable()", lambda m: m.seekable(), False),
        ("m.size()", lambda m: m.size(), False),
        ("seek(0) + read(16)", lambda m: (m.seek(0), m.read(16)), False),
        ("seek(0) + read(4096)", lambda m: (m.seek(0), m.read(4096)), False),
        ("m[:4096]", lambda m: m[:4096], False),
        ("m[-1]", lambda m: m[-1], False),
        ("find(2 B) in 64 KiB", lambda m: m.find(b"zq", 0, 65536), False),
        ("memoryview(m).release()", lambda m: memoryview(m).release(), False),
        ("seek(0) + write(16 B)", lambda m: (m.seek(0), m.write(data16)), True),
        ("seek(0) + write(4 KiB)", lambda m: (m.seek(0), m.write(data4k)), True),
        ("seek(0) + write_byte(1)", lambda m: (m.seek(0), m.write_byte(1)), True),
        ("m[:4096] = 4 KiB", lambda m: m.__setitem__(slice(0, 4096), data4k), True),
        ("move(0, 100, 16)", lambda m: m.move(0, 100, 16), True),
        ("flush(0, 4096)", lambda m: m.flush(0, 4096), True),
    ]
    if madvise is not None:
        rows.append(("madvise(MADV_NORMAL, 0, 4096)",
                     lambda m: m.madvise(madvise, 0, 4096), True))
    return [Op(f"[every method] {name}", repeat_loop, (function, n), n,
               maps="scratch" if writable else "file")
            for name, function, writable in rows]


def count_via_copy(m, sub):
    """The stdlib's best equivalent of count(): it has no count method."""
    return m[:].count(sub)


# --------------------------------------------------------------------------
# Operations and the interleaved runner


@dataclass
class Op:
    name: str
    body: Callable[[Any, Any], Any]
    arg: Any = None
    calls: int = 1  # unit operations per run (for per-call ns)
    large: bool = False  # report ms (+ GB/s, ns/unit) instead of ns/call
    nbytes: int = 0  # bytes processed per run, for GB/s (large ops)
    per_unit: str = ""  # large ops: also report ns per this unit
    fresh_arg: Optional[Callable[[], Any]] = None  # new argument every run
    sm_body: Optional[Callable[[Any, Any], Any]] = None  # safemmap override
    sm_arg: Any = None
    maps: str = "file"  # or "scratch" (writable, 1 MiB) or "short lines": map_pairs in main
    check: bool = False  # compare the warm-up results of both modules
    expect: Any = None  # the warm-up result both modules must return

    def body_and_arg(self, who: str):
        if who == "safemmap" and self.sm_body is not None:
            return self.sm_body, self.sm_arg
        return self.body, self.arg


@dataclass
class Result:
    op: Op
    samples: dict  # who -> list of ns
    error: str = ""
    mismatch: str = ""

    def best(self, who: str) -> int:
        return min(self.samples[who])

    @property
    def ratio(self) -> float:
        return self.best("safemmap") / self.best("stdlib")


def run_op(op: Op, map_pairs: dict, rounds: int) -> Result:
    """Run stdlib/safemmap alternately: one untimed warm-up each, then rounds."""
    maps = map_pairs[op.maps]
    samples = {who: [] for who, _ in maps}
    warm = {}
    clock = time.perf_counter_ns
    gc.collect()
    for r in range(rounds + 1):
        for who, m in maps:
            body, arg = op.body_and_arg(who)
            if op.fresh_arg is not None:
                arg = op.fresh_arg()
            try:
                t0 = clock()
                out = body(m, arg)
                t1 = clock()
            except Exception as e:  # e.g. a method safemmap lacks so far
                return Result(op, samples, error=f"{who}: {type(e).__name__}: {e}")
            if r == 0:
                warm[who] = out
            else:
                samples[who].append(t1 - t0)
    res = Result(op, samples)
    if op.expect is not None:
        wrong = [f"{who} returned {out!r}" for who, out in warm.items() if out != op.expect]
        if wrong:
            res.mismatch = f"expected {op.expect!r}; " + ", ".join(wrong)
    elif op.check and warm["stdlib"] != warm["safemmap"]:
        res.mismatch = f"stdlib returned {warm['stdlib']!r}, safemmap {warm['safemmap']!r}"
    return res


def accepts_workers(m, method: str) -> bool:
    """Does m.<method> take a workers= keyword (a possible future feature)?"""
    fn = getattr(m, method, None)
    if fn is None:
        return False
    try:
        fn(b"\n", 0, 16, workers=1)
    except Exception:  # TypeError: unexpected keyword argument
        return False
    return True


def build_ops(info: FileInfo, calls: int, sm_map, seed: int = 7) -> list:
    rng = random.Random(seed)
    size = info.size
    hot = min(size, MiB)
    hot_idx = [rng.randrange(hot) for _ in range(calls)]
    hot_starts = [rng.randrange(hot - 16) for _ in range(calls)]
    seek_offsets = [rng.randrange(size) for _ in range(calls)]
    cold_rng = random.Random(seed + 1)

    def cold(span):
        # A fresh list for every run: the same list run twice would find its
        # cache lines in L3 the second time (both maps share physical pages).
        return lambda: cold_rng.choices(range(span), k=calls)

    prefix_mib = info.prefix_bytes / MiB
    ops = [
        Op("m[i], hot (first MiB)", getitem_loop, hot_idx, calls),
        Op("m[i], cold (whole file)", getitem_loop, calls=calls, fresh_arg=cold(size)),
        Op("m[a:a+16], hot", slice16_loop, hot_starts, calls),
        Op("m[a:a+16], cold", slice16_loop, calls=calls, fresh_arg=cold(size - 16)),
        Op("read_byte()", read_byte_loop, min(calls, size), min(calls, size)),
        Op("seek(x) + tell(), per pair", seek_tell_loop, seek_offsets, calls),
        Op("tell()", tell_loop, calls, calls),
        Op("len(m)", len_loop, calls, calls),
        Op("m[i] = v, 1 MiB anonymous map", setitem_loop, hot_idx, calls, maps="scratch"),
        Op("m[a:a+16] = 16 B, 1 MiB anonymous map", setslice16_loop, hot_starts, calls,
           maps="scratch"),
        Op("find(2 B) in 256 B windows, hot", find_window_loop, hot_starts, calls),
        Op("rfind(2 B) in 256 B windows, hot", rfind_window_loop, hot_starts, calls),
        Op("find(2 B) from a position to the end, hot", find_onward_loop, hot_starts, calls),
        Op("m[a:a+32:2], hot", strided16_loop, hot_starts, calls),
        Op("iter(m), per byte", iterate_loop, min(calls, size), min(calls, size)),
        Op("struct.unpack_from('<I', m, a), hot", unpack_loop, hot_starts, calls),
        Op("mmap(-1, 4096) + close()", construct_loop, calls // 20, calls // 20),
        Op(f"readline(), first {prefix_mib:g} MiB, per line", readline_loop,
           info.prefix_lines, info.prefix_lines, check=True),
        Op(f"readline(), {SHORT_LINES:,} lines of {SHORT_LINE_MIN}-{SHORT_LINE_MAX} B, per line",
           readline_loop, SHORT_LINES, SHORT_LINES, check=True, maps="short lines"),
        Op(f"readline() loop, whole file ({info.lines:,} lines)", readline_loop,
           info.lines, info.lines, large=True, per_unit="line", expect=size),
        Op("read(65536) loop, whole file", read_chunks_loop, 65536,
           large=True, nbytes=size, expect=size),
    ]

    # find/rfind take start explicitly: mmap's start defaults to the position.
    def search(name, title, args, nbytes, expect):
        spec = (name, args, {})
        rows = [Op(title, call_method, spec, large=True, nbytes=nbytes, expect=expect)]
        if accepts_workers(sm_map, name):
            rows[0].name += ", default workers"
            rows.append(Op(title + ", workers=1", call_method, spec, large=True,
                           nbytes=nbytes, expect=expect, sm_body=call_method,
                           sm_arg=(name, args, {"workers": 1})))
        return rows

    ops += search("find", "find(16 B needle near end)", (NEEDLE_END, 0),
                  info.needle_end_at + 16, info.needle_end_at)
    ops += search("rfind", "rfind(16 B needle near start, bytes absent from text)",
                  (NEEDLE_START, 0), size - info.needle_start_at, info.needle_start_at)
    ops += search("rfind", "rfind(16 B needle near start, bytes common in text)",
                  (NEEDLE_COMMON, 0), size - info.needle_common_at, info.needle_common_at)
    ops += search("find", "find(absent byte)", (ABSENT_BYTE, 0), size, -1)

    if hasattr(sm_map, "count"):
        # safemmap: m.count(b"\n", 0); the stdlib has no count: m[:].count(b"\n").
        for row in search("count", "count(b'\\n')", (b"\n", 0), size, info.newlines):
            row.name += " [stdlib: m[:].count]"
            row.body, row.arg = count_via_copy, b"\n"
            if row.sm_body is None:
                row.sm_body, row.sm_arg = call_method, ("count", (b"\n", 0), {})
            ops.append(row)
    return ops


# --------------------------------------------------------------------------
# Reporting


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info(sm, info: FileInfo, rounds: int, standin: bool) -> dict:
    cores = os.cpu_count()
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = cores
    return {
        "cpu": cpu_model(),
        "cores": cores,
        "usable_cores": usable,
        "os": f"{platform.system()} {platform.release()} {platform.machine()}",
        "python": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "safemmap_version": getattr(sm, "__version__", None),
        "safemmap_file": getattr(sm, "__file__", None),
        "safemmap_is_stdlib_standin": standin,
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "file_bytes": info.size,
        "file_lines": info.lines,
        "rounds": rounds,
    }


def header_line(meta: dict) -> str:
    cores = f"{meta['cores']} cores"
    if meta["usable_cores"] != meta["cores"]:
        cores += f" ({meta['usable_cores']} usable)"
    version = meta["safemmap_version"] or "(no __version__)"
    sm = f"safemmap {version}"
    if meta["safemmap_is_stdlib_standin"]:
        sm += " [STAND-IN: the stdlib mmap]"
    size = meta["file_bytes"] / MiB
    return (
        f"{meta['cpu']}, {cores}, {meta['os']}; "
        f"Python {meta['python']}; {sm}; {meta['date'][:10]}; "
        f"{size:g} MiB page-cached text file, {meta['file_lines']:,} lines; "
        f"best of {meta['rounds']} interleaved rounds"
    )


def fmt_cell(op: Op, ns: int) -> str:
    if not op.large:
        return f"{ns / op.calls:.1f} ns"
    ms = ns / 1e6
    parts = [f"{ms:.1f} ms" if ms >= 10 else f"{ms:.2f} ms" if ms >= 1 else f"{ms:.3f} ms"]
    if op.nbytes:
        parts.append(f"{op.nbytes / ns:.2f} GB/s")  # bytes per ns == GB/s
    if op.per_unit:
        parts.append(f"{ns / op.calls:.1f} ns/{op.per_unit}")
    return ", ".join(parts)


def table_rows(results: list) -> list:
    rows = []
    for r in results:
        if r.error:
            rows.append((r.op.name, "-", "-", "skipped"))
            continue
        ratio = f"{r.ratio:.2f}"
        if r.mismatch:
            ratio += " MISMATCH"
        rows.append((r.op.name, fmt_cell(r.op, r.best("stdlib")),
                     fmt_cell(r.op, r.best("safemmap")), ratio))
    return rows


def geomean(values: list) -> Optional[float]:
    return math.exp(sum(map(math.log, values)) / len(values)) if values else None


def summary(results: list) -> dict:
    ok = [r for r in results if not r.error and not r.mismatch]
    return {
        "geomean_ratio_small": geomean([r.ratio for r in ok if not r.op.large]),
        "geomean_ratio_large": geomean([r.ratio for r in ok if r.op.large]),
    }


HEADERS = ("operation", "stdlib mmap", "safemmap", "safemmap/stdlib")


def print_text(meta: dict, results: list) -> None:
    rows = table_rows(results)
    widths = [max(len(str(x)) for x in col) for col in zip(HEADERS, *rows)]
    print(header_line(meta))
    print()
    line = "  ".join(f"{{:{'<' if i == 0 else '>'}{w}}}" for i, w in enumerate(widths))
    print(line.format(*HEADERS))
    print("  ".join("-" * w for w in widths))
    for i, row in enumerate(rows):
        if i and results[i].op.large and not results[i - 1].op.large:
            print()
        print(line.format(*row))
    s = summary(results)
    small, large = (s["geomean_ratio_small"], s["geomean_ratio_large"])
    print()
    print(f"geometric mean of ratios: small ops {small or float('nan'):.2f}, "
          f"large ops {large or float('nan'):.2f} (lower is better)")
    print_problems(results)


def print_problems(results: list) -> None:
    for r in results:
        if r.error:
            print(f"skipped: {r.op.name}: {r.error}")
        if r.mismatch:
            print(f"WARNING: {r.op.name}: wrong result: {r.mismatch}")


def print_markdown(meta: dict, results: list) -> None:
    print(f"Machine: {header_line(meta)}.")
    print()
    print("| " + " | ".join(HEADERS) + " |")
    print("| --- | ---: | ---: | ---: |")
    for row in table_rows(results):
        cells = [c.replace("|", "\\|") for c in row]
        cells[0] = f"`{cells[0]}`" if cells[0].startswith(("m[", "m.")) else cells[0]
        print("| " + " | ".join(cells) + " |")
    if any(r.error or r.mismatch for r in results):
        print()
        print_problems(results)


def write_json(path: str, meta: dict, results: list) -> None:
    data = {"meta": meta, "summary": summary(results), "results": []}
    for r in results:
        row = {
            "operation": r.op.name,
            "large": r.op.large,
            "calls": r.op.calls,
            "bytes": r.op.nbytes,
            "error": r.error or None,
            "mismatch": r.mismatch or None,
        }
        if not r.error:
            row.update(
                stdlib_best_ns=r.best("stdlib"),
                safemmap_best_ns=r.best("safemmap"),
                ratio=r.ratio,
                stdlib_ns_per_call=r.best("stdlib") / r.op.calls,
                safemmap_ns_per_call=r.best("safemmap") / r.op.calls,
                stdlib_samples_ns=r.samples["stdlib"],
                safemmap_samples_ns=r.samples["safemmap"],
            )
        data["results"].append(row)
    with open(path, "w") as f:
        json.dump(data, f, indent=2)
        f.write("\n")


# --------------------------------------------------------------------------


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description="Compare safemmap with CPython's mmap (interleaved, best of N).")
    p.add_argument("--rounds", type=int, default=None,
                   help="timed runs per module and operation (default 5; --quick: 3)")
    p.add_argument("--size-mib", type=float, default=None,
                   help="size of the generated test file (default 256; --quick: 8)")
    p.add_argument("--file", metavar="PATH",
                   help="test file to reuse; created (and kept) if it does not exist")
    p.add_argument("--calls", type=int, default=None,
                   help="calls per run for the small operations (default 100000; --quick: 10000)")
    p.add_argument("--readline-mib", type=float, default=None,
                   help="size of the prefix read by the short readline row (default 16; --quick: 1)")
    p.add_argument("--quick", action="store_true",
                   help="small file and few iterations: a smoke test in a few seconds")
    p.add_argument("--every-method", action="store_true",
                   help="also time every method and size the default rows leave out")
    p.add_argument("--filter", metavar="REGEX",
                   help="only run operations whose name matches REGEX")
    p.add_argument("--module", default="safemmap",
                   help="module to compare with the stdlib (default: safemmap)")
    p.add_argument("--json", metavar="FILE", help="also write the results to FILE")
    p.add_argument("--markdown", action="store_true",
                   help="print a Markdown table (for BENCHMARKS.md) instead of text")
    args = p.parse_args(argv)
    quick = args.quick
    if args.rounds is None:
        args.rounds = 3 if quick else 5
    if args.size_mib is None:
        args.size_mib = 8 if quick else 256
    if args.calls is None:
        args.calls = 10_000 if quick else 100_000
    if args.readline_mib is None:
        args.readline_mib = 1 if quick else 16
    if args.rounds < 1 or args.calls < 1 or args.size_mib <= 0:
        p.error("--rounds, --calls and --size-mib must be positive")
    return args


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        sm = importlib.import_module(args.module)
    except ImportError as e:
        log(f"cannot import {args.module}: {e}")
        return 2
    standin = getattr(sm, "mmap", None) is std_mmap.mmap
    if standin:
        log(f"note: {args.module}.mmap is the stdlib mmap (a stand-in); ratios will be ~1.0")

    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="safemmap-bench-") as tmp:
        path = args.file or os.path.join(tmp, "bench.txt")
        if not os.path.exists(path):
            log(f"writing {args.size_mib:g} MiB test file {path} ...")
            generate_file(path, int(args.size_mib * MiB))
        elif args.file:
            log(f"reusing {path} ({os.path.getsize(path) / MiB:g} MiB)")
        info = load_file(path, int(args.readline_mib * MiB))

        with open(path, "rb") as f_std, open(path, "rb") as f_sm:
            m_std = std_mmap.mmap(f_std.fileno(), 0, access=std_mmap.ACCESS_READ)
            m_sm = sm.mmap(f_sm.fileno(), 0, access=sm.ACCESS_READ)
            maps = [("stdlib", m_std), ("safemmap", m_sm)]
            lines = short_lines()
            map_pairs = {  # the maps each row may run on: Op.maps
                "file": maps,
                "scratch": [("stdlib", std_mmap.mmap(-1, MiB)), ("safemmap", sm.mmap(-1, MiB))],
                "short lines": [("stdlib", anonymous_map_of(std_mmap, lines)),
                                ("safemmap", anonymous_map_of(sm, lines))],
            }
            # Pre-fault both mappings (each has its own page tables) so that
            # no timed run pays for page faults.
            for _, m in maps:
                try:
                    read_chunks_loop(m, MiB)
                except Exception:
                    pass
            ops = build_ops(info, args.calls, m_sm)
            if args.every_method:
                ops += every_method_ops(args.calls)
            if args.filter:
                ops = [op for op in ops if re.search(args.filter, op.name)]
            if not hasattr(m_sm, "count"):
                log(f"note: {args.module}.mmap has no count(); count row skipped")

            results = []
            gc_was_enabled = gc.isenabled()
            gc.disable()
            try:
                for op in ops:
                    log(f"  {op.name}")
                    results.append(run_op(op, map_pairs, args.rounds))
            finally:
                if gc_was_enabled:
                    gc.enable()
            m_std.close()
            m_sm.close()

    meta = machine_info(sm, info, args.rounds, standin)
    meta["elapsed_s"] = round(time.perf_counter() - started, 1)
    if args.markdown:
        print_markdown(meta, results)
    else:
        print_text(meta, results)
    if args.json:
        write_json(args.json, meta, results)
        log(f"wrote {args.json}")
    log(f"done in {meta['elapsed_s']} s")
    return 1 if any(r.mismatch for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
