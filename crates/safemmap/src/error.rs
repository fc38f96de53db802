//! What can go wrong, beyond the operating system's own errors.
//!
//! Every fallible function returns [`std::io::Error`]. Refusals that are the
//! crate's own (a bad range, a read-only map...) carry an [`Error`] inside,
//! reachable with [`refusal`] (or [`std::io::Error::get_ref`] and
//! `downcast_ref`), so callers (the Python bindings among them) can tell
//! them apart precisely. A stopped fault is [`Error::Fault`]: [`fault`]
//! gives its [`Fault`] (what kind, where, the OS error number that names
//! it, how many bytes were transferred). Failures reported by the OS carry
//! their errno (`raw_os_error`).

use std::fmt;
use std::io;

/// A refusal of this crate's own. The `Display` text of each variant is the
/// message CPython's `mmap` uses for the same case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// An access to mapped memory faulted and was stopped.
    Fault(Fault),
    /// The file to map is empty and no length was given: not a refusal of
    /// the Rust API, which maps such a file to an empty map (as `memmap2`
    /// does), but CPython's, which the Python module keeps.
    EmptyFile,
    /// The OS refused a shared read-write map of a file open for reading
    /// only (or writing only): kind `PermissionDenied`, carrying its error
    /// number (EACCES on Unix). A read-only map is
    /// [`Mmap::map_read_only`](crate::Mmap::map_read_only).
    FileNotWritable { os_error: i32 },
    /// The offset lies at or beyond the end of the file.
    OffsetBeyondFile,
    /// `offset + len` lies beyond the end of the file.
    LengthBeyondFile,
    /// An access value outside 0..=3.
    InvalidAccess,
    /// An explicit access mode together with explicit flags or protection.
    AccessConflict,
    /// A write to a map opened with [`Access::Read`](crate::Access::Read).
    ReadOnly,
    /// An index at or past the end.
    IndexOutOfRange,
    /// A seek outside `0..=len`.
    SeekOutOfRange,
    /// `read_byte` at or past the end.
    ReadByteOutOfRange,
    /// `write_byte` at or past the end.
    WriteByteOutOfRange,
    /// A write that would not fit between the position and the end.
    DataOutOfRange,
    /// [`read_exact_at`](crate::Mmap::read_exact_at) or
    /// [`write_all_at`](crate::Mmap::write_all_at) of a range that reaches
    /// past the end: `io::ErrorKind::UnexpectedEof`, as from std's `FileExt`.
    RangePastEnd,
    /// [`gather_le`](crate::Mmap::gather_le) or
    /// [`gather_be`](crate::Mmap::gather_be) given fewer or more offsets
    /// than values to fill.
    GatherLengthMismatch,
    /// A `copy_within` range outside the map.
    MoveOutOfRange,
    /// A `flush` range outside the map.
    FlushOutOfRange,
    /// An `advise` start outside the map.
    AdviseStartOutOfRange,
    /// An `advise` length above `isize::MAX`.
    AdviseLengthInvalid,
    /// An `advise` range whose end does not fit in `isize`.
    AdviseLengthTooLarge,
    /// Resizing a read-only or copy-on-write map.
    ResizeNotAllowed,
    /// Resizing a map made without keeping its file descriptor.
    ResizeUntracked,
    /// A new size that does not fit the platform's offsets.
    NewSizeOutOfRange,
    /// Growing a shared anonymous map (Linux would hand back pages that fault).
    SharedAnonymousGrowth,
    /// [`Mmap::set_name`](crate::Mmap::set_name) of a name with a NUL.
    NameWithNul,
    /// [`Mmap::set_name`](crate::Mmap::set_name) of a name longer than
    /// Linux takes (79 bytes).
    NameTooLong,
    /// [`Mmap::set_name`](crate::Mmap::set_name) of a map of a file: only
    /// anonymous maps take names.
    NameOfFileMap,
    /// A map of huge pages ([`MmapOptions::huge_pages`](crate::MmapOptions::huge_pages))
    /// whose length is not a multiple of their size.
    HugePagesLength { page_size: usize },
    /// Resizing a map of huge pages, which the OS unmaps only whole.
    HugePagesResize,
    /// [`Mmap::finish_resize`](crate::Mmap::finish_resize) given a
    /// [`Resize`](crate::Resize) that is not the map's latest.
    ResizeOfAnotherMap,
}

