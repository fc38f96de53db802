//! How a map is made: [`MmapOptions`] and [`Access`].

use std::io;

use crate::error::Error;
use crate::sys::{self, raw};
use crate::Mmap;

/// What a map may do with its memory, as in CPython's `mmap`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Access {
    /// Derived from the protection: read and write, shared with the file.
    /// With explicit [`prot`](MmapOptions::prot) and
    /// [`flags`](MmapOptions::flags) the map becomes `Write` if `prot` has
    /// the write bit alone, `Read` if it lacks the write bit.
    #[default]
    Default,
    /// Read only.
    Read,
    /// Read and write, shared with the file.
    Write,
    /// Read and write, copy-on-write: the file is never changed.
    Copy,
}

impl Access {
    /// The access of CPython's integer constant `ACCESS_*` (0..=3).
    pub fn from_raw(value: i64) -> io::Result<Access> {
        match value {
            0 => Ok(Access::Default),
            1 => Ok(Access::Read),
            2 => Ok(Access::Write),
            3 => Ok(Access::Copy),
            _ => Err(Error::InvalidAccess.into()),
        }
    }

    /// CPython's integer constant for this access.
    pub fn as_raw(self) -> i32 {
        self as i32
    }

    /// CPython's name for this access: `ACCESS_DEFAULT`, `ACCESS_READ`...
    pub fn name(self) -> &'static str {
        match self {
            Access::Default => "ACCESS_DEFAULT",
            Access::Read => "ACCESS_READ",
            Access::Write => "ACCESS_WRITE",
            Access::Copy => "ACCESS_COPY",
        }
    }

    /// The access a `Default` map gets from explicit protection bits.
    fn from_prot(prot: i32) -> Access {
        let (read, write) = (prot & raw::PROT_READ != 0, prot & raw::PROT_WRITE != 0);
        match (read, write) {
            (true, true) => Access::Default,
            (false, true) => Access::Write,
            _ => Access::Read,
        }
    }
}

/// A builder for [`Mmap`], with CPython's defaults: the whole file, offset 0,
/// [`Access::Default`] (shared, readable and writable) and the descriptor
/// duplicated and kept.
///
/// ```
/// use std::io::Write;
/// use safemmap::{Access, MmapOptions};
///
/// let mut file = tempfile::tempfile()?;
/// file.write_all(b"hello, world")?;
/// let map = MmapOptions::new().offset(0).len(5).access(Access::Read).map(&file)?;
/// assert_eq!(map.to_vec()?, b"hello");
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct MmapOptions {
    len: usize,
    offset: u64,
    access: Access,
    flags: Option<i32>,
    prot: Option<i32>,
    track_fd: bool,
    populate: bool,
    huge_pages: bool,
}

impl Default for MmapOptions {
    fn default() -> Self {
        MmapOptions::new()
    }
}

impl MmapOptions {
    pub fn new() -> MmapOptions {
        MmapOptions {
            len: 0,
            offset: 0,
            access: Access::Default,
            flags: None,
            prot: None,
            track_fd: true,
            populate: false,
            huge_pages: false,
        }
    }

    /// The length to map; 0 (the default) maps from the offset to the end
    /// of the file. Anonymous maps need a length.
    pub fn len(mut self, len: usize) -> Self {
        self.len = len;
        self
    }

    /// Where in the file the map starts: a multiple of
    /// [`allocation_granularity`](crate::allocation_granularity).
    pub fn offset(mut self, offset: u64) -> Self {
        self.offset = offset;
        self
    }

    pub fn access(mut self, access: Access) -> Self {
        self.access = access;
        self
    }

    /// Raw `MAP_*` flags (default `MAP_SHARED`); only with [`Access::Default`].
    pub fn flags(mut self, flags: i32) -> Self {
        self.flags = Some(flags);
        self
    }

