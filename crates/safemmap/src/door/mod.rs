//! The one door to mapped memory.
//!
//! Every read, write, copy and search of mapped bytes in this crate goes
//! through [`Mapped`]; no other module dereferences a mapping. That keeps
//! two promises in one place:
//!
//! * **No references to shared memory in safe code.** Another process may
//!   change or truncate a shared file mapping at any moment, so a `&[u8]`
//!   over it would let the compiler assume things that are false. Safe code
//!   only ever sees copies; the door reaches the mapping through raw
//!   pointers. (The one exception, searching in place, lends a slice to
//!   memchr's and bytecount's routines for the duration of one guarded call
//!   inside this module; short ranges are searched in a copy instead.)
//! * **Fault protection.** Every access runs under [`guard`]: a fault comes
//!   back as an `io::Error` carrying [`Fault`], and the map stays usable.
//! * **No fault that the answer does not need.** The search routines read
//!   ahead of the byte they test (vector loops, the copy a short range is
//!   searched in), so they may fault on a page past the answer, where the
//!   file was cut, when the answer itself lies in bytes still there. A
//!   search that faults is run again on the part of its range the faulting
//!   page leaves on the side it looks from first (before the page for
//!   `find`, after it for `rfind`), as long as that part is not empty: its
//!   answer there is the answer, and finding nothing there returns the
//!   first fault. A read copies exactly the bytes it is asked for, except
//!   [`read_leading`](Mapped::read_leading), which stops before a fault.
//!   The retries live on the error path: the searches that do not fault
//!   pay nothing for them.
//!
//! Callers check their own bounds and report their own errors; the door
//! asserts them again, because a wrong bound here would be memory unsafety.

pub(crate) mod guard;

use std::io;
use std::marker::PhantomData;
use std::mem::size_of;
use std::ops::Range;
use std::ptr;

use guard::Caught;

use crate::arch::{self, Word};
use crate::error::{Error, Fault, Region};
use crate::sys;

/// The longest read or write done by inline accesses rather than the
/// leaf routine's copy: two loads of 8 bytes cover it.
const INLINE_LEN: usize = 16;

/// A live mapping, borrowed for `'a`: while a `Mapped<'a>` exists the
/// mapping can be neither unmapped nor moved.
#[derive(Clone, Copy)]
pub(crate) struct Mapped<'a> {
    base: *mut u8,
    len: usize,
    _borrow: PhantomData<&'a ()>,
}

/// Copies `len` bytes from `src` to `dst`, neither of them necessarily a
/// map of ours (a buffer another library lends may be its mapping): a
/// fault in either range is an error, its offset counted from that range.
///
/// # Safety
/// Both ranges are valid for the copy (they may fault) and do not overlap.
pub(crate) unsafe fn copy_foreign(dst: *mut u8, src: *const u8, len: usize) -> io::Result<()> {
    // SAFETY: passed on from the caller; the routine's faults are caught
    // wherever they are.
    unsafe { guard::copy(dst, src, len) }.map_err(|caught| copy_fault(caught, None, dst, src, len))
}

/// The panic for a range a caller failed to check: out of line, so that
/// the checks cost a compare each.
#[cold]
#[inline(never)]
fn outside(range: Range<usize>, len: usize) -> ! {
    panic!("safemmap bug: {range:?} outside a mapping of {len} bytes")
}

/// The error for a fault the guard caught in `region`, which starts at
/// `start` and holds the faulting address.
#[cold]
#[inline(never)]
fn fault_in(caught: Caught, region: Region, start: usize, transferred: usize) -> io::Error {
    let (kind, os_error) = sys::classify_fault(caught.code);
    Error::Fault(Fault {
        kind,
        region,
        offset: caught.address - start,
        transferred,
        os_error,
    })
    .into()
}

