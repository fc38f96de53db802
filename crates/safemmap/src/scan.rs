//! Reading, searching and counting through a [`View`], which reaches a
//! map's bytes without borrowing the [`Mmap`](crate::Mmap), and [`Scan`],
//! which splits large searches and counts across threads.
//!
//! ## Parallel scans
//!
//! A scan cuts its range into blocks of [`BLOCK`] bytes, which up to `w`
//! workers take in order (from the end for `rfind`) on a shared thread pool
//! sized by [`available_cpu_count`](crate::cpu::available_cpu_count); a
//! range gets a thread per [`MIN_CHUNK`] at most (below that, waking
//! threads costs more than it saves). Each block's window reaches
//! `needle.len() - 1` bytes into the next one, so a match that straddles a
//! border is found by the block it starts in, and only there. Taking
//! blocks in turn keeps both workers busy to the end, however unevenly the
//! machine runs them. The results are exactly the serial scan's:
//!
//! * `find` and `rfind` take the first hit in block order, and start no
//!   block past it: a match near the start costs a block or so of work per
//!   worker, never the scan of a far part of the range (nor a fault there,
//!   in a file cut short beyond the match). Their first block is searched
//!   on the calling thread alone, so a match in it wakes no thread at all;
//! * `count` adds up the blocks' counts when occurrences cannot overlap one
//!   another (one byte, or a needle with no border, like `"\r\n"`); for a
//!   needle like `"aa"`, where greedy non-overlapping counting depends on
//!   where the previous match ended, the scan is one serial pass.
//!
//! Without the `parallel` cargo feature (on by default) there is no pool:
//! the calling thread searches every block itself, in the same order, with
//! the same results.

use std::io;
use std::marker::PhantomData;
use std::ops::{Bound, Range, RangeBounds};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

use crate::advice::Advice;
use crate::door::Mapped;
use crate::error::Error;
use crate::options::Access;
use crate::sys;

mod pool;

/// The smallest piece of a scan worth a thread of its own.
pub const MIN_CHUNK: usize = 4 << 20;

/// The piece of a scan a worker takes at a time: some tens of microseconds
/// of work, against well under one to hand it out.
pub const BLOCK: usize = 1 << 20;

/// The workers a scan uses unless told otherwise; 0 until first needed.
static DEFAULT_WORKERS: AtomicUsize = AtomicUsize::new(0);

/// How many workers scans use by default:
/// [`available_cpu_count`](crate::cpu::available_cpu_count), computed at the
/// first large scan (it reads cgroup files, which takes tens of
/// microseconds) unless [`set_default_workers`] came first.
pub fn default_workers() -> usize {
    match DEFAULT_WORKERS.load(Ordering::Relaxed) {
        0 => {
            let workers = crate::cpu::available_cpu_count();
            DEFAULT_WORKERS.store(workers, Ordering::Relaxed);
            workers
        }
        workers => workers,
    }
}

/// Changes how many workers scans use by default (0 counts as 1). The
/// Python module sets it at import from its own count, which also honours
/// `-X cpu_count`. The thread pool, once started, keeps its size.
pub fn set_default_workers(workers: usize) {
    DEFAULT_WORKERS.store(workers.max(1), Ordering::Relaxed);
}

/// A map's bytes and access, usable without borrowing the `Mmap`: for
/// work done while the map's owner keeps it pinned by other means (the
/// Python bindings scan with the GIL released while close and resize wait).
/// Obtained with [`Mmap::view`](crate::Mmap::view).
#[derive(Debug, Clone, Copy)]
pub struct View {
    base: *mut u8,
    len: usize,
    access: Access,
}

// SAFETY: a View only reads and flushes through the door, which may run
// on any thread; its creator vouches that the mapping outlives its use.
unsafe impl Send for View {}
// SAFETY: as for Send: every method takes `&self` and only reads.
unsafe impl Sync for View {}

impl View {
    /// # Safety
    /// `base..base + len` is a live mapping that stays mapped, unmoved, for
    /// as long as the view (or a copy of it) is used, and the fault handler
    /// is installed.
    pub(crate) unsafe fn new(base: *mut u8, len: usize, access: Access) -> View {
        View { base, len, access }
    }

    fn mem(&self) -> Mapped<'_> {
        // SAFETY: the view's creator promised the mapping outlives its use.
        unsafe { Mapped::new(self.base, self.len) }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Copies bytes from `offset` into `buf`, as many as fit before the end;
    /// returns how many.
    pub fn read_at(&self, offset: usize, buf: &mut [u8]) -> io::Result<usize> {
        let count = buf.len().min(self.len.saturating_sub(offset));
        if count == 0 {
            // `offset` may lie past the end, where the door has no bytes.
            return Ok(0);
        }
        self.mem().read(offset, &mut buf[..count])?;
        Ok(count)
    }

