//! Memory-mapped files that never kill the process.
//!
//! `safemmap` maps files and anonymous memory, like `memmap2` or CPython's
//! `mmap`, with one difference of principle: **mapped bytes are only ever
//! reached through one module of this crate, the door**, and safe code never
//! holds a `&[u8]` over a mapping. Everything else follows from that:
//!
//! * Mapping a file is a *safe* function. With a slice over a shared file,
//!   another process that writes or truncates the file breaks the promises a
//!   `&[u8]` makes to the compiler; `memmap2` has to make its constructors
//!   `unsafe` for it. Here bytes are copied in and out (or searched in place
//!   by routines that return indexes, not borrows).
//! * The door is where fault protection lives: an access that faults (the
//!   file was truncated, a disk or network file system failed, the page was
//!   made inaccessible) is turned into an [`io::Error`](std::io::Error).
//! * Lifetimes are the borrow checker's: reads take `&self`; writes, seeks,
//!   resizes and drops take `&mut self` or `self`, so nothing can unmap a
//!   region while another thread is reading it.
//!
//! [`Mmap`] behaves like CPython 3.13's `mmap` object (the Python module of
//! this project is a drop-in for it) and like a file: it implements
//! [`Read`](std::io::Read), [`Write`](std::io::Write),
//! [`Seek`](std::io::Seek) and [`BufRead`](std::io::BufRead), and adds
//! positional access, search, resize, flush and advice.
//!
//! ```
//! use std::io::{Read, Write};
//! use safemmap::{Access, Mmap, MmapOptions};
//!
//! let mut file = tempfile::tempfile()?;
//! file.write_all(b"first line\nsecond line\n")?;
//!
//! let mut map = Mmap::map(&file)?;
//! assert_eq!(map.find(b"second", ..)?, Some(11));
//! map.write_at(0, b"FIRST")?;
//! let mut text = String::new();
//! map.read_to_string(&mut text)?;
//! assert_eq!(text, "FIRST line\nsecond line\n");
//!
//! let read_only = MmapOptions::new().access(Access::Read).map(&file)?;
//! assert!(read_only.to_vec()?.starts_with(b"FIRST"));
//! let mut word = [0; 6];
//! read_only.read_exact_at(11, &mut word)?;
//! assert_eq!(&word, b"second");
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! No safe call panics: arguments out of range, and a position left past
//! the end by a shrink, give `Ok` or `Err`.
//!
//! ## Coming from memmap2
//!
//! `memmap2` lends the map as a `&[u8]`; safemmap never does (a slice over
//! a file that another process truncates is undefined behaviour, and a
//! crash on access). What you did with the slice, you do with a call:
//!
//! | with `memmap2` | with safemmap |
//! |---|---|
//! | `unsafe { Mmap::map(&file) }` | [`Mmap::map_read_only(&file)`](Mmap::map_read_only): safe |
//! | `unsafe { MmapMut::map_mut(&file) }` | [`Mmap::map(&file)`](Mmap::map) (read-write, shared) |
//! | `MmapOptions::new().offset(o).len(n).map(&file)` | the same names on [`MmapOptions`], plus [`access`](MmapOptions::access) |
//! | `MmapMut::map_anon(n)` | [`Mmap::anonymous(n)`](Mmap::anonymous) |
//! | `map[i]` | [`map.byte_at(i)?`](Mmap::byte_at) |
//! | `u32::from_le_bytes(map[o..o + 4].try_into()?)` | [`map.read_le::<u32>(o)?`](Mmap::read_le), inlined (below) |
//! | `buf.copy_from_slice(&map[o..o + buf.len()])` | [`map.read_exact_at(o, &mut buf)?`](Mmap::read_exact_at): all or an `UnexpectedEof` error; [`read_at`](Mmap::read_at) copies what there is |
//! | `map[o..o + n].copy_from_slice(data)` | [`map.write_all_at(o, data)?`](Mmap::write_all_at) |
//! | `map.to_vec()` | [`map.to_vec()?`](Mmap::to_vec) |
//! | `memchr::memmem::find(&map, needle)` | [`map.find(needle, ..)?`](Mmap::find), [`rfind`](Mmap::rfind), with any range |
//! | `bytecount::count(&map, b'\n')`, `memchr::memmem::find_iter(..).count()` | [`map.count(b"\n", ..)?`](Mmap::count) (non-overlapping) |
//! | `io::Cursor::new(&map[..])` for `Read`/`BufRead` | the map itself: [`Read`](std::io::Read), [`BufRead`](std::io::BufRead), [`Seek`](std::io::Seek), [`Write`](std::io::Write) |
//! | `map.flush()`, `flush_async()`, `flush_range(o, n)`, `flush_async_range(o, n)` | the same names |
//! | `map.advise(Advice::Sequential)`, `advise_range(advice, o, n)` | [`map.advise(Advice::Sequential, o, n)`](Mmap::advise); any raw value with [`advise_raw`](Mmap::advise_raw) |
//! | `map.lock()`, `unlock()` | the same names |
//! | `MmapOptions::populate()`, `huge(None)` | [`populate(true)`](MmapOptions::populate), [`huge_pages(true)`](MmapOptions::huge_pages) |
//! | `file.set_len(n)` and a new map | [`map.resize(n)`](Mmap::resize), or [`map.refresh_len()`](Mmap::refresh_len) to follow the file (below) |
//! | SIGBUS kills the process | an `io::Error`; [`safemmap::fault(&err)`](fault) gives the offset and errno |
//!
//! What each costs. A read or write of up to 16 bytes at an offset is
//! inlined (below); a longer one is one fault-protected copy: a call with
//! a fixed cost of a few tens of instructions, then `memcpy` speed. [`find`](Mmap::find),
//! [`rfind`](Mmap::rfind) and [`count`](Mmap::count) run in the map
//! itself with `memchr`'s and `bytecount`'s SIMD routines, nothing
//! copied, split across threads above [`MIN_CHUNK`] of range (the
//! `parallel` feature): as fast as the same routines over a slice, or
//! faster. [`BufRead`](std::io::BufRead) copies 8 KiB per refill. An
//! empty file maps to an empty map, as with `memmap2`. `BENCHMARKS.md` in
//! the repository has the measured ratios against `memmap2`.
//!
//! Numbers and small values: `u64::from_le_bytes(map[o..o + 8].try_into()?)`
//! becomes [`map.read_le::<u64>(o)?`](Mmap::read_le) (or
//! [`read_be`](Mmap::read_be), [`write_le`](Mmap::write_le),
//! [`write_be`](Mmap::write_be), for every integer and float): a bounds
//! check, one load inlined into the caller and a test, about slice speed
//! (on Windows a call into the door, a few instructions more). Many
//! lookups at once: [`gather_le`](Mmap::gather_le) in one protected call.
//! A `bytemuck` cast of a record: `read_pod`/`write_pod` (feature
//! `bytemuck`). A loop over the whole file: [`map.chunks(4 << 10)`](Mmap::chunks)
//! copies it out a block at a time into one reused buffer, with
//! [`overlap(n)`](Chunks::overlap) for parsers and regexes that need the
//! end of the block before: one copy more than a slice pass, about 1.1x
//! its time with blocks of 4-16 KiB (larger ones leave the L1 cache and
//! ran 1.5-2x). A field of every fixed-size record needs no copy at all:
//! a loop of [`read_le`](Mmap::read_le) over the records' offsets,
//!
//! ```
//! # let mut map = safemmap::Mmap::anonymous(64)?;
//! # map.write_le::<u64>(8, 5)?;
//! # map.write_le::<u64>(40, 7)?;
//! const RECORD: usize = 32;
//! const FIELD: usize = 8;
//! let mut sum = 0_u64;
//! for at in (FIELD..map.len()).step_by(RECORD) {
//!     sum = sum.wrapping_add(map.read_le::<u64>(at)?);
//! }
//! # assert_eq!(sum, 12);
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! is one inlined load per record and ran at 1.02-1.07x `memmap2`'s pass
//! over the slice (a page-cached file, which the loop reads at memory
//! speed either way).
//!
//! What [`resize`](Mmap::resize) does: like CPython's `mmap.resize`, it
//! sets **the file's** length to the map's offset plus the new length,
//! growing the file with zeros or cutting it, and maps the new length.
//! It is for a map that owns its file. To follow a file that another
//! writer grows (a log) or cuts, leaving it alone, call
//! [`refresh_len`](Mmap::refresh_len): it maps the file's current length,
//! on read-only maps too.
//!
//! Cargo features: `parallel` (default) runs large scans on a thread pool
//! (`rayon`); without it the crate depends on `memchr`, `bytecount` and
//! the OS bindings only, and scans run on the calling thread. `bytemuck`
//! (optional) adds `read_pod` and `write_pod`.
//!
//! ## Living with other users of SIGSEGV and SIGBUS
//!
//! On Unix, the handler that turns faults into errors is one of possibly
//! several users of the two signals. What is not a fault of this crate's own
//! access goes to the actions it displaced, delivered as the kernel would
//! have: their `sa_mask` and `SA_NODEFER`, `SA_SIGINFO` or not,
//! `SA_RESETHAND` once; the default action kills with the right signal, and
//! a signal sent with `kill` or `raise` is never taken for a fault. Chaining
//! is per thread and re-entrant; a handler that never returns
//! (`siglongjmp`) leaves nothing behind. `fork()` is safe at any moment: no
//! lock or one-time start can be inherited held, and no other thread's
//! guard record. There is no limit on threads. A handler installed after
//! this crate's runs first until [`install_fault_handler`] (or the next
//! construction of a file's map) puts this crate's back on top; one
//! uninstalled again should be reported with [`forget_displaced_handler`].
//! The rules and their limits are in `sys/unix/signal.rs`; the soundness
//! argument in `door/guard.rs`.
//!
//! ## Layout
//!
//! * `door`: the only code that dereferences mapped memory, and
//!   `door::guard`, fault protection (its docs hold the soundness argument).
//! * `arch`: the instructions that may fault, in assembly (x86-64, AArch64):
//!   leaf routines, and loads and stores inlined into the door, found by
//!   the handler in an exception table.
//! * `sys`: the only code that names an operating system (`sys/unix/`,
//!   `sys/windows.rs`): mappings, descriptors, the signal or exception
//!   handler.
//! * [`MmapOptions`] and [`Access`]: how a map is made, with CPython's
//!   validation rules; [`Mmap`]: what it does; [`View`] and [`Scan`]:
//!   searching and counting, in parallel for large ranges.
//! * [`Error`]: the crate's own refusals, carried inside `io::Error`;
//!   [`fault`] picks out a stopped fault.
//! * [`cpu`]: how many CPUs, and how many workers to start.