/// The error for a fault in the leaf routine's copy of `len` bytes from
/// `src` to `dst`, in whichever of the map's `span` (when one side lies in
/// a map), `dst` and `src` holds the faulting address.
#[cold]
#[inline(never)]
fn copy_fault(
    caught: Caught,
    span: Option<Range<usize>>,
    dst: *mut u8,
    src: *const u8,
    len: usize,
) -> io::Error {
    let address = caught.address;
    let (dst, src) = (dst as usize, src as usize);
    // The routine touches nothing but its two ranges.
    let (side, side_start) = if (dst..dst + len).contains(&address) {
        (Region::Destination, dst)
    } else {
        (Region::Source, src)
    };
    // The routine copies forwards, block by block (see `arch::COPY_BLOCK`):
    // every block before the one holding the faulting page's first byte
    // reached the destination.
    let page_start = address & !(sys::page_size() - 1);
    let transferred = page_start.saturating_sub(side_start) / arch::COPY_BLOCK * arch::COPY_BLOCK;
    match span {
        Some(span) if span.contains(&address) => {
            fault_in(caught, Region::Map, span.start, transferred)
        }
        _ => fault_in(caught, side, side_start, transferred),
    }
}

impl<'a> Mapped<'a> {
    /// # Safety
    /// `base..base + len` is one live mapping (or, for `len == 0`, any
    /// non-null pointer) that stays mapped, unmoved, for `'a`, and the fault
    /// handler is installed (every map construction installs it).
    pub(crate) unsafe fn new(base: *mut u8, len: usize) -> Self {
        Mapped {
            base,
            len,
            _borrow: PhantomData,
        }
    }

    fn check(&self, range: &Range<usize>) {
        if range.start > range.end || range.end > self.len {
            outside(range.clone(), self.len);
        }
    }

    /// [`check`](Self::check) of `at..at + len`, written as the public
    /// calls check their ranges (against the last offset such a range may
    /// start at), so that the compiler sees the two are one and keeps one.
    #[inline(always)]
    fn check_fits(&self, at: usize, len: usize) {
        match self.len.checked_sub(len) {
            Some(last) if at <= last => {}
            _ => outside(at..at.wrapping_add(len), self.len),
        }
    }

    /// The whole mapping as an address range, for the guard.
    fn span(&self) -> Range<usize> {
        self.base as usize..self.base as usize + self.len
    }

    /// The error for a fault the guard caught in this mapping, outside the
    /// leaf routine's copy: nothing is known to be transferred.
    fn fault(&self, caught: Caught) -> io::Error {
        fault_in(caught, Region::Map, self.base as usize, 0)
    }

    /// Runs `body` guarded over this mapping.
    fn guarded<R: Copy>(&self, body: impl FnOnce() -> R + Copy) -> io::Result<R> {
        // SAFETY: the mapping is live for 'a and every caller keeps `body`
        // inside it (checked bounds).
        unsafe { guard::guarded(self.span(), body) }?.map_err(|caught| self.fault(caught))
    }

    /// Copies `dst.len()` bytes starting at `at` into `dst`. Up to
    /// [`INLINE_LEN`] bytes are loaded by inline accesses (see
    /// [`read_inline`](Self::read_inline)), more by the leaf routine.
    #[inline]
    pub(crate) fn read(&self, at: usize, dst: &mut [u8]) -> io::Result<()> {
        if dst.len() <= INLINE_LEN {
            // SAFETY: a Rust buffer is writable while borrowed.
            return unsafe { self.read_inline(at, dst.as_mut_ptr(), dst.len()) };
        }
        // SAFETY: as above.
        unsafe { self.read_raw(at, dst.as_mut_ptr(), dst.len()) }
    }

    /// [`read`](Self::read) into raw memory that lies outside this mapping
    /// (a buffer just allocated, say): no overlap test, and up to
    /// [`INLINE_LEN`] bytes by inline loads.
    ///
    /// # Safety
    /// `dst..dst + len` is writable for the duration of the call, not
    /// referenced, and does not overlap this mapping.
    #[inline(always)]
    pub(crate) unsafe fn read_disjoint(
        &self,
        at: usize,
        dst: *mut u8,
        len: usize,
    ) -> io::Result<()> {
        if len <= INLINE_LEN {
            // SAFETY: passed on from the caller.
            return unsafe { self.read_inline(at, dst, len) };
        }
        self.check(&(at..at + len));
        // SAFETY: the source lies in the mapping (checked above); the caller
        // vouches for the destination, which does not overlap it.
        unsafe { self.copy_apart(dst, self.base.add(at), len) }
    }