    /// Raw `PROT_*` bits (default read and write); only with [`Access::Default`].
    pub fn prot(mut self, prot: i32) -> Self {
        self.prot = Some(prot);
        self
    }

    /// Whether the map keeps a duplicate of the descriptor (the default).
    /// Without it, [`Mmap::file_size`] and [`Mmap::resize`] are unavailable,
    /// and the map holds no descriptor at all.
    pub fn track_fd(mut self, track: bool) -> Self {
        self.track_fd = track;
        self
    }

    /// Whether to read the whole map in when it is made, so that its first
    /// accesses do not wait for the disk (as `memmap2`'s `populate`, and
    /// `MAP_POPULATE`): on Linux 5.14+ `MADV_POPULATE_READ` fills the page
    /// tables, on older kernels and other Unix systems `MADV_WILLNEED`
    /// reads ahead, on Windows `PrefetchVirtualMemory`. A hint: if the OS
    /// cannot do it (the file is shorter than the map, say), the map is
    /// made all the same.
    pub fn populate(mut self, populate: bool) -> Self {
        self.populate = populate;
        self
    }

    /// Whether to back the map with huge pages (`MAP_HUGETLB`, Linux
    /// only), for an anonymous map, or a file on `hugetlbfs`. Its length
    /// must be a multiple of the huge page size
    /// ([`Error::HugePagesLength`]), the system must have huge pages set
    /// aside (`/proc/sys/vm/nr_hugepages`; else `ENOMEM`), and it cannot be
    /// resized ([`Error::HugePagesResize`]). Elsewhere making the map fails
    /// with [`Unsupported`](io::ErrorKind::Unsupported). Transparent huge
    /// pages need none of this: [`Advice::HugePage`](crate::Advice) on Linux.
    pub fn huge_pages(mut self, huge_pages: bool) -> Self {
        self.huge_pages = huge_pages;
        self
    }

    /// The access the map will have: the one given, or for
    /// [`Access::Default`] the one [`prot`](Self::prot) implies.
    pub fn effective_access(&self) -> Access {
        match self.access {
            Access::Default => {
                Access::from_prot(self.prot.unwrap_or(raw::PROT_READ | raw::PROT_WRITE))
            }
            given => given,
        }
    }

    /// Maps `file`.
    pub fn map(self, file: &impl sys::AsFile) -> io::Result<Mmap> {
        // SAFETY: a borrowed file is open for the duration of the call.
        unsafe { self.map_raw(sys::raw_file(file)) }
    }

    /// Maps anonymous memory, zero-filled, of [`len`](Self::len) bytes.
    pub fn map_anon(self) -> io::Result<Mmap> {
        // SAFETY: the "no file" descriptor value names no file.
        unsafe { self.map_raw(sys::NO_FILE) }
    }