mod advice;
mod arch;
pub mod cpu;
mod door;
mod error;
mod mmap;
mod options;
mod scan;
mod sys;

pub use advice::Advice;
pub use error::{fault, refusal, transferred, Error, Fault, FaultKind, Region};
pub use mmap::{Chunks, Line, Mmap, Resize, Scalar};
pub use options::{Access, MmapOptions};
pub use scan::{default_workers, set_default_workers, Begun, Scan, View, MIN_CHUNK};
pub use sys::{raw, AsFile};

/// Installs safemmap's SIGBUS/SIGSEGV handler, or puts it back on top if
/// another handler was installed after it (safemmap then chains to that one
/// for every fault that is not its own). Every construction of a file's map
/// does this (an anonymous map's installs it only if it never was); call
/// it after installing a handler of your own while maps exist.
pub fn install_fault_handler() {
    sys::install_fault_handler();
}

/// Tells safemmap that the handler installed over its own last (which it
/// chains to) was uninstalled by its owner, who put back the action it had
/// displaced, as Python's `faulthandler.disable()` does: safemmap stops
/// chaining to it, and goes back on top if that action was not its own.
/// Nothing to do on Windows, where a vectored handler displaces nothing.
pub fn forget_displaced_handler() {
    sys::forget_displaced_handler();
}

