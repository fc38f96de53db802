//! [`Mmap`]: a mapping with a position, like a file.

use std::fmt;
use std::io::{self, BufRead, Read, Seek, SeekFrom, Write};
use std::ops::RangeBounds;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::advice::Advice;
use crate::door::Mapped;
use crate::error::{transferred, Error};
use crate::options::{Access, MmapOptions};
use crate::scan::{Scan, View};
use crate::sys;

mod chunks;
mod name;
mod resize;
mod typed;
pub use chunks::Chunks;
pub use resize::Resize;
pub use typed::Scalar;

/// How much [`BufRead::fill_buf`] copies out of the map at a time.
const READ_BUFFER: usize = 8 * 1024;

/// An identity no map has had yet.
fn new_identity() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// A memory-mapped file or anonymous memory region.
///
/// Reading and searching take `&self`; writing, moving the position,
/// resizing and closing take `&mut self`, so Rust's borrow rules already
/// keep a map from being resized or unmapped while another thread reads it.
/// Bytes are never lent out as `&[u8]` (another process may change or
/// truncate a shared file under the map): they are copied in and out.
///
/// ```
/// use std::io::{Read, Seek, SeekFrom, Write};
///
/// let mut map = safemmap::Mmap::anonymous(16)?;
/// map.write_all(b"hello\nworld\n")?;
/// assert_eq!(map.seek(SeekFrom::Start(0))?, 0);
/// assert_eq!(map.find(b"world", ..)?, Some(6));
/// let mut line = String::new();
/// std::io::BufRead::read_line(&mut map, &mut line)?;
/// assert_eq!(line, "hello\n");
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct Mmap {
    /// Dangling when `len` is 0: an empty file's map has nothing mapped.
    base: NonNull<u8>,
    /// Unique in the process, and new at every resize: a [`Resize`] names
    /// the map (and the resize) it belongs to by it, since another map may
    /// later be made at the same address.
    identity: u64,
    len: usize,
    pos: usize,
    access: Access,
    flags: i32,
    prot: i32,
    offset: u64,
    /// Shared with a [`Resize`] that truncates it.
    file: Option<Arc<sys::OwnedFile>>,
    track_fd: bool,
    /// A copy of `buffered_at..buffered_at + buffer.len()` for [`BufRead`].
    buffer: Vec<u8>,
    buffered_at: usize,
}

// SAFETY: `Mmap` owns its mapping outright; the raw pointer is what makes
// the compiler unsure, and no thread-bound state hangs off it.
unsafe impl Send for Mmap {}
// SAFETY: through `&self` the mapping is only read, by the door's copies and
// searches, which may run concurrently; every write needs `&mut self`.
unsafe impl Sync for Mmap {}

impl Mmap {
    /// Maps the whole of `file`, readable and writable, shared: the file
    /// must be open for reading and writing ([`Error::FileNotWritable`]
    /// otherwise). An empty file gives an empty map.
    pub fn map(file: &impl sys::AsFile) -> io::Result<Mmap> {
        MmapOptions::new().map(file)
    }

    /// Maps the whole of `file` read-only, as a file open only for reading
    /// can be: [`MmapOptions`] with [`Access::Read`]. Writes fail with
    /// [`Error::ReadOnly`].
    pub fn map_read_only(file: &impl sys::AsFile) -> io::Result<Mmap> {
        MmapOptions::new().access(Access::Read).map(file)
    }

    /// Maps `len` bytes of zero-filled anonymous memory, shared with children.
    pub fn anonymous(len: usize) -> io::Result<Mmap> {
        MmapOptions::new().len(len).map_anon()
    }

    pub fn options() -> MmapOptions {
        MmapOptions::new()
    }

    /// # Safety
    /// `ptr..ptr + len` is a mapping made with `flags`/`prot` that the new
    /// value will own and unmap, or `len` is 0 and `ptr` any non-null pointer.
    #[allow(clippy::too_many_arguments)]
    pub(crate) unsafe fn from_parts(
        ptr: *mut u8,
        len: usize,
        access: Access,
        flags: i32,
        prot: i32,
        offset: u64,
        file: Option<sys::OwnedFile>,
        track_fd: bool,
    ) -> Mmap {
        Mmap {
            base: NonNull::new(ptr).expect("mmap returned NULL"),
            identity: new_identity(),
            len,
            pos: 0,
            access,
            flags,
            prot,
            offset,
            file: file.map(Arc::new),
            track_fd,
            buffer: Vec::new(),
            buffered_at: 0,
        }
    }