impl Error {
    /// For a fault, how many bytes the operation had certainly transferred
    /// when it was stopped (see [`Fault::transferred`]); `None` for any
    /// other refusal.
    pub fn transferred(&self) -> Option<usize> {
        match self {
            Error::Fault(fault) => Some(fault.transferred),
            _ => None,
        }
    }

    /// The operating system's error number behind a fault or an OS refusal
    /// the crate explains ([`Error::FileNotWritable`]); `None` otherwise.
    pub fn os_error(&self) -> Option<i32> {
        match self {
            Error::Fault(fault) => Some(fault.os_error),
            Error::FileNotWritable { os_error } => Some(*os_error),
            _ => None,
        }
    }

    fn kind(self) -> io::ErrorKind {
        match self {
            Error::Fault(_) => io::ErrorKind::Other,
            Error::ReadOnly
            | Error::ResizeNotAllowed
            | Error::ResizeUntracked
            | Error::FileNotWritable { .. } => io::ErrorKind::PermissionDenied,
            Error::SharedAnonymousGrowth | Error::HugePagesResize => io::ErrorKind::Unsupported,
            Error::RangePastEnd => io::ErrorKind::UnexpectedEof,
            _ => io::ErrorKind::InvalidInput,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Error::Fault(fault) => return fault.fmt(f),
            Error::FileNotWritable { os_error } => {
                return write!(
                    f,
                    "{}: a shared read-write map (Mmap::map, Access::Default or \
                     Access::Write) needs the file open for reading and writing; \
                     map a file open for reading only with Mmap::map_read_only \
                     (Access::Read), or Access::Copy for private changes",
                    io::Error::from_raw_os_error(*os_error)
                )
            }
            Error::HugePagesLength { page_size } => {
                return write!(
                    f,
                    "a map of huge pages must be a whole number of them ({page_size} bytes each)"
                )
            }
            Error::EmptyFile => "cannot mmap an empty file",
            Error::OffsetBeyondFile => "mmap offset is greater than file size",
            Error::LengthBeyondFile => "mmap length is greater than file size",
            Error::InvalidAccess => "mmap invalid access parameter.",
            Error::AccessConflict => "mmap can't specify both access and flags, prot.",
            Error::ReadOnly => "mmap can't modify a readonly memory map.",
            Error::IndexOutOfRange => "mmap index out of range",
            Error::SeekOutOfRange => "seek out of range",
            Error::ReadByteOutOfRange => "read byte out of range",
            Error::WriteByteOutOfRange => "write byte out of range",
            Error::DataOutOfRange => "data out of range",
            Error::RangePastEnd => "the range reaches past the end of the map",
            Error::GatherLengthMismatch => "as many offsets as values to fill are needed",
            Error::MoveOutOfRange => "source, destination, or count out of range",
            Error::FlushOutOfRange => "flush values out of range",
            Error::AdviseStartOutOfRange => "madvise start out of bounds",
            Error::AdviseLengthInvalid => "madvise length invalid",
            Error::AdviseLengthTooLarge => "madvise length too large",
            Error::ResizeNotAllowed => "mmap can't resize a readonly or copy-on-write memory map.",
            Error::ResizeUntracked => "mmap can't resize with trackfd=False.",
            Error::NewSizeOutOfRange => "new size out of range",
            Error::SharedAnonymousGrowth => "mmap: can't expand a shared anonymous mapping",
            Error::NameWithNul => "embedded null character",
            Error::NameTooLong => "name is too long",
            Error::NameOfFileMap => "Cannot set annotation on non-anonymous mappings",
            Error::HugePagesResize => "a map of huge pages cannot be resized",
            Error::ResizeOfAnotherMap => {
                "a resize can only be finished by the map it began on, before another begins"
            }
        })
    }
}

impl std::error::Error for Error {}