    /// Copies at most [`INLINE_LEN`] bytes from `at` to `dst`: two loads of
    /// the widest word that fits, at the start and at the end of the range
    /// (the same one when it is exactly that wide), both before any store.
    /// A read whose length the compiler knows becomes one or two loads.
    ///
    /// # Safety
    /// `dst..dst + len` is writable for the duration of the call and not
    /// referenced (it may overlap the mapping: every load comes first).
    #[inline(always)]
    unsafe fn read_inline(&self, at: usize, dst: *mut u8, len: usize) -> io::Result<()> {
        self.check_fits(at, len);
        // SAFETY (all four): passed on from the caller; the range lies in
        // the mapping (checked above) and holds one or two of the words.
        unsafe {
            match len {
                0 => Ok(()),
                1 => self.read_ends::<u8>(at, dst, len),
                2..=3 => self.read_ends::<u16>(at, dst, len),
                4..=7 => self.read_ends::<u32>(at, dst, len),
                _ => self.read_ends::<u64>(at, dst, len),
            }
        }
    }

    /// Fills `dst..dst + len`, one to two `W`s, from `at` with a load of `W`
    /// at each end.
    ///
    /// # Safety
    /// `at..at + len` lies in the live mapping, `dst..dst + len` is
    /// writable and not referenced, and `size_of::<W>() <= len <= 2 *
    /// size_of::<W>()`.
    #[inline(always)]
    unsafe fn read_ends<W: Word>(&self, at: usize, dst: *mut u8, len: usize) -> io::Result<()> {
        let last = len - size_of::<W>();
        let fault = |caught| self.fault(caught);
        // SAFETY: passed on from the caller: the first `W` of the range.
        let first = unsafe { guard::load::<W>(self.base, at) }.map_err(fault)?;
        let end = match last {
            0 => first,
            // SAFETY: as above: the last `W` of the range.
            _ => unsafe { guard::load::<W>(self.base, at + last) }.map_err(fault)?,
        };
        // SAFETY: `dst` holds at least one `W` from 0 and from `last`
        // (passed on from the caller); unaligned stores.
        unsafe {
            dst.cast::<W>().write_unaligned(first);
            dst.add(last).cast::<W>().write_unaligned(end);
        }
        Ok(())
    }

    /// Copies `src` into the mapping at `at`; up to [`INLINE_LEN`] bytes
    /// by inline stores, as [`read_inline`](Self::read_inline) loads. A
    /// fault after the first of two stores reports nothing transferred.
    #[inline]
    pub(crate) fn write(&self, at: usize, src: &[u8]) -> io::Result<()> {
        if src.len() > INLINE_LEN {
            // SAFETY: a Rust slice is readable while borrowed.
            return unsafe { self.write_raw(at, src.as_ptr(), src.len()) };
        }
        self.check_fits(at, src.len());
        match src.len() {
            0 => Ok(()),
            1 => self.write_ends::<u8>(at, src),
            2..=3 => self.write_ends::<u16>(at, src),
            4..=7 => self.write_ends::<u32>(at, src),
            _ => self.write_ends::<u64>(at, src),
        }
    }

    /// Stores `src`, of one to two `W`s, at `at` with a store of `W` at
    /// each end, both loaded from `src` first.
    #[inline(always)]
    fn write_ends<W: Word>(&self, at: usize, src: &[u8]) -> io::Result<()> {
        let last = src.len() - size_of::<W>();
        let from = src.as_ptr();
        // SAFETY: `src` holds at least one `W` from 0 and from `last`.
        let (first, end) = unsafe {
            (
                from.cast::<W>().read_unaligned(),
                from.add(last).cast::<W>().read_unaligned(),
            )
        };
        let fault = |caught| self.fault(caught);
        // SAFETY: the caller checked that `at..at + src.len()` lies in the
        // live mapping, and `size_of::<W>() <= src.len()`.
        unsafe { guard::store(self.base, at, first) }.map_err(fault)?;
        if last != 0 {
            // SAFETY: as above: the last `W` of the range.
            unsafe { guard::store(self.base, at + last, end) }.map_err(fault)?;
        }
        Ok(())
    }