    /// Maps a raw descriptor; `-1` (Unix) maps anonymous memory. Like CPython,
    /// the descriptor is only inspected and duplicated, never closed.
    ///
    /// # Safety
    /// `file` is `-1` or a descriptor the caller may use for the duration of
    /// the call: this function reads its metadata and maps it.
    pub unsafe fn map_raw(self, file: sys::RawFile) -> io::Result<Mmap> {
        let flags_given = self.flags.is_some_and(|f| f != raw::MAP_SHARED)
            || self
                .prot
                .is_some_and(|p| p != raw::PROT_READ | raw::PROT_WRITE);
        if self.access != Access::Default && flags_given {
            return Err(Error::AccessConflict.into());
        }
        let (mut flags, prot, access) = match self.access {
            Access::Read => (raw::MAP_SHARED, raw::PROT_READ, Access::Read),
            Access::Write => (
                raw::MAP_SHARED,
                raw::PROT_READ | raw::PROT_WRITE,
                Access::Write,
            ),
            Access::Copy => (
                raw::MAP_PRIVATE,
                raw::PROT_READ | raw::PROT_WRITE,
                Access::Copy,
            ),
            Access::Default => {
                let prot = self.prot.unwrap_or(raw::PROT_READ | raw::PROT_WRITE);
                (
                    self.flags.unwrap_or(raw::MAP_SHARED),
                    prot,
                    Access::from_prot(prot),
                )
            }
        };
        let len = checked_len(file, self.len, self.offset)?;
        if file == sys::NO_FILE {
            flags |= raw::MAP_ANONYMOUS;
        }
        if self.huge_pages {
            let page_size = sys::huge_page_size()?;
            if len.is_some_and(|len| len % page_size != 0) {
                return Err(Error::HugePagesLength { page_size }.into());
            }
            // There is a flag wherever there is a huge page size.
            flags |= sys::HUGE_PAGES.unwrap_or(0);
        }
        let kept = match (file == sys::NO_FILE, self.track_fd) {
            (false, true) => Some(sys::duplicate(file)?),
            _ => None,
        };
        let (ptr, len) = match len {
            // An empty file's map has nothing mapped.
            None => (std::ptr::NonNull::dangling().as_ptr(), 0),
            // The kernel's EINVAL, which Windows does not give for a view:
            // a map of 0 bytes is taken for an empty file's.
            Some(0) => return Err(sys::invalid_argument()),
            Some(len) => (
                sys::map(len, prot, flags, file, self.offset)
                    .map_err(|err| explain_refusal(err, file, flags, prot))?,
                len,
            ),
        };
        if self.populate && len > 0 {
            // SAFETY: `ptr..ptr + len` is the mapping just made. A hint:
            // whatever the OS could not read in is read at first use.
            let _ = unsafe { sys::populate(ptr, len) };
        }
        if file == sys::NO_FILE {
            // Its pages fault only on a hardware error: installed once
            // will do, and saves two system calls, a sixth of the map's
            // construction.
            sys::ensure_fault_handler();
        } else {
            // A file can be cut short under the map: the handler goes back
            // on top if another went over it.
            sys::install_fault_handler();
        }
        // SAFETY: `ptr..ptr + len` is the mapping just made, handed over whole.
        Ok(unsafe {
            Mmap::from_parts(
                ptr,
                len,
                access,
                flags,
                prot,
                self.offset,
                kept,
                self.track_fd,
            )
        })
    }
}

/// The error for a refused mapping: one of a file the access does not
/// allow (a read-write map of a file open for reading only) says which
/// call to use instead, keeping the OS error's kind and number.
#[cold]
fn explain_refusal(err: io::Error, file: sys::RawFile, flags: i32, prot: i32) -> io::Error {
    let shared_write = prot & raw::PROT_WRITE != 0 && flags & raw::MAP_PRIVATE == 0;
    let regular = file != sys::NO_FILE && sys::regular_file_size(file).is_some();
    match err.raw_os_error() {
        Some(os_error)
            if err.kind() == io::ErrorKind::PermissionDenied && shared_write && regular =>
        {
            Error::FileNotWritable { os_error }.into()
        }
        _ => err,
    }
}

/// Checks `len` and `offset` against a regular file's size, and resolves
/// `len == 0` to the rest of the file; `None` for an empty file, whose map
/// is empty. Other kinds of file are left to the kernel, as CPython does.
fn checked_len(file: sys::RawFile, len: usize, offset: u64) -> io::Result<Option<usize>> {
    if file == sys::NO_FILE {
        return Ok(Some(len));
    }
    let Some(size) = sys::regular_file_size(file) else {
        return Ok(Some(len));
    };
    if len == 0 {
        if size == 0 {
            return Ok(None);
        }
        if offset >= size {
            return Err(Error::OffsetBeyondFile.into());
        }
        let rest = usize::try_from(size - offset).map_err(|_| Error::LengthBeyondFile)?;
        return Ok(Some(rest));
    }
    if offset > size || size - offset < len as u64 {
        return Err(Error::LengthBeyondFile.into());
    }
    Ok(Some(len))
}