    /// Copies `len` bytes from `offset` to raw memory, which may be any
    /// memory (this map's included); all of them must lie in the map.
    ///
    /// # Safety
    /// `dst..dst + len` is writable and not referenced during the call.
    #[inline]
    pub unsafe fn read_raw(&self, offset: usize, dst: *mut u8, len: usize) -> io::Result<()> {
        if len == 0 {
            return Ok(());
        }
        if offset > self.len || self.len - offset < len {
            return Err(Error::IndexOutOfRange.into());
        }
        // SAFETY: passed on from the caller; the door checks the source.
        unsafe { self.mem().read_raw(offset, dst, len) }
    }

    /// Copies `len` bytes from raw memory (which may be this very mapping)
    /// to `offset`; all of them fit, or nothing is written.
    ///
    /// # Safety
    /// `src..src + len` stays readable during the call.
    pub unsafe fn write_raw(&self, offset: usize, src: *const u8, len: usize) -> io::Result<()> {
        if self.access == Access::Read {
            return Err(Error::ReadOnly.into());
        }
        if offset > self.len || self.len - offset < len {
            return Err(Error::DataOutOfRange.into());
        }
        // SAFETY: passed on from the caller; the door checks the destination.
        unsafe { self.mem().write_raw(offset, src, len) }
    }

    /// A search or count over `range`, clamped to the map.
    pub fn scan(&self, range: impl RangeBounds<usize>) -> Scan<'static> {
        Scan::new(*self, range)
    }

    /// See [`Mmap::flush_range`](crate::Mmap::flush_range).
    pub fn flush_range(&self, offset: usize, len: usize) -> io::Result<()> {
        self.flush_range_with(offset, len, 0)
    }

    /// See [`Mmap::flush_range_with`](crate::Mmap::flush_range_with).
    pub fn flush_range_with(&self, offset: usize, len: usize, flags: i32) -> io::Result<()> {
        // SAFETY: `write_back` passes a range inside the live mapping.
        self.write_back(offset, len, |at, len| unsafe { sys::flush(at, len, flags) })
    }

    /// See [`Mmap::flush_async_range`](crate::Mmap::flush_async_range).
    pub fn flush_async_range(&self, offset: usize, len: usize) -> io::Result<()> {
        // SAFETY: as in `flush_range_with`.
        self.write_back(offset, len, |at, len| unsafe { sys::flush_async(at, len) })
    }

    /// Checks a flush's range and has `flush` write it back: `flush` is
    /// only called with a range that lies in the live mapping.
    fn write_back(
        &self,
        offset: usize,
        len: usize,
        flush: impl FnOnce(*mut u8, usize) -> io::Result<()>,
    ) -> io::Result<()> {
        if offset > self.len || len > self.len - offset {
            return Err(Error::FlushOutOfRange.into());
        }
        // Read-only and copy-on-write maps have nothing to write back, nor
        // an empty file's, which has nothing mapped.
        if matches!(self.access, Access::Read | Access::Copy) || self.len == 0 {
            return Ok(());
        }
        // SAFETY: the range lies in the mapping (checked above).
        flush(unsafe { self.base.add(offset) }, len)
    }

    /// See [`Mmap::lock`](crate::Mmap::lock).
    pub fn lock(&self) -> io::Result<()> {
        self.whole(sys::lock)
    }

    /// See [`Mmap::unlock`](crate::Mmap::unlock).
    pub fn unlock(&self) -> io::Result<()> {
        self.whole(sys::unlock)
    }

    /// Makes `call` over the whole mapping, if any (an empty map has
    /// none). `call` may only require that its range lie in a live mapping.
    fn whole(&self, call: unsafe fn(*mut u8, usize) -> io::Result<()>) -> io::Result<()> {
        match self.len {
            0 => Ok(()),
            // SAFETY: `base..base + len` is the live mapping (the view's promise).
            len => unsafe { call(self.base, len) },
        }
    }

    /// See [`Mmap::advise`](crate::Mmap::advise).
    pub fn advise(&self, advice: Advice, start: usize, len: usize) -> io::Result<()> {
        self.advise_raw(advice.as_raw(), start, len)
    }

    /// See [`Mmap::advise_raw`](crate::Mmap::advise_raw).
    pub fn advise_raw(&self, advice: i32, start: usize, len: usize) -> io::Result<()> {
        if start >= self.len {
            return Err(Error::AdviseStartOutOfRange.into());
        }
        if len > isize::MAX as usize {
            return Err(Error::AdviseLengthInvalid.into());
        }
        if start + len > isize::MAX as usize {
            return Err(Error::AdviseLengthTooLarge.into());
        }
        let len = len.min(self.len - start);
        // SAFETY: `start..start + len` lies in the mapping (checked above).
        unsafe { sys::advise(self.base.add(start), len, advice) }
    }
}