    /// Copies `len` bytes starting at `at` to `dst`, like memmove.
    ///
    /// # Safety
    /// `dst..dst + len` is writable for the duration of the call, and not
    /// referenced. It may be any memory, this mapping included.
    #[inline]
    pub(crate) unsafe fn read_raw(&self, at: usize, dst: *mut u8, len: usize) -> io::Result<()> {
        self.check(&(at..at + len));
        // SAFETY: the source lies in the mapping (checked above); the caller
        // vouches for the destination.
        unsafe { self.copy(dst, self.base.add(at), len) }
    }

    /// The byte at `at`.
    #[inline]
    pub(crate) fn byte(&self, at: usize) -> io::Result<u8> {
        self.check(&(at..at + 1));
        // SAFETY: `at` lies in the live mapping (checked above).
        unsafe { guard::load(self.base, at) }.map_err(|caught| self.fault(caught))
    }

    /// Copies `len` bytes from `src` to the mapping at `at`, like memmove.
    ///
    /// # Safety
    /// `src..src + len` is readable for the duration of the call. It may be
    /// any memory, this mapping included.
    pub(crate) unsafe fn write_raw(&self, at: usize, src: *const u8, len: usize) -> io::Result<()> {
        self.check(&(at..at + len));
        // SAFETY: the destination lies in the mapping (checked above); the
        // caller vouches for the source.
        unsafe { self.copy(self.base.add(at), src, len) }
    }

    /// Copies `len` bytes from `src` to `dst`, one side in this mapping.
    ///
    /// # Safety
    /// Both ranges are valid for the copy; either may overlap the other.
    unsafe fn copy(&self, dst: *mut u8, src: *const u8, len: usize) -> io::Result<()> {
        let apart = |a: usize, b: usize| a.wrapping_sub(b) >= len;
        if apart(dst as usize, src as usize) && apart(src as usize, dst as usize) {
            // SAFETY: passed on from the caller, and the ranges do not overlap.
            return unsafe { self.copy_apart(dst, src, len) };
        }
        // SAFETY: passed on from the caller.
        unsafe { self.copy_overlapping(dst, src, len) }
    }

    /// [`copy`](Self::copy) of ranges that do not overlap, by the leaf
    /// routine whatever the size: its faults are recognised wherever they
    /// are, on the side that is not this mapping too (a view of another map
    /// whose file shrank). A guarded call of the C library's memcpy, faster
    /// from 16 MiB into fresh memory, would catch faults in this mapping only.
    ///
    /// # Safety
    /// As for [`copy`](Self::copy), and the ranges do not overlap.
    #[inline(always)]
    unsafe fn copy_apart(&self, dst: *mut u8, src: *const u8, len: usize) -> io::Result<()> {
        // SAFETY: passed on from the caller.
        unsafe { guard::copy(dst, src, len) }
            .map_err(|caught| copy_fault(caught, Some(self.span()), dst, src, len))
    }

    /// [`copy`](Self::copy) of ranges that overlap: rare (a map copied
    /// into itself), so out of line, keeping `copy` small enough to inline.
    /// `ptr::copy` may run backwards, so a fault reports nothing transferred.
    ///
    /// # Safety
    /// As for [`copy`](Self::copy).
    #[inline(never)]
    unsafe fn copy_overlapping(&self, dst: *mut u8, src: *const u8, len: usize) -> io::Result<()> {
        // SAFETY: passed on from the caller; `ptr::copy` allows the overlap.
        self.guarded(move || unsafe { ptr::copy(src, dst, len) })
    }

    /// Stores `value` at `at`.
    #[inline]
    pub(crate) fn set_byte(&self, at: usize, value: u8) -> io::Result<()> {
        self.check(&(at..at + 1));
        // SAFETY: `at` lies in the live mapping (checked above).
        unsafe { guard::store(self.base, at, value) }.map_err(|caught| self.fault(caught))
    }

    /// Copies `len` bytes from `src` to `dst` inside the mapping, like memmove.
    pub(crate) fn copy_within(&self, dst: usize, src: usize, len: usize) -> io::Result<()> {
        self.check(&(src..src + len));
        // SAFETY: both ranges lie in the live mapping (checked here and in
        // `write_raw`), which also handles their overlap.
        unsafe { self.write_raw(dst, self.base.add(src), len) }
    }

