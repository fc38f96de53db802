//! Resizing, in one step or in two, so that the slow part of a shrink can
//! run while other threads go on using the map.

use std::io;
use std::ptr::NonNull;
use std::sync::Arc;

use super::Mmap;
use crate::door::Mapped;
use crate::error::Error;
use crate::options::Access;
use crate::sys::{self, raw};

/// The rest of a resize begun by [`Mmap::start_resize`]: for a shrink,
/// truncating the file and unmapping the pages cut off; nothing otherwise.
///
/// It owns those pages until [`run`](Self::run) unmaps them and needs
/// nothing from the map, so it may run on any thread while others use the
/// map. [`Mmap::finish_resize`] completes it.
#[must_use = "a failed shrink gives the map its bytes back only in `Mmap::finish_resize`"]
pub struct Resize {
    /// The identity the map took on when this resize began: `finish_resize`
    /// gives pages back only to that map, and only while it has it.
    map_identity: u64,
    /// The map's length before.
    old_len: usize,
    /// The file to truncate, and its new length.
    truncate: Option<(Arc<sys::OwnedFile>, u64)>,
    /// The pages past the new end, mapped until `run` unmaps them.
    tail: *mut u8,
    tail_len: usize,
    /// `None` until `run` has run.
    outcome: Option<io::Result<()>>,
}

// SAFETY: the pages the value points to are its own (the map no longer
// reaches them). Nothing is tied to a thread.
unsafe impl Send for Resize {}

impl Resize {
    /// Whether [`run`](Self::run) has work left.
    pub fn is_pending(&self) -> bool {
        self.outcome.is_none()
    }

    /// Truncates the file, then unmaps the pages cut off; if truncating
    /// fails, keeps them for [`Mmap::finish_resize`] to give back. Only the
    /// first call does anything.
    pub fn run(&mut self) {
        if self.outcome.is_some() {
            return;
        }
        let truncated = match &self.truncate {
            Some((file, end)) => sys::set_file_size(sys::owned_raw(file), *end),
            None => Ok(()),
        };
        if truncated.is_ok() {
            self.unmap_tail();
        }
        self.outcome = Some(truncated);
    }

    fn unmap_tail(&mut self) {
        if self.tail_len > 0 {
            // SAFETY: the tail is a page-aligned end of a mapping that only
            // this value reaches (see `Mmap::start_resize`).
            unsafe { sys::unmap(self.tail, self.tail_len) };
            self.tail_len = 0;
        }
    }
}

impl Drop for Resize {
    fn drop(&mut self) {
        self.unmap_tail();
    }
}

impl Mmap {
    /// Changes the map's length, **and the file's** to `offset + new_len`,
    /// as CPython's `mmap.resize` does: the file grows (with zeros) or is
    /// cut, whatever else it held past that point. The position is left as
    /// it is (past the end after a shrink, where reads find nothing).
    ///
    /// Only a shared map of a file open for writing, or an anonymous map,
    /// can be resized ([`Error::ResizeNotAllowed`] otherwise). To follow a
    /// file that someone else grows or cuts, without changing it, use
    /// [`refresh_len`](Self::refresh_len) instead.
    pub fn resize(&mut self, new_len: usize) -> io::Result<()> {
        let resize = self.start_resize(new_len)?;
        self.finish_resize(resize)
    }