/// `range` clamped to `0..len`, or `None` if it ends before it starts.
fn clamp(range: impl RangeBounds<usize>, len: usize) -> Option<Range<usize>> {
    let start = match range.start_bound() {
        Bound::Included(&s) => s,
        Bound::Excluded(&s) => s.saturating_add(1),
        Bound::Unbounded => 0,
    };
    let end = match range.end_bound() {
        Bound::Included(&e) => e.saturating_add(1),
        Bound::Excluded(&e) => e,
        Bound::Unbounded => len,
    };
    let (start, end) = (start.min(len), end.min(len));
    (start <= end).then_some(start..end)
}

/// A search or count over part of a map. By default it may use
/// [`available_cpu_count`](crate::cpu::available_cpu_count) threads;
/// [`workers`](Self::workers) changes that, 1 meaning serial.
///
/// ```
/// let mut map = safemmap::Mmap::anonymous(1 << 20)?;
/// map.write_at(1000, b"needle")?;
/// assert_eq!(map.scan(..).workers(1).find(b"needle")?, Some(1000));
/// assert_eq!(map.scan(500..).count(b"\0")?, (1 << 20) - 500 - 6);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Scan<'a> {
    view: View,
    /// `None` for a range that ends before it starts: nothing is found.
    range: Option<Range<usize>>,
    /// `None`: [`default_workers`].
    workers: Option<usize>,
    _borrow: PhantomData<&'a ()>,
}

impl<'a> Scan<'a> {
    pub(crate) fn new(view: View, range: impl RangeBounds<usize>) -> Scan<'a> {
        Scan {
            view,
            range: clamp(range, view.len),
            workers: None,
            _borrow: PhantomData,
        }
    }

    /// How many threads may share the scan (0 counts as 1). Without the
    /// `parallel` feature the calling thread does it all, whatever this says.
    pub fn workers(mut self, workers: usize) -> Self {
        self.workers = Some(workers.max(1));
        self
    }

    /// The first index of `needle` lying wholly inside the range. An empty
    /// needle is found at the range's start.
    pub fn find(&self, needle: &[u8]) -> io::Result<Option<usize>> {
        self.search(needle, false)
    }

    /// The last index of `needle` lying wholly inside the range. An empty
    /// needle is found at the range's end.
    pub fn rfind(&self, needle: &[u8]) -> io::Result<Option<usize>> {
        self.search(needle, true)
    }

    /// [`find`](Self::find) over the matches that start in the first
    /// `near` bytes of the range only: the answer if it is there (or the
    /// range holds nothing more), else the scan of the rest. For callers
    /// that search the near part differently from the rest (the Python
    /// bindings hold the GIL for it, and let go of it for the rest).
    pub fn find_near(&self, needle: &[u8], near: usize) -> io::Result<Begun<'a>> {
        self.search_near(needle, near, false)
    }

    /// [`rfind`](Self::rfind) over the matches that start at the last
    /// `near` places one can start at: see [`find_near`](Self::find_near).
    pub fn rfind_near(&self, needle: &[u8], near: usize) -> io::Result<Begun<'a>> {
        self.search_near(needle, near, true)
    }

    /// How many non-overlapping occurrences of `needle` lie in the range,
    /// counted from its start as `bytes.count` counts them (an empty needle:
    /// one more than the range's length).
    pub fn count(&self, needle: &[u8]) -> io::Result<usize> {
        let Some(range) = self.range.clone() else {
            return Ok(0);
        };
        if needle.is_empty() {
            return Ok(range.len() + 1);
        }
        if has_border(needle) {
            return self.view.mem().count(range, needle);
        }
        let counts = self.per_block(range, needle.len(), false, Result::is_err, |mem, window| {
            mem.count(window, needle)
        });
        counts.into_iter().sum()
    }

    /// find (rfind if `reverse`): the first block alone, then the rest.
    fn search(&self, needle: &[u8], reverse: bool) -> io::Result<Option<usize>> {
        match self.search_near(needle, BLOCK, reverse)? {
            Begun::Done(found) => Ok(found),
            Begun::Farther(rest) => rest.search_blocks(needle, reverse),
        }
    }

    /// The rest of [`search`](Self::search), in blocks. Out of line, so
    /// that a short search stays small.
    #[inline(never)]
    fn search_blocks(&self, needle: &[u8], reverse: bool) -> io::Result<Option<usize>> {
        let Some(range) = self.range.clone() else {
            return Ok(None);
        };
        let hit = |found: &io::Result<Option<usize>>| !matches!(found, Ok(None));
        let hits = self.per_block(range, needle.len(), reverse, hit, |mem, window| {
            search_window(mem, window, needle, reverse)
        });
        hits.into_iter()
            .flat_map(Result::transpose)
            .next()
            .transpose()
    }

    /// The matches that start in the first (last, if `reverse`) `near`
    /// places of the range, searched on this thread: the answer, or the
    /// scan of the rest.
    fn search_near(&self, needle: &[u8], near: usize, reverse: bool) -> io::Result<Begun<'a>> {
        let Some(range) = self.range.clone() else {
            return Ok(Begun::Done(None));
        };
        if needle.is_empty() {
            return Ok(Begun::Done(Some(if reverse {
                range.end
            } else {
                range.start
            })));
        }
        // The bytes of the matches that start in the near part, and the
        // range of all the others.
        let reach = near.saturating_add(needle.len() - 1);
        let (window, rest) = match reverse {
            false if range.len() > reach => (
                range.start..range.start + reach,
                range.start + near..range.end,
            ),
            true if range.len() > reach => {
                (range.end - reach..range.end, range.start..range.end - near)
            }
            _ => (range, 0..0),
        };
        let found = search_window(self.view.mem(), window, needle, reverse)?;
        if found.is_some() || rest.is_empty() {
            return Ok(Begun::Done(found));
        }
        let mut rest_scan = self.clone();
        rest_scan.range = Some(rest);
        Ok(Begun::Farther(rest_scan))
    }

    /// Runs `search` over the blocks of `range` (see the module docs), in
    /// order, from the end if `reverse`. A block whose result `ends` the
    /// scan (a find's hit, an error) is the last one started. The results
    /// in block order, up to that block.
    fn per_block<R: Send + Sync>(
        &self,
        range: Range<usize>,
        needle_len: usize,
        reverse: bool,
        ends: impl Fn(&io::Result<R>) -> bool + Sync,
        search: impl Fn(Mapped<'_>, Range<usize>) -> io::Result<R> + Sync,
    ) -> Vec<io::Result<R>> {
        let blocks = range.len().div_ceil(BLOCK);
        let window = |order: usize| {
            let i = if reverse { blocks - 1 - order } else { order };
            let start = range.start + i * BLOCK;
            start..(start + BLOCK + needle_len - 1).min(range.end)
        };
        let next = AtomicUsize::new(0);
        let ended = AtomicUsize::new(usize::MAX);
        let results: Vec<OnceLock<io::Result<R>>> = (0..blocks).map(|_| OnceLock::new()).collect();
        let view = self.view;
        let work = || loop {
            // Blocks go out in order; none past one that ended the scan.
            let order = next.fetch_add(1, Ordering::Relaxed);
            if order >= blocks || order > ended.load(Ordering::Relaxed) {
                return;
            }
            let result = search(view.mem(), window(order));
            if ends(&result) {
                ended.fetch_min(order, Ordering::Relaxed);
            }
            let _ = results[order].set(result);
        };
        let threads = self
            .workers
            .unwrap_or_else(default_workers)
            .min(range.len() / MIN_CHUNK);
        pool::run_workers(threads, work);
        // Every block up to the one that ended the scan was searched: a
        // worker skips a block only once an earlier one has ended it.
        let searched = ended.into_inner().saturating_add(1).min(blocks);
        results
            .into_iter()
            .take(searched)
            .map(|result| {
                result
                    .into_inner()
                    .expect("a block before the end unsearched")
            })
            .collect()
    }
}

