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
//! What differs from `memmap2` for its users: [`Mmap::map`] maps read-write
//! (its error for a file open for reading only, [`Error::FileNotWritable`],
//! names [`Mmap::map_read_only`]); an empty file gives an empty map there
//! too; bytes are copied out ([`Mmap::read_at`], [`Mmap::read_exact_at`],
//! [`Mmap::to_vec`]) instead of borrowed: numbers by
//! [`Mmap::read_le`]/[`Mmap::read_be`] (inlined: a bounds check, a load and
//! a test), many at once by [`Mmap::gather_le`], plain-old-data values by
//! `Mmap::read_pod` (feature `bytemuck`), and everything a block at a time
//! by [`Mmap::chunks`]. No safe call panics: arguments
//! out of range, and a position left past the end by a shrink, give `Ok`
//! or `Err`.
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
//! * [`Error`]: the crate's own refusals, carried inside `io::Error`.
//! * [`cpu`]: how many CPUs, and how many workers to start.

mod arch;
pub mod cpu;
mod door;
mod error;
mod mmap;
mod options;
mod scan;
mod sys;

pub use error::{refusal, transferred, Error, Fault, FaultKind, Region};
pub use mmap::{Chunks, Mmap, Resize, Scalar};
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