    /// Maps the file's current length from the map's offset, leaving the
    /// file as it is: for following a file that another writer grows (a
    /// log, say) or cuts, where [`resize`](Self::resize) would set the
    /// file's length to the map's. Any map of a file can do this, read-only
    /// and copy-on-write ones too (a copy-on-write map keeps its changes to
    /// the pages it keeps). Returns the new length: 0, an empty map, if the
    /// file now ends at or before the offset. The position is left as it is.
    ///
    /// Fails with EBADF for anonymous maps and maps that keep no
    /// descriptor ([`MmapOptions::track_fd`](crate::MmapOptions::track_fd)).
    ///
    /// ```
    /// use std::io::Write;
    ///
    /// let mut log = tempfile::tempfile()?;
    /// log.write_all(b"first\n")?;
    /// let mut map = safemmap::Mmap::map_read_only(&log)?;
    /// log.write_all(b"second\n")?;
    /// assert_eq!(map.len(), 6);
    /// assert_eq!(map.refresh_len()?, 13);
    /// assert_eq!(map.find(b"second", ..)?, Some(6));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn refresh_len(&mut self) -> io::Result<usize> {
        let size = self.file_size()?;
        if self.is_huge() {
            return Err(Error::HugePagesResize.into());
        }
        let new_len = usize::try_from(size.saturating_sub(self.offset))
            .map_err(|_| Error::NewSizeOutOfRange)?;
        if new_len == self.len {
            return Ok(new_len);
        }
        self.buffer.clear();
        self.identity = super::new_identity();
        if new_len == 0 {
            // SAFETY: `&mut self` guarantees nothing else uses the mapping.
            unsafe { super::release(self.base.as_ptr(), self.len) };
            self.set_empty();
        } else {
            self.remap(new_len)?;
        }
        Ok(new_len)
    }

    /// [`resize`](Self::resize) in two steps, so that other threads can go
    /// on using the map while the slow part of a shrink runs: truncating a
    /// file and unmapping pages take tens of milliseconds per GiB cached.
    ///
    /// This call checks `new_len` and makes the map that long at once; the
    /// [`Resize`] it returns does the rest ([`Resize::run`], on any thread)
    /// and [`finish_resize`](Self::finish_resize) reports how it went.
    /// Growing, which is quick, and shrinking on Windows, which cannot unmap
    /// part of a view, are done in full here.
    pub fn start_resize(&mut self, new_len: usize) -> io::Result<Resize> {
        let file_end = self.check_new_len(new_len)?;
        self.buffer.clear();
        self.identity = super::new_identity();
        let file = self.file.clone().filter(|_| !self.is_anonymous());
        let mut resize = Resize {
            map_identity: self.identity,
            old_len: self.len,
            truncate: file.map(|file| (file, file_end)),
            tail: self.base.as_ptr(),
            tail_len: 0,
            outcome: None,
        };
        if new_len > self.len || !sys::UNMAPS_PART {
            let truncate = resize.truncate.take();
            self.resize_now(
                new_len,
                truncate.as_ref().map(|(file, end)| (&**file, *end)),
            )?;
            resize.outcome = Some(Ok(()));
            return Ok(resize);
        }
        let page = sys::page_size();
        let kept = new_len.next_multiple_of(page);
        resize.tail_len = self.len.next_multiple_of(page) - kept;
        // SAFETY: `kept` lies within the mapping's pages.
        resize.tail = unsafe { self.base.as_ptr().add(kept) };
        // The pages past `kept` are the resize's from here: nothing the map
        // does reaches past its length, nor does unmapping it.
        self.len = new_len;
        Ok(resize)
    }

    /// Completes a [`start_resize`](Self::start_resize), running the rest
    /// first if nobody did. If truncating the file failed, the map gets its
    /// bytes back (it is as it was before `start_resize`) and the error is
    /// returned.
    ///
    /// Only the map that began the resize can finish it, and only before
    /// another resize of it begins. Given any other `Resize` (another map's,
    /// even one made at the same address since, or a stale one), this map
    /// is left alone and [`Error::ResizeOfAnotherMap`] returned; the resize
    /// has still run, and the pages it cut off are unmapped.
    pub fn finish_resize(&mut self, mut resize: Resize) -> io::Result<()> {
        resize.run();
        if resize.map_identity != self.identity {
            return Err(Error::ResizeOfAnotherMap.into());
        }
        let Some(Err(error)) = resize.outcome.take() else {
            return Ok(());
        };
        // Nothing has resized the map since: the tail still follows its
        // last page, and is the map's again.
        resize.tail_len = 0;
        self.len = resize.old_len;
        Err(error)
    }

    /// The file length a resize to `new_len` asks for, once it is known to
    /// be allowed.
    fn check_new_len(&self, new_len: usize) -> io::Result<u64> {
        if !self.track_fd {
            return Err(Error::ResizeUntracked.into());
        }
        if matches!(self.access, Access::Read | Access::Copy) {
            return Err(Error::ResizeNotAllowed.into());
        }
        if self.is_huge() {
            return Err(Error::HugePagesResize.into());
        }
        let file_end = self
            .offset
            .checked_add(new_len as u64)
            .filter(|&end| new_len <= isize::MAX as usize && end <= i64::MAX as u64)
            .ok_or(Error::NewSizeOutOfRange)?;
        if new_len == 0 {
            // The kernel refuses empty maps; refuse before touching the file.
            return Err(sys::invalid_argument());
        }
        let shared = self.flags & raw::MAP_PRIVATE == 0;
        if self.is_anonymous() && shared && new_len > self.len {
            return Err(Error::SharedAnonymousGrowth.into());
        }
        Ok(file_end)
    }

    /// Resizes the file (if any) and the mapping in one go; on failure the
    /// file is put back as it was, as far as possible.
    fn resize_now(
        &mut self,
        new_len: usize,
        file: Option<(&sys::OwnedFile, u64)>,
    ) -> io::Result<()> {
        let Some((file, file_end)) = file else {
            return self.remap(new_len);
        };
        let file = sys::owned_raw(file);
        if new_len < self.len && !sys::CUTS_MAPPED_FILES {
            return self.cut_unmapped(new_len, file, file_end);
        }
        let old_size = sys::file_size(file)?;
        sys::set_file_size(file, file_end)?;
        self.remap(new_len).inspect_err(|_| {
            let _ = sys::set_file_size(file, old_size);
        })
    }

    /// A shrink where the file cannot be cut below a mapping of it: unmap,
    /// cut, map the new length (as CPython does on Windows). If cutting
    /// fails, the old length is mapped again; if mapping fails, the map is
    /// left empty. A shared file map's bytes live in the file, so nothing
    /// is lost in between.
    fn cut_unmapped(
        &mut self,
        new_len: usize,
        file: sys::RawFile,
        file_end: u64,
    ) -> io::Result<()> {
        // SAFETY: `&mut self` guarantees nothing else uses the mapping,
        // which is replaced below before anything reads it.
        unsafe { super::release(self.base.as_ptr(), self.len) };
        let cut = sys::set_file_size(file, file_end);
        let len = if cut.is_ok() { new_len } else { self.len };
        match sys::map(len, self.prot, self.flags, file, self.offset) {
            Ok(base) => {
                self.set_mapping(base, len);
                cut
            }
            Err(err) => {
                self.set_empty();
                Err(err)
            }
        }
    }

    fn remap(&mut self, new_len: usize) -> io::Result<()> {
        if self.len > 0 {
            // SAFETY: `&mut self` guarantees nothing else uses the mapping;
            // on success the old one is gone and the new one is ours.
            if let Some(moved) = unsafe { sys::remap(self.base.as_ptr(), self.len, new_len)? } {
                self.set_mapping(moved, new_len);
                return Ok(());
            }
        }
        // No mremap, or nothing mapped (an empty file's map): make a new
        // mapping, carry over what only the old one holds (a shared file
        // map's bytes live in the file), drop the old.
        let file = self.file.as_deref().map_or(sys::NO_FILE, sys::owned_raw);
        let new = sys::map(new_len, self.prot, self.flags, file, self.offset)?;
        let shared_file = self.flags & raw::MAP_PRIVATE == 0 && file != sys::NO_FILE;
        if !shared_file {
            // SAFETY: `new..new + new_len` is the mapping just made.
            let target = unsafe { Mapped::new(new, new_len) };
            // SAFETY: the old mapping is live until unmapped below.
            let copied = unsafe { target.write_raw(0, self.base.as_ptr(), self.len.min(new_len)) };
            if let Err(err) = copied {
                // SAFETY: the new mapping is ours and unused.
                unsafe { sys::unmap(new, new_len) };
                return Err(err);
            }
        }
        // SAFETY: the old mapping is ours and, from here on, unused.
        unsafe { super::release(self.base.as_ptr(), self.len) };
        self.set_mapping(new, new_len);
        Ok(())
    }

    /// Makes the map empty, once its mapping is unmapped.
    fn set_empty(&mut self) {
        self.base = NonNull::dangling();
        self.len = 0;
    }

    fn set_mapping(&mut self, base: *mut u8, len: usize) {
        self.base = NonNull::new(base).expect("mmap returned NULL");
        self.len = len;
    }
}