    /// Fills `dst` with the bytes at `start`, `start + step`, ...
    pub(crate) fn gather(&self, start: usize, step: isize, dst: &mut [u8]) -> io::Result<()> {
        self.check_strided(start, step, dst.len());
        let (base, out, count) = (self.base, dst.as_mut_ptr(), dst.len());
        self.guarded(move || {
            for i in 0..count {
                // SAFETY: every strided index lies in the mapping (checked
                // above) and `i < count`, the length of `dst`.
                unsafe { out.add(i).write(base.add(strided(start, step, i)).read()) };
            }
        })
    }

    /// Stores `src` at `start`, `start + step`, ...
    pub(crate) fn scatter(&self, start: usize, step: isize, src: &[u8]) -> io::Result<()> {
        self.check_strided(start, step, src.len());
        let (base, from, count) = (self.base, src.as_ptr(), src.len());
        self.guarded(move || {
            for i in 0..count {
                // SAFETY: as in `gather`, the other way round.
                unsafe { base.add(strided(start, step, i)).write(from.add(i).read()) };
            }
        })
    }

    fn check_strided(&self, start: usize, step: isize, count: usize) {
        if let Some(last) = count.checked_sub(1) {
            self.check(&(start..start + 1));
            let end = strided(start, step, last);
            self.check(&(end..end + 1));
        }
    }

    /// The first index of `needle` wholly inside `range`.
    pub(crate) fn find(&self, range: Range<usize>, needle: &[u8]) -> io::Result<Option<usize>> {
        self.before_faults(range, Direction::Forward, |part| {
            self.find_or_fault(part, needle)
        })
    }

    /// [`find`](Self::find), failing on a fault anywhere it reads.
    #[inline]
    fn find_or_fault(&self, range: Range<usize>, needle: &[u8]) -> io::Result<Option<usize>> {
        if let &[byte] = needle {
            // The C library's memchr needs no searcher built first, and is
            // tuned for the machine (AVX-512 where there is one).
            return self.locate(range, move |hay| sys::memchr(byte, hay));
        }
        let finder = memchr::memmem::Finder::new(needle);
        let finder = &finder;
        let rare = Rare::for_range(needle, range.len());
        self.locate(range, move |hay| {
            // No match starts before the first rare byte.
            let from = match rare {
                Some(rare) => line_start(hay, rare.first_start(hay)?),
                None => 0,
            };
            finder.find(&hay[from..]).map(|i| from + i)
        })
    }

    /// The last index of `needle` wholly inside `range`.
    ///
    /// memchr's reverse searcher has no SIMD prefilter, so it only searches
    /// the last `NEAR` bytes, where a match is found before a forward
    /// searcher would be built. The rest is searched forwards, window by
    /// window from the end, each only up to where its last match may start
    /// (see [`Rare`]): the first window holding a match holds the last
    /// one. Consecutive windows (and the near part) overlap by
    /// `needle.len() - 1` bytes, so no match falls between them. A window of
    /// 1 MiB streams as fast as a forward scan (256 KiB ran 20% slower) and
    /// wastes at most some 30 us when the match lies near its end.
    pub(crate) fn rfind(&self, range: Range<usize>, needle: &[u8]) -> io::Result<Option<usize>> {
        self.before_faults(range, Direction::Backward, |part| {
            self.rfind_or_fault(part, needle)
        })
    }

    /// [`rfind`](Self::rfind), failing on a fault anywhere it reads.
    fn rfind_or_fault(&self, range: Range<usize>, needle: &[u8]) -> io::Result<Option<usize>> {
        const NEAR: usize = 512;
        const WINDOW: usize = 1 << 20;
        if let &[byte] = needle {
            return self.locate(range, move |hay| memchr::memrchr(byte, hay));
        }
        let near = range.end - range.len().min(NEAR);
        // Built out here: a guarded call may be abandoned, and must hold
        // nothing with a destructor (see `guard`).
        let near_finder = memchr::memmem::FinderRev::new(needle);
        let near_finder = &near_finder;
        let found = self.locate(near..range.end, move |hay| near_finder.rfind(hay))?;
        if found.is_some() || near == range.start {
            return Ok(found);
        }
        let rest = range.start..(near + needle.len() - 1).min(range.end);
        let finder = memchr::memmem::Finder::new(needle);
        let finder = &finder;
        let rare = Rare::for_range(needle, rest.len());
        let window = WINDOW.max(2 * needle.len());
        self.locate(rest, move |hay| {
            let mut end = hay.len();
            loop {
                let start = end.saturating_sub(window);
                let part = &hay[start..end];
                // No match starts after the last rare byte.
                let reach = rare.map_or(part.len(), |rare| {
                    rare.last_start(part)
                        .map_or(0, |last| part.len().min(last + needle.len()))
                });
                if let Some(last) = last_match(finder, &part[..reach]) {
                    return Some(start + last);
                }
                if start == 0 {
                    return None;
                }
                end = start + needle.len() - 1;
            }
        })
    }