    #[inline]
    fn mem(&self) -> Mapped<'_> {
        // SAFETY: `base..base + len` is the mapping this value owns; it stays
        // mapped and in place while `self` is borrowed, since unmapping and
        // remapping need `&mut self`.
        unsafe { Mapped::new(self.base.as_ptr(), self.len) }
    }

    /// The mapping's length in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The position used by `Read`, `Write` and friends. It may lie past the
    /// end after the map shrank.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Bytes between the position and the end.
    pub fn remaining(&self) -> usize {
        self.len.saturating_sub(self.pos)
    }

    /// The access mode in force (for [`Access::Default`] with explicit
    /// protection bits, the one derived from them).
    pub fn access(&self) -> Access {
        self.access
    }

    /// The file offset the map starts at.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Whether the map is of anonymous memory, not of a file: its flush has
    /// nothing to write back.
    pub fn is_anonymous(&self) -> bool {
        self.flags & sys::raw::MAP_ANONYMOUS != 0
    }

    /// Whether the map was made keeping its file's descriptor
    /// ([`MmapOptions::track_fd`](crate::MmapOptions::track_fd)), as
    /// anonymous maps are by default too.
    pub fn tracks_file(&self) -> bool {
        self.track_fd
    }

    /// Whether the map is of huge pages, which can only be unmapped whole.
    fn is_huge(&self) -> bool {
        sys::HUGE_PAGES.is_some_and(|huge| self.flags & huge != 0)
    }

    /// The start of the mapping, for handing it to code that accepts raw
    /// memory (a buffer protocol, say). Reads and writes through it are not
    /// fault-protected, and it dangles once the map is resized or dropped.
    pub fn as_ptr(&self) -> *const u8 {
        self.base.as_ptr()
    }

    /// See [`as_ptr`](Self::as_ptr).
    pub fn as_mut_ptr(&mut self) -> *mut u8 {
        self.base.as_ptr()
    }

    /// The current size of the whole mapped file (not just the mapped part).
    /// Fails with EBADF for anonymous maps and maps that keep no descriptor.
    pub fn file_size(&self) -> io::Result<u64> {
        match &self.file {
            Some(file) => sys::file_size(sys::owned_raw(file)),
            None => Err(sys::bad_file()),
        }
    }

    /// The byte at `index`.
    #[inline]
    pub fn byte_at(&self, index: usize) -> io::Result<u8> {
        if index >= self.len {
            return Err(Error::IndexOutOfRange.into());
        }
        self.mem().byte(index)
    }

    /// Copies bytes from `offset` into `buf`, as many as fit before the end;
    /// returns how many.
    pub fn read_at(&self, offset: usize, buf: &mut [u8]) -> io::Result<usize> {
        self.own_view().read_at(offset, buf)
    }

    /// Fills `buf` with the bytes from `offset`: all of them, or, if the
    /// range reaches past the end, none, with an error of kind
    /// [`UnexpectedEof`](io::ErrorKind::UnexpectedEof)
    /// ([`Error::RangePastEnd`]), as std's `FileExt::read_exact_at` reports
    /// a file too short. An empty `buf` is filled anywhere. Up to 16
    /// bytes are loaded by instructions inlined into the caller.
    #[inline]
    pub fn read_exact_at(&self, offset: usize, buf: &mut [u8]) -> io::Result<()> {
        match self.all_there(offset, buf.len())? {
            true => self.mem().read(offset, buf),
            false => Ok(()),
        }
    }

    /// Whether `offset..offset + len` holds bytes to transfer: `false` when
    /// empty (wherever it lies), an [`Error::RangePastEnd`] when it reaches
    /// past the end.
    #[inline]
    fn all_there(&self, offset: usize, len: usize) -> io::Result<bool> {
        if len == 0 {
            return Ok(false);
        }
        // Against the last offset a read of `len` may start at: for a
        // length known at compile time, one compare with a number a loop
        // of reads computes once.
        match self.len.checked_sub(len) {
            Some(last) if offset <= last => Ok(true),
            _ => Err(Error::RangePastEnd.into()),
        }
    }

    /// Copies `len` bytes from `offset` to raw memory, which may be any
    /// memory (this map's included); all of them must lie in the map.
    ///
    /// # Safety
    /// `dst..dst + len` is writable and not referenced during the call.
    #[inline]
    pub unsafe fn read_at_raw(&self, offset: usize, dst: *mut u8, len: usize) -> io::Result<()> {
        // SAFETY: passed on from the caller.
        unsafe { self.own_view().read_raw(offset, dst, len) }
    }

    /// Copies `len` bytes from the position to raw memory and advances the
    /// position; all or nothing. A read of 0 bytes succeeds anywhere.
    ///
    /// # Safety
    /// As for [`read_at_raw`](Self::read_at_raw).
    #[inline]
    pub unsafe fn read_raw(&mut self, dst: *mut u8, len: usize) -> io::Result<()> {
        // SAFETY: passed on from the caller.
        unsafe { self.read_at_raw(self.pos, dst, len)? };
        self.pos += len;
        Ok(())
    }

    /// Fills `buf` with the bytes at `start`, `start + step`, `start + 2*step`...
    /// (a negative step walks backwards). Every index must lie in the map.
    pub fn read_strided(&self, start: usize, step: isize, buf: &mut [u8]) -> io::Result<()> {
        self.check_strided(start, step, buf.len())?;
        self.mem().gather(start, step, buf)
    }

    /// A copy of the whole map.
    pub fn to_vec(&self) -> io::Result<Vec<u8>> {
        let mut bytes = vec![0; self.len];
        self.mem().read(0, &mut bytes)?;
        Ok(bytes)
    }

    /// The first index of `needle` lying wholly inside `range` (clamped to
    /// the map). An empty needle is found at the range's start. Large ranges
    /// are searched in parallel: see [`scan`](Self::scan).
    pub fn find(&self, needle: &[u8], range: impl RangeBounds<usize>) -> io::Result<Option<usize>> {
        self.scan(range).find(needle)
    }

    /// The last index of `needle` lying wholly inside `range` (clamped to
    /// the map). An empty needle is found at the range's end.
    pub fn rfind(
        &self,
        needle: &[u8],
        range: impl RangeBounds<usize>,
    ) -> io::Result<Option<usize>> {
        self.scan(range).rfind(needle)
    }

    /// How many non-overlapping occurrences of `needle` lie in `range`, as
    /// `bytes.count` counts them.
    pub fn count(&self, needle: &[u8], range: impl RangeBounds<usize>) -> io::Result<usize> {
        self.scan(range).count(needle)
    }

    /// A search or count over `range` whose number of threads can be set.
    pub fn scan(&self, range: impl RangeBounds<usize>) -> Scan<'_> {
        Scan::new(self.own_view(), range)
    }

    /// The map's bytes, reachable without borrowing the map: for work done
    /// while the caller keeps the map alive and in place by other means.
    ///
    /// # Safety
    /// The map is neither dropped nor resized while the view, or a copy of
    /// it, is in use.
    pub unsafe fn view(&self) -> View {
        // SAFETY: passed on from the caller; the handler was installed when
        // the map was made.
        unsafe { View::new(self.base.as_ptr(), self.len, self.access) }
    }

    /// A view for use while `self` is borrowed.
    fn own_view(&self) -> View {
        // SAFETY: the borrow of `self` keeps the map alive and in place.
        unsafe { self.view() }
    }

    /// How many bytes [`read_line`](BufRead::read_line) would return: up to
    /// and including the next `\n` after the position, or to the end.
    /// Inlined always: a call's own cost is a tenth of a short line's.
    #[inline(always)]
    pub fn line_len(&self) -> io::Result<usize> {
        if self.pos >= self.len {
            return Ok(0);
        }
        let end = match self.mem().find_byte(self.pos..self.len, b'\n')? {
            Some(newline) => newline + 1,
            None => self.len,
        };
        Ok(end - self.pos)
    }

    /// The line at the position, as [`line_len`](Self::line_len) measures
    /// it, ready to be copied out with [`Line::copy_to`]: one call that
    /// checks the range once, for a reader that allocates each line's
    /// buffer once it knows the length (as a Python `bytes` object is).
    #[inline(always)]
    pub fn next_line(&mut self) -> io::Result<Line<'_>> {
        let len = self.line_len()?;
        Ok(Line { map: self, len })
    }

    /// The byte at the position, advancing it.
    #[inline]
    pub fn read_byte(&mut self) -> io::Result<u8> {
        if self.pos >= self.len {
            return Err(Error::ReadByteOutOfRange.into());
        }
        let byte = self.mem().byte(self.pos)?;
        self.pos += 1;
        Ok(byte)
    }

    #[inline]
    fn check_writable(&self) -> io::Result<()> {
        if self.access == Access::Read {
            return Err(Error::ReadOnly.into());
        }
        Ok(())
    }

    /// The door for a write that passed `check_writable`; drops the read
    /// buffer the write would make stale.
    #[inline]
    fn mem_for_write(&mut self) -> Mapped<'_> {
        self.buffer.clear();
        self.mem()
    }

    /// Stores `value` at the position, advancing it.
    pub fn write_byte(&mut self, value: u8) -> io::Result<()> {
        self.check_writable()?;
        if self.pos >= self.len {
            return Err(Error::WriteByteOutOfRange.into());
        }
        let at = self.pos;
        self.mem_for_write().set_byte(at, value)?;
        self.pos += 1;
        Ok(())
    }

    /// Stores `value` at `index`.
    pub fn set_byte(&mut self, index: usize, value: u8) -> io::Result<()> {
        self.check_writable()?;
        if index >= self.len {
            return Err(Error::IndexOutOfRange.into());
        }
        self.mem_for_write().set_byte(index, value)
    }

    /// Copies `data` to `offset`; all of it fits, or nothing is written.
    pub fn write_at(&mut self, offset: usize, data: &[u8]) -> io::Result<()> {
        // SAFETY: a slice is readable while borrowed.
        unsafe { self.write_at_raw(offset, data.as_ptr(), data.len()) }
    }

    /// [`write_at`](Self::write_at) with std's `FileExt::write_all_at`
    /// name and error: a range that reaches past the end (a map does not
    /// grow, unlike a file) fails with kind
    /// [`UnexpectedEof`](io::ErrorKind::UnexpectedEof)
    /// ([`Error::RangePastEnd`]) and writes nothing. An empty `data` is
    /// written anywhere. Up to 16 bytes are stored by instructions inlined
    /// into the caller.
    #[inline]
    pub fn write_all_at(&mut self, offset: usize, data: &[u8]) -> io::Result<()> {
        self.check_writable()?;
        match self.all_there(offset, data.len())? {
            true => self.mem_for_write().write(offset, data),
            false => Ok(()),
        }
    }

    /// [`write_at`](Self::write_at) from raw memory, which may be this very
    /// mapping (the copy behaves like memmove). A fault part way leaves the
    /// bytes before it stored; the error says how many
    /// ([`Error::transferred`]).
    ///
    /// # Safety
    /// `data..data + len` stays readable for the duration of the call.
    pub unsafe fn write_at_raw(
        &mut self,
        offset: usize,
        data: *const u8,
        len: usize,
    ) -> io::Result<()> {
        self.buffer.clear();
        // SAFETY: passed on from the caller.
        unsafe { self.own_view().write_raw(offset, data, len) }
    }

    /// Writes `len` bytes from raw memory (which may be this very mapping) at
    /// the position and advances it past what was stored: all of it, or, if
    /// the write does not fit, nothing; a fault part way advances it past
    /// the bytes stored, which the error counts ([`Error::transferred`]).
    ///
    /// # Safety
    /// `data..data + len` stays readable for the duration of the call.
    pub unsafe fn write_raw(&mut self, data: *const u8, len: usize) -> io::Result<()> {
        // SAFETY: passed on from the caller.
        let written = unsafe { self.write_at_raw(self.pos, data, len) };
        self.pos += match &written {
            Ok(()) => len,
            Err(err) => transferred(err),
        };
        written
    }

    /// Stores `data` at `start`, `start + step`, ...; every index must lie
    /// in the map.
    pub fn write_strided(&mut self, start: usize, step: isize, data: &[u8]) -> io::Result<()> {
        self.check_writable()?;
        self.check_strided(start, step, data.len())?;
        self.mem_for_write().scatter(start, step, data)
    }

    fn check_strided(&self, start: usize, step: isize, count: usize) -> io::Result<()> {
        let Some(last) = count.checked_sub(1) else {
            return Ok(());
        };
        let last = (step as i128) * (last as i128) + start as i128;
        if start >= self.len || last < 0 || last >= self.len as i128 {
            return Err(Error::IndexOutOfRange.into());
        }
        Ok(())
    }

    /// Copies `count` bytes from `src` to `dest` within the map (memmove).
    pub fn copy_within(&mut self, dest: usize, src: usize, count: usize) -> io::Result<()> {
        self.check_writable()?;
        let fits = |at: usize| at <= self.len && self.len - at >= count;
        if !fits(dest) || !fits(src) {
            return Err(Error::MoveOutOfRange.into());
        }
        self.mem_for_write().copy_within(dest, src, count)
    }

    /// Writes the dirty pages of `offset..offset + len` back to the file and
    /// waits for it. Read-only and copy-on-write maps have nothing to write.
    pub fn flush_range(&self, offset: usize, len: usize) -> io::Result<()> {
        self.own_view().flush_range(offset, len)
    }

    /// [`flush_range`](Self::flush_range) with raw `msync` flags (`MS_*`
    /// from [`raw`](crate::raw); 0 for `MS_SYNC`), passed on as they are:
    /// the kernel refuses bad ones with EINVAL. Windows has no such flags
    /// and ignores them.
    pub fn flush_range_with(&self, offset: usize, len: usize, flags: i32) -> io::Result<()> {
        self.own_view().flush_range_with(offset, len, flags)
    }

    /// [`flush_range`](Self::flush_range) over the whole map.
    pub fn flush(&self) -> io::Result<()> {
        self.flush_range(0, self.len)
    }

    /// Starts writing the dirty pages of `offset..offset + len` back to the
    /// file, and returns without waiting for it (`msync(MS_ASYNC)`; on
    /// Windows `FlushViewOfFile`, which is also what
    /// [`flush_range`](Self::flush_range) does there).
    pub fn flush_async_range(&self, offset: usize, len: usize) -> io::Result<()> {
        self.own_view().flush_async_range(offset, len)
    }

    /// [`flush_async_range`](Self::flush_async_range) over the whole map.
    pub fn flush_async(&self) -> io::Result<()> {
        self.flush_async_range(0, self.len)
    }

    /// Keeps the map's pages in memory, reading them in now (`mlock`;
    /// `VirtualLock` on Windows), until [`unlock`](Self::unlock) or the
    /// map is dropped or resized. The OS limits how much an unprivileged
    /// process may lock (`RLIMIT_MEMLOCK`, the working set on Windows);
    /// beyond it this fails.
    pub fn lock(&self) -> io::Result<()> {
        self.own_view().lock()
    }

    /// Lets the map's pages be paged out again (`munlock`; `VirtualUnlock`).
    pub fn unlock(&self) -> io::Result<()> {
        self.own_view().unlock()
    }

    /// Gives the kernel `advice` about `len` bytes from `start`; `len` is
    /// clamped to the end of the map.
    ///
    /// ```
    /// use safemmap::{Advice, Mmap};
    ///
    /// let map = Mmap::anonymous(1 << 16)?;
    /// # #[cfg(unix)]
    /// map.advise(Advice::Sequential, 0, map.len())?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn advise(&self, advice: Advice, start: usize, len: usize) -> io::Result<()> {
        self.own_view().advise(advice, start, len)
    }

    /// [`advise`](Self::advise) with a raw `MADV_*` value, as `madvise(2)`
    /// (and CPython's `mmap.madvise`) take it: for advice [`Advice`] does
    /// not name.
    pub fn advise_raw(&self, advice: i32, start: usize, len: usize) -> io::Result<()> {
        self.own_view().advise_raw(advice, start, len)
    }
}