/// find (rfind if `reverse`) of `needle` in `window`, on this thread.
fn search_window(
    mem: Mapped<'_>,
    window: Range<usize>,
    needle: &[u8],
    reverse: bool,
) -> io::Result<Option<usize>> {
    match reverse {
        false => mem.find(window, needle),
        true => mem.rfind(window, needle),
    }
}

/// How a search that began near its start ended: see [`Scan::find_near`].
#[derive(Debug)]
pub enum Begun<'a> {
    /// The search's answer.
    Done(Option<usize>),
    /// Nothing near the start: the rest of the search to run.
    Farther(Scan<'a>),
}

/// Whether some proper prefix of `needle` is also its suffix, so that two
/// occurrences can overlap (the last value of the KMP failure function).
fn has_border(needle: &[u8]) -> bool {
    let mut failure = vec![0usize; needle.len()];
    let mut k = 0;
    for i in 1..needle.len() {
        while k > 0 && needle[i] != needle[k] {
            k = failure[k - 1];
        }
        if needle[i] == needle[k] {
            k += 1;
        }
        failure[i] = k;
    }
    failure.last().is_some_and(|&border| border > 0)
}

#[cfg(test)]
mod tests {
    use super::has_border;

    #[test]
    fn borders() {
        for needle in [&b"aa"[..], b"abab", b"aba", b"a\x00a"] {
            assert!(has_border(needle), "{needle:?}");
        }
        for needle in [&b"a"[..], b"ab", b"\r\n", b"abcabd", b"needle"] {
            assert!(!has_border(needle), "{needle:?}");
        }
    }
}
