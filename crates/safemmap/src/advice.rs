//! [`Advice`]: what [`Mmap::advise`](crate::Mmap::advise) can tell the
//! kernel about how a map's pages will be used.

use crate::sys::raw;

/// Advice about a range of a map, for
/// [`Mmap::advise`](crate::Mmap::advise): the `MADV_*` values of
/// `madvise(2)` this platform has. [`as_raw`](Self::as_raw) gives the
/// value, and [`Mmap::advise_raw`](crate::Mmap::advise_raw) takes any
/// value, this enum's or not (as CPython's `madvise` does).
///
/// Unlike `memmap2`, advice that discards contents (`DontNeed`, `Free`,
/// `Remove`) is safe here: no `&[u8]` over the map exists to see the
/// pages change, and they read back as zeros or the file's data. Windows
/// takes no advice: [`Mmap::advise`](crate::Mmap::advise) fails there with
/// [`Unsupported`](std::io::ErrorKind::Unsupported).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
#[repr(i32)]
pub enum Advice {
    /// No special treatment (`MADV_NORMAL`).
    Normal = raw::MADV_NORMAL,
    /// Pages will be used in random order: read ahead less
    /// (`MADV_RANDOM`).
    Random = raw::MADV_RANDOM,
    /// Pages will be used in order: read ahead more, free soon after
    /// (`MADV_SEQUENTIAL`).
    Sequential = raw::MADV_SEQUENTIAL,
    /// Pages will be needed soon: read them ahead (`MADV_WILLNEED`).
    WillNeed = raw::MADV_WILLNEED,
    /// Pages will not be needed soon: the kernel may drop them; a private
    /// map's changes are lost, and its pages read back as zeros or the
    /// file's data (`MADV_DONTNEED`).
    DontNeed = raw::MADV_DONTNEED,
    /// Pages may be freed lazily; until they are, they keep their contents
    /// (`MADV_FREE`: private anonymous maps on Linux).
    #[cfg(any(
        target_os = "linux",
        target_os = "android",
        target_vendor = "apple",
        target_os = "freebsd"
    ))]
    Free = raw::MADV_FREE,
    /// Free the pages and their backing store: a hole punched in a shared
    /// file (`MADV_REMOVE`).
    #[cfg(any(target_os = "linux", target_os = "android"))]
    Remove = raw::MADV_REMOVE,
    /// A child of fork() does not get the range (`MADV_DONTFORK`).
    #[cfg(any(target_os = "linux", target_os = "android"))]
    DontFork = raw::MADV_DONTFORK,
    /// Undoes [`DontFork`](Self::DontFork) (`MADV_DOFORK`).
    #[cfg(any(target_os = "linux", target_os = "android"))]
    DoFork = raw::MADV_DOFORK,
    /// Pages with the same contents may be merged (KSM, `MADV_MERGEABLE`).
    #[cfg(any(target_os = "linux", target_os = "android"))]
    Mergeable = raw::MADV_MERGEABLE,
    /// Undoes [`Mergeable`](Self::Mergeable) (`MADV_UNMERGEABLE`).
    #[cfg(any(target_os = "linux", target_os = "android"))]
    Unmergeable = raw::MADV_UNMERGEABLE,
    /// Back the range with transparent huge pages (`MADV_HUGEPAGE`).
    #[cfg(any(target_os = "linux", target_os = "android"))]
    HugePage = raw::MADV_HUGEPAGE,
    /// Undoes [`HugePage`](Self::HugePage) (`MADV_NOHUGEPAGE`).
    #[cfg(any(target_os = "linux", target_os = "android"))]
    NoHugePage = raw::MADV_NOHUGEPAGE,
    /// Leave the range out of core dumps (`MADV_DONTDUMP`).
    #[cfg(any(target_os = "linux", target_os = "android"))]
    DontDump = raw::MADV_DONTDUMP,
    /// Undoes [`DontDump`](Self::DontDump) (`MADV_DODUMP`).
    #[cfg(any(target_os = "linux", target_os = "android"))]
    DoDump = raw::MADV_DODUMP,
    /// A child of fork() sees the range zero-filled (`MADV_WIPEONFORK`,
    /// private anonymous maps).
    #[cfg(any(target_os = "linux", target_os = "android"))]
    WipeOnFork = raw::MADV_WIPEONFORK,
    /// Undoes [`WipeOnFork`](Self::WipeOnFork) (`MADV_KEEPONFORK`).
    #[cfg(any(target_os = "linux", target_os = "android"))]
    KeepOnFork = raw::MADV_KEEPONFORK,
    /// Pages will not be needed soon: make them the first to reclaim,
    /// keeping their contents (`MADV_COLD`, Linux 5.4).
    #[cfg(any(target_os = "linux", target_os = "android"))]
    Cold = raw::MADV_COLD,
    /// Reclaim the pages now, keeping their contents (`MADV_PAGEOUT`,
    /// Linux 5.4).
    #[cfg(any(target_os = "linux", target_os = "android"))]
    PageOut = raw::MADV_PAGEOUT,
    /// Fill the page tables for reading now, as `MAP_POPULATE` does; a
    /// page that cannot be read is an error, not a fault
    /// (`MADV_POPULATE_READ`, Linux 5.14).
    #[cfg(any(target_os = "linux", target_os = "android"))]
    PopulateRead = raw::MADV_POPULATE_READ,
    /// Fill the page tables for writing now (`MADV_POPULATE_WRITE`, Linux
    /// 5.14).
    #[cfg(any(target_os = "linux", target_os = "android"))]
    PopulateWrite = raw::MADV_POPULATE_WRITE,
    /// The pages may be reused: their contents may be lost
    /// (`MADV_FREE_REUSABLE`).
    #[cfg(target_vendor = "apple")]
    FreeReusable = raw::MADV_FREE_REUSABLE,
    /// The pages are in use again after
    /// [`FreeReusable`](Self::FreeReusable) (`MADV_FREE_REUSE`).
    #[cfg(target_vendor = "apple")]
    FreeReuse = raw::MADV_FREE_REUSE,
}

impl Advice {
    /// The `MADV_*` value, as `madvise(2)` takes it.
    pub fn as_raw(self) -> i32 {
        self as i32
    }
}