impl Drop for Mmap {
    fn drop(&mut self) {
        // SAFETY: the mapping is ours and nothing borrows `self` any more.
        unsafe { release(self.base.as_ptr(), self.len) };
    }
}

/// Unmaps a map's whole mapping; an empty map has none.
///
/// # Safety
/// As for `sys::unmap`, unless `len` is 0.
unsafe fn release(base: *mut u8, len: usize) {
    if len > 0 {
        // SAFETY: passed on from the caller.
        unsafe { sys::unmap(base, len) };
    }
}

impl fmt::Debug for Mmap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mmap")
            .field("len", &self.len)
            .field("pos", &self.pos)
            .field("access", &self.access)
            .field("offset", &self.offset)
            .finish_non_exhaustive()
    }
}

/// A read that faults part way returns the bytes before the fault, as
/// [`Read::read`] should; the next one fails.
impl Read for Mmap {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let count = partial(self.read_at(self.pos, buf))?;
        self.pos += count;
        Ok(count)
    }
}

impl BufRead for Mmap {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        let window = self.buffered_at..self.buffered_at + self.buffer.len();
        if !window.contains(&self.pos) {
            if self.remaining() == 0 {
                // At the end, or past it after a shrink.
                return Ok(&[]);
            }
            let mut buffer = std::mem::take(&mut self.buffer);
            buffer.resize(self.remaining().min(READ_BUFFER), 0);
            // Only what is there: a line that ends before a page the file
            // lost is read whole, and the next fill meets the fault.
            let copied = self.mem().read_leading(self.pos, &mut buffer)?;
            buffer.truncate(copied);
            (self.buffer, self.buffered_at) = (buffer, self.pos);
        }
        Ok(&self.buffer[self.pos - self.buffered_at..])
    }

    /// More than `fill_buf` returned (a caller's mistake) stops at the end.
    fn consume(&mut self, amount: usize) {
        self.pos += amount.min(self.remaining());
    }
}