    /// The first index of `byte` inside `range`: for finding the ends of
    /// lines. Most lines are short, so the first bytes are searched by the
    /// leaf routine, which needs no guarded call but compares only 16 bytes
    /// at a time (x86-64: 32 in its first step); the C library's memchr
    /// takes the rest (from about 512 bytes on, it makes up for the guarded
    /// call's cost). A line found there without a fault returns at once;
    /// the rest of a longer one, and a search that faulted, go on out of
    /// line (a short line's search is then a tenth of `readline()`'s work,
    /// not a fifth).
    #[inline]
    pub(crate) fn find_byte(&self, range: Range<usize>, byte: u8) -> io::Result<Option<usize>> {
        let (near, found) = self.find_byte_near(&range, byte);
        match found {
            Ok(Some(index)) => Ok(Some(index)),
            Ok(None) if near.end == range.end => Ok(None),
            // None before `near.end`: the rest alone holds the answer.
            Ok(None) => self.find_byte_retrying(near.end..range.end, byte),
            Err(_) => self.find_byte_retrying(range, byte),
        }
    }

    /// [`find_byte`](Self::find_byte) with the retries after a fault.
    #[inline(never)]
    fn find_byte_retrying(&self, range: Range<usize>, byte: u8) -> io::Result<Option<usize>> {
        self.before_faults(range, Direction::Forward, |part| {
            self.find_byte_or_fault(part, byte)
        })
    }

    /// [`find_byte`](Self::find_byte), failing on a fault anywhere it reads.
    #[inline]
    fn find_byte_or_fault(&self, range: Range<usize>, byte: u8) -> io::Result<Option<usize>> {
        let (near, found) = self.find_byte_near(&range, byte);
        match found.map_err(|caught| self.fault(caught))? {
            Some(index) => Ok(Some(index)),
            None if near.end == range.end => Ok(None),
            None => self.find_byte_far(near.end..range.end, byte),
        }
    }

    /// The leaf routine's search of the first bytes of `range`: the part it
    /// searched, and the index of `byte` if that part holds one.
    #[inline(always)]
    fn find_byte_near(
        &self,
        range: &Range<usize>,
        byte: u8,
    ) -> (Range<usize>, Result<Option<usize>, Caught>) {
        const LEAF_SPAN: usize = 512;
        let near = range.start..range.end.min(range.start.saturating_add(LEAF_SPAN));
        self.check(&near);
        // SAFETY: the range lies in the live mapping (checked above).
        let found =
            unsafe { guard::find_byte(self.base.wrapping_add(near.start), near.len(), byte) };
        let found = found.map(|index| (index < near.len()).then(|| near.start + index));
        (near, found)
    }

    /// The rest of [`find_byte`](Self::find_byte): out of line, so that the
    /// search of a short line stays small.
    #[inline(never)]
    fn find_byte_far(&self, range: Range<usize>, byte: u8) -> io::Result<Option<usize>> {
        self.locate(range, move |hay| sys::memchr(byte, hay))
    }

    /// Copies the bytes from `at` into `dst`: all of them, or, if a page
    /// among them faults, those before it (if there are any; else the
    /// fault). How many.
    pub(crate) fn read_leading(&self, at: usize, dst: &mut [u8]) -> io::Result<usize> {
        let copied = self.before_faults(at..at + dst.len(), Direction::Forward, |part| {
            self.read(at, &mut dst[..part.len()])?;
            Ok(Some(part.len()))
        })?;
        // Every attempt that does not fault copies: `None` never comes.
        Ok(copied.unwrap_or_default())
    }

