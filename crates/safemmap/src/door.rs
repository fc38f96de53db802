//! The one door to mapped memory.
//!
//! Every read, write, copy and search of mapped bytes in this crate goes
//! through [`Mapped`]; no other module dereferences a mapping. That keeps
//! two promises in one place:
//!
//! * **No references to shared memory.** Another process may change or
//!   truncate a shared file mapping at any moment, so a `&[u8]` over it would
//!   let the compiler assume things that are false. Safe code only ever sees
//!   copies; the door reaches the mapping through raw pointers.
//! * **Fault protection lives here.** An access that faults (the file was
//!   truncated, the disk failed, the page is inaccessible) is meant to come
//!   back as an `io::Error` from these functions and nowhere else.
//!
//! Callers check their own bounds and report their own errors; the door
//! asserts them again, because a wrong bound here would be memory unsafety.

use std::io;
use std::marker::PhantomData;
use std::ops::Range;
use std::ptr;

/// A live mapping, borrowed for `'a`: while a `Mapped<'a>` exists the
/// mapping can be neither unmapped nor moved.
#[derive(Clone, Copy)]
pub(crate) struct Mapped<'a> {
    base: *mut u8,
    len: usize,
    _borrow: PhantomData<&'a ()>,
}

impl<'a> Mapped<'a> {
    /// # Safety
    /// `base..base + len` is one live mapping (or, for `len == 0`, any
    /// non-null pointer) that stays mapped, unmoved, for `'a`.
    pub(crate) unsafe fn new(base: *mut u8, len: usize) -> Self {
        Mapped {
            base,
            len,
            _borrow: PhantomData,
        }
    }

    fn check(&self, range: &Range<usize>) {
        assert!(
            range.start <= range.end && range.end <= self.len,
            "safemmap bug: {range:?} outside a mapping of {} bytes",
            self.len
        );
    }

    /// Copies `dst.len()` bytes starting at `at` into `dst`.
    pub(crate) fn read(&self, at: usize, dst: &mut [u8]) -> io::Result<()> {
        self.check(&(at..at + dst.len()));
        // SAFETY: the source range lies in the live mapping (checked above);
        // `dst` is a distinct Rust buffer, so the ranges cannot overlap.
        unsafe { ptr::copy_nonoverlapping(self.base.add(at), dst.as_mut_ptr(), dst.len()) };
        Ok(())
    }

    /// The byte at `at`.
    pub(crate) fn byte(&self, at: usize) -> io::Result<u8> {
        self.check(&(at..at + 1));
        // SAFETY: `at` lies in the live mapping (checked above).
        Ok(unsafe { self.base.add(at).read() })
    }

    /// Copies `len` bytes from `src` to the mapping at `at`, like memmove.
    ///
    /// # Safety
    /// `src..src + len` is readable for the duration of the call. It may be
    /// any memory, this mapping included.
    pub(crate) unsafe fn write_raw(&self, at: usize, src: *const u8, len: usize) -> io::Result<()> {
        self.check(&(at..at + len));
        // SAFETY: the destination lies in the live mapping (checked above),
        // the caller vouches for the source, and `ptr::copy` allows overlap.
        unsafe { ptr::copy(src, self.base.add(at), len) };
        Ok(())
    }

    /// Stores `value` at `at`.
    pub(crate) fn set_byte(&self, at: usize, value: u8) -> io::Result<()> {
        self.check(&(at..at + 1));
        // SAFETY: `at` lies in the live mapping (checked above).
        unsafe { self.base.add(at).write(value) };
        Ok(())
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
        for (i, out) in dst.iter_mut().enumerate() {
            *out = self.byte(strided(start, step, i))?;
        }
        Ok(())
    }

    /// Stores `src` at `start`, `start + step`, ...
    pub(crate) fn scatter(&self, start: usize, step: isize, src: &[u8]) -> io::Result<()> {
        for (i, &value) in src.iter().enumerate() {
            self.set_byte(strided(start, step, i), value)?;
        }
        Ok(())
    }

    /// The first index of `needle` wholly inside `range`.
    pub(crate) fn find(&self, range: Range<usize>, needle: &[u8]) -> io::Result<Option<usize>> {
        let found = self.search(&range, |hay| memchr::memmem::find(hay, needle));
        Ok(found.map(|i| range.start + i))
    }

    /// The last index of `needle` wholly inside `range`.
    pub(crate) fn rfind(&self, range: Range<usize>, needle: &[u8]) -> io::Result<Option<usize>> {
        let found = self.search(&range, |hay| memchr::memmem::rfind(hay, needle));
        Ok(found.map(|i| range.start + i))
    }

    /// The first index of `byte` inside `range`.
    pub(crate) fn find_byte(&self, range: Range<usize>, byte: u8) -> io::Result<Option<usize>> {
        let found = self.search(&range, |hay| memchr::memchr(byte, hay));
        Ok(found.map(|i| range.start + i))
    }

    /// Runs `search` over the mapped bytes of `range`.
    fn search<R>(&self, range: &Range<usize>, search: impl FnOnce(&[u8]) -> R) -> R {
        self.check(range);
        // SAFETY: the range lies in the live mapping (checked above). The
        // slice never leaves this frame: `search` gets it for the duration
        // of one call of a search routine that only reads it, and returns an
        // index, not a borrow.
        let hay = unsafe { std::slice::from_raw_parts(self.base.add(range.start), range.len()) };
        search(hay)
    }
}

/// The mapping index of the `i`-th element of a strided slice.
fn strided(start: usize, step: isize, i: usize) -> usize {
    start.wrapping_add_signed(step.wrapping_mul(i as isize))
}