/// A write that does not fit before the end fails with
/// [`Error::DataOutOfRange`] and changes nothing. One that faults part way
/// (the file was cut under the map) stores the bytes before the fault and
/// advances the position past them: `write` returns their count, as
/// [`Write::write`] should, and fails only if there are none; `write_all`
/// fails, its error counting them ([`Error::transferred`]).
impl Write for Mmap {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        // SAFETY: a slice is readable while borrowed.
        partial(unsafe { self.write_raw(buf.as_ptr(), buf.len()) }.map(|()| buf.len()))
    }

    /// One copy, so that a fault's error counts every byte stored (the
    /// default loop would report only its last call's).
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        // SAFETY: a slice is readable while borrowed.
        unsafe { self.write_raw(buf.as_ptr(), buf.len()) }
    }

    fn flush(&mut self) -> io::Result<()> {
        Mmap::flush(self)
    }
}

/// The count of a transfer, `Ok` too if a fault stopped it after some bytes.
fn partial(result: io::Result<usize>) -> io::Result<usize> {
    match result {
        Err(err) if transferred(&err) > 0 => Ok(transferred(&err)),
        result => result,
    }
}

/// Seeks stay inside `0..=len`: anything else fails with
/// [`Error::SeekOutOfRange`] and leaves the position alone.
impl Seek for Mmap {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let target = match to {
            SeekFrom::Start(at) => at as i128,
            SeekFrom::Current(delta) => self.pos as i128 + delta as i128,
            SeekFrom::End(delta) => self.len as i128 + delta as i128,
        };
        if !(0..=self.len as i128).contains(&target) {
            return Err(Error::SeekOutOfRange.into());
        }
        self.pos = target as usize;
        Ok(self.pos as u64)
    }

    /// The position, even past the end after a shrink, where the default
    /// (a seek by 0) fails.
    fn stream_position(&mut self) -> io::Result<u64> {
        Ok(self.pos as u64)
    }
}

/// The line at a map's position, from [`Mmap::next_line`]: the map stays
/// borrowed, so the line still lies in it when it is copied.
pub struct Line<'a> {
    map: &'a mut Mmap,
    len: usize,
}

impl Line<'_> {
    /// Its length in bytes, the newline included (0 at the end of the map).
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Copies the line to `dst` and moves the map's position past it; up
    /// to 16 bytes are loaded by instructions inlined into the caller.
    ///
    /// # Safety
    /// `dst..dst + self.len()` is writable and not referenced during the
    /// call, and lies outside the map (a buffer just allocated, say).
    #[inline(always)]
    pub unsafe fn copy_to(self, dst: *mut u8) -> io::Result<()> {
        let map = self.map;
        // SAFETY: passed on from the caller; the door checks the source.
        unsafe { map.mem().read_disjoint(map.pos, dst, self.len) }?;
        map.pos += self.len;
        Ok(())
    }
}