    /// `attempt(range)`, and after a fault, `attempt` again on the part of
    /// `range` the faulting page leaves on `direction`'s first side, while
    /// that part is shorter and not empty (see the module docs). The first
    /// fault is the error when no part has the answer.
    #[inline(always)]
    fn before_faults<T>(
        &self,
        range: Range<usize>,
        direction: Direction,
        mut attempt: impl FnMut(Range<usize>) -> io::Result<Option<T>>,
    ) -> io::Result<Option<T>> {
        match attempt(range.clone()) {
            Err(first) => self.retry_owning(first, range, direction, attempt),
            done => done,
        }
    }

    /// Hands `attempt` to the retries by value: a reference taken on the
    /// search's own path made it store the closure's captures there first
    /// (readline ran some 5% slower).
    #[cold]
    #[inline(never)]
    fn retry_owning<T>(
        &self,
        first: io::Error,
        range: Range<usize>,
        direction: Direction,
        mut attempt: impl FnMut(Range<usize>) -> io::Result<Option<T>>,
    ) -> io::Result<Option<T>> {
        self.retry_before_faults(first, range, direction, &mut attempt)
    }

    /// The retries of [`before_faults`](Self::before_faults): out of line,
    /// off the path of the searches that do not fault.
    #[cold]
    #[inline(never)]
    fn retry_before_faults<T>(
        &self,
        first: io::Error,
        range: Range<usize>,
        direction: Direction,
        attempt: &mut dyn FnMut(Range<usize>) -> io::Result<Option<T>>,
    ) -> io::Result<Option<T>> {
        let mut part = range;
        let mut fault = fault_offset(&first);
        while let Some(readable) = fault.and_then(|at| self.readable_side(&part, at, direction)) {
            match attempt(readable.clone()) {
                Ok(None) => break,
                Err(err) => (part, fault) = (readable, fault_offset(&err)),
                found => return found,
            }
        }
        Err(first)
    }

    /// The part of `range` before (or, `Backward`, after) the page of the
    /// fault at offset `fault`, if it is shorter than `range` and not empty.
    fn readable_side(
        &self,
        range: &Range<usize>,
        fault: usize,
        direction: Direction,
    ) -> Option<Range<usize>> {
        // Pages are aligned in the address space, not necessarily in the map.
        let page = sys::page_size();
        let base = self.base as usize;
        let address = base.wrapping_add(fault);
        let page_start = address - address % page;
        let part = match direction {
            Direction::Forward => range.start..page_start.saturating_sub(base),
            Direction::Backward => (page_start + page).saturating_sub(base)..range.end,
        };
        let inside = range.start <= part.start && part.end <= range.end;
        (inside && !part.is_empty() && part != *range).then_some(part)
    }

    /// How many non-overlapping occurrences of a non-empty `needle` lie in
    /// `range`, counted greedily from its start.
    pub(crate) fn count(&self, range: Range<usize>, needle: &[u8]) -> io::Result<usize> {
        if let &[byte] = needle {
            return self.scan(range, move |hay| bytecount::count(hay, byte));
        }
        let finder = memchr::memmem::Finder::new(needle);
        let finder = &finder;
        self.scan(range, move |hay| count_matches(finder, hay))
    }

    /// Runs `search` over the mapped bytes of `range`; the index it finds,
    /// counted from the range's start, becomes an offset in the mapping.
    fn locate(
        &self,
        range: Range<usize>,
        search: impl Fn(&[u8]) -> Option<usize> + Copy,
    ) -> io::Result<Option<usize>> {
        let start = range.start;
        Ok(self.scan(range, search)?.map(|i| start + i))
    }