/// Copies `len` bytes from `src` to `dst` through the fault-protected
/// routine the maps' own copies use, for memory that may be mapped by
/// someone else (a buffer another library lends): a fault in either range
/// becomes an error ([`Error::Fault`]: its [`Region`] says which range,
/// its offset is counted from that range's start, and it counts the bytes
/// certainly copied) rather than a crash, once the fault handler is
/// installed (making a map installs it, as does [`install_fault_handler`]).
///
/// # Safety
/// Both ranges are valid for the copy, apart from faults, and do not
/// overlap.
pub unsafe fn copy_fault_safe(dst: *mut u8, src: *const u8, len: usize) -> std::io::Result<()> {
    // SAFETY: passed on from the caller.
    unsafe { door::copy_foreign(dst, src, len) }
}

/// The size of a memory page.
pub fn page_size() -> usize {
    sys::page_size()
}

/// What a mapping's file offset must be a multiple of.
pub fn allocation_granularity() -> usize {
    sys::allocation_granularity()
}

/// How many times this process has been a child of fork() since this
/// library was loaded (always 0 on Windows). Bookkeeping about threads busy with a map can
/// record it: once the count has changed, the bookkeeping was inherited
/// through fork() and speaks of threads the child does not have.
pub fn fork_count() -> usize {
    sys::fork_count()
}