/// A fault in mapped memory that was stopped: where, what kind, and how
/// far the operation had got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fault {
    /// Why the page could not be reached.
    pub kind: FaultKind,
    /// The memory that faulted: the map's own, or a buffer lent to the call.
    pub region: Region,
    /// The offset of the faulting byte from the start of `region`.
    pub offset: usize,
    /// How many bytes from the start of the copy had certainly reached the
    /// destination when the fault stopped it: those before the 64-byte
    /// block, counted from where the copy began in the range that faulted,
    /// that holds the first byte of the faulting page. The copy runs
    /// forwards and stores each such block before loading past it, so these
    /// bytes are stored; a few after them may be too. 0 for faults in a copy
    /// whose ranges overlap ([`Mmap::copy_within`](crate::Mmap::copy_within),
    /// which may run backwards) and in operations that are not copies.
    pub transferred: usize,
    /// The OS error that best names it: on Unix EIO for an unbacked page,
    /// EFAULT for an inaccessible one; on Windows the Win32 error the
    /// exception carried (the in-page error's translated NTSTATUS, or
    /// ERROR_NOACCESS), as CPython reports them.
    pub os_error: i32,
}

/// Where a [`Fault`] happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Region {
    /// In the map the operation belongs to.
    Map,
    /// In the buffer a write or copy read from: memory the caller lent
    /// (`write_at_raw`'s data, `copy_fault_safe`'s source).
    Source,
    /// In the buffer a read or copy stored to: memory the caller lent
    /// (`read_at_raw`'s destination, `copy_fault_safe`'s).
    Destination,
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Region::Map => "mapped memory",
            Region::Source => "lent source buffer",
            Region::Destination => "lent destination buffer",
        })
    }
}

/// Why a [`Fault`]'s page could not be reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FaultKind {
    /// The page has no backing any more (SIGBUS): the file was truncated
    /// below it, a write found the file system full, or reading it from the
    /// disk or network failed.
    Unbacked,
    /// The page may not be accessed this way (SIGSEGV): its protection
    /// forbids it.
    Inaccessible,
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            FaultKind::Unbacked => write!(
                f,
                "{} at offset {} has no backing (SIGBUS): the file was truncated below it, \
                 the file system is full, or reading it failed",
                self.region, self.offset
            ),
            FaultKind::Inaccessible => write!(
                f,
                "{} at offset {} is not accessible (SIGSEGV): its protection forbids it",
                self.region, self.offset
            ),
        }
    }
}

impl From<Error> for io::Error {
    // Out of line: every fallible call site would otherwise carry the
    // construction inline, on the way of its success path.
    #[cold]
    #[inline(never)]
    fn from(e: Error) -> io::Error {
        io::Error::new(e.kind(), e)
    }
}

/// How many bytes the failed operation had certainly transferred when a
/// fault stopped it ([`Error::transferred`]); 0 for any other error.
pub fn transferred(err: &io::Error) -> usize {
    refusal(err)
        .and_then(|refusal| refusal.transferred())
        .unwrap_or(0)
}

/// The crate's own refusal inside `err`, if it is one.
pub fn refusal(err: &io::Error) -> Option<Error> {
    err.get_ref()?.downcast_ref::<Error>().copied()
}

/// The fault inside `err`, if an access to mapped memory (or to a buffer
/// lent to the call) faulted and was stopped: its kind, the offset of the
/// faulting byte, the OS error number and the bytes transferred.
///
/// ```
/// # fn read_header(map: &safemmap::Mmap) -> std::io::Result<()> {
/// let mut header = [0; 64];
/// match map.read_exact_at(0, &mut header) {
///     Ok(()) => {}
///     Err(err) => match safemmap::fault(&err) {
///         Some(fault) => eprintln!(
///             "the file lost the page at offset {} (errno {})",
///             fault.offset, fault.os_error
///         ),
///         None => return Err(err), // a bad range, or the OS's own error
///     },
/// }
/// # Ok(())
/// # }
/// ```
pub fn fault(err: &io::Error) -> Option<Fault> {
    match refusal(err)? {
        Error::Fault(fault) => Some(fault),
        _ => None,
    }
}