    /// Runs `scan` over the mapped bytes of `range`: in place, inside a
    /// guarded call, or, for a short range, over a copy the leaf routine
    /// makes, which costs less than setting up the guarded call.
    fn scan<R: Copy>(
        &self,
        range: Range<usize>,
        scan: impl Fn(&[u8]) -> R + Copy,
    ) -> io::Result<R> {
        const COPIED: usize = 512;
        self.check(&range);
        let (start, len) = (self.base.wrapping_add(range.start), range.len());
        if len <= COPIED {
            let mut copy = std::mem::MaybeUninit::<[u8; COPIED]>::uninit();
            let copy = copy.as_mut_ptr().cast::<u8>();
            // SAFETY: the range lies in the mapping (checked above) and the
            // buffer holds `len` bytes, which the copy initialises.
            unsafe {
                self.read_raw(range.start, copy, len)?;
                return Ok(scan(std::slice::from_raw_parts(copy, len)));
            }
        }
        self.guarded(move || {
            // SAFETY: the range lies in the live mapping (checked above).
            // The slice lives only inside this guarded call, is only read by
            // a routine that returns a number, not a borrow, and is never
            // seen by safe code outside the door.
            scan(unsafe { std::slice::from_raw_parts(start, len) })
        })
    }
}

/// Which way a search looks: the side of a fault where its answer may
/// still be found.
#[derive(Clone, Copy)]
enum Direction {
    /// Its answer is the first match: it may lie before a fault.
    Forward,
    /// Its answer is the last match: it may lie after a fault.
    Backward,
}

/// The offset in the map of the fault `err` reports, if it is one there.
fn fault_offset(err: &io::Error) -> Option<usize> {
    match crate::error::refusal(err)? {
        // An offset in a lent buffer says nothing about the map's pages.
        Error::Fault(fault) if fault.region == Region::Map => Some(fault.offset),
        _ => None,
    }
}

/// A needle's rarest byte, by memchr's ranking of bytes in common data,
/// and its index in the needle. Long searches look for it first with
/// memchr, which streams some 15-20% faster than the substring searcher:
/// no match starts before its first occurrence (nor after its last), and a
/// range without it holds none. Data full of that byte costs a short
/// memchr more; data without it, as when searching text for a marker,
/// is scanned at memchr's speed.
#[derive(Clone, Copy)]
struct Rare {
    byte: u8,
    at: usize,
}

impl Rare {
    /// The rare byte of a needle of 2 bytes or more, for a range of `len`
    /// bytes: `None` below 64 KiB, which are not worth the extra call.
    fn for_range(needle: &[u8], len: usize) -> Option<Rare> {
        if len < 64 << 10 {
            return None;
        }
        let at = memchr::arch::all::packedpair::Pair::new(needle)
            .map_or(0, |pair| usize::from(pair.index1()));
        Some(Rare {
            byte: needle[at],
            at,
        })
    }

    /// Where the first match in `hay` may start, if one may.
    fn first_start(self, hay: &[u8]) -> Option<usize> {
        sys::memchr(self.byte, hay.get(self.at..)?)
    }

    /// Where the last match in `hay` may start, if one may.
    fn last_start(self, hay: &[u8]) -> Option<usize> {
        memchr::memrchr(self.byte, hay.get(self.at..)?)
    }
}

/// `i`, moved back to the start of its cache line (or to 0): a searcher
/// whose loads straddle lines runs up to 15% slower.
fn line_start(hay: &[u8], i: usize) -> usize {
    const LINE: usize = 64;
    i.saturating_sub((hay.as_ptr() as usize).wrapping_add(i) % LINE)
}

/// The last start of `finder`'s needle in `hay`, overlapping matches
/// included.
fn last_match(finder: &memchr::memmem::Finder<'_>, hay: &[u8]) -> Option<usize> {
    let mut last = None;
    let mut from = 0;
    while let Some(found) = hay.get(from..).and_then(|rest| finder.find(rest)) {
        last = Some(from + found);
        from += found + 1;
    }
    last
}

/// How many non-overlapping matches of `finder`'s needle lie in `hay`,
/// counted greedily: `find_iter(hay).count()`, without the iterator, which
/// holds a `Finder` with drop glue inside the guarded call.
fn count_matches(finder: &memchr::memmem::Finder<'_>, hay: &[u8]) -> usize {
    let mut count = 0;
    let mut from = 0;
    while let Some(found) = hay.get(from..).and_then(|rest| finder.find(rest)) {
        count += 1;
        from += found + finder.needle().len();
    }
    count
}

/// The mapping index of the `i`-th element of a strided slice.
fn strided(start: usize, step: isize, i: usize) -> usize {
    start.wrapping_add_signed(step.wrapping_mul(i as isize))
}
