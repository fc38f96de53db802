//! Unix backend: mmap(2), mremap(2) where Linux has it, msync, madvise,
//! fstat, ftruncate and dup; CPU counts.

mod code;
mod cpu;
mod signal;
mod thread_value;

pub(crate) use code::may_run_guarded;
pub(crate) use cpu::{cgroup_root, online_cpus, process_affinity_cpus, thread_affinity_cpus};
pub(crate) use signal::{
    ensure_fault_handler, forget_displaced_handler, install_fault_handler, set_thread_record,
    thread_record,
};

use std::ffi::CStr;
use std::io;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::ptr;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A descriptor as the caller hands it over (`-1` = none).
pub(crate) type RawFile = RawFd;
/// A descriptor the map keeps for itself.
pub(crate) type OwnedFile = OwnedFd;
/// What [`MmapOptions::map`](crate::MmapOptions::map) accepts.
pub use std::os::fd::AsFd as AsFile;

pub(crate) const NO_FILE: RawFile = -1;

pub(crate) fn raw_file(file: &impl AsFd) -> RawFile {
    file.as_fd().as_raw_fd()
}

pub(crate) fn owned_raw(file: &OwnedFile) -> RawFile {
    file.as_raw_fd()
}

/// Raw protection and flag values, named as the C headers name them.
pub mod raw {
    /// `(name, value)` pairs of libc constants, each kept only where its
    /// `cfg` holds.
    macro_rules! named {
        ($($(#[$only:meta])* $name:ident,)*) => {
            &[$($(#[$only])* (stringify!($name), libc::$name as i64),)*]
        };
    }

    /// `(name, value)` of every constant CPython's `mmap` module exports on
    /// this platform, in a stable order.
    pub const CONSTANTS: &[(&str, i64)] = named![
        PROT_READ,
        PROT_WRITE,
        PROT_EXEC,
        MAP_SHARED,
        MAP_PRIVATE,
        MAP_ANON,
        MAP_ANONYMOUS,
        #[cfg(any(target_os = "linux", target_os = "android"))]
        MAP_DENYWRITE,
        #[cfg(any(target_os = "linux", target_os = "android"))]
        MAP_EXECUTABLE,
        MAP_NORESERVE,
        #[cfg(any(target_os = "linux", target_os = "android"))]
        MAP_POPULATE,
        #[cfg(any(target_os = "linux", target_os = "android"))]
        MAP_STACK,
        #[cfg(all(target_os = "linux", target_arch = "x86_64"))]
        MAP_32BIT,
        #[cfg(target_vendor = "apple")]
        MAP_JIT,
        #[cfg(target_vendor = "apple")]
        MAP_HASSEMAPHORE,
        #[cfg(target_vendor = "apple")]
        MAP_NOCACHE,
        MADV_NORMAL,
        MADV_RANDOM,
        MADV_SEQUENTIAL,
        MADV_WILLNEED,
        MADV_DONTNEED,
        MADV_FREE,
        #[cfg(any(target_os = "linux", target_os = "android"))]
        MADV_REMOVE,
        #[cfg(any(target_os = "linux", target_os = "android"))]
        MADV_DONTFORK,
        #[cfg(any(target_os = "linux", target_os = "android"))]
        MADV_DOFORK,
        #[cfg(any(target_os = "linux", target_os = "android"))]
        MADV_MERGEABLE,
        #[cfg(any(target_os = "linux", target_os = "android"))]
        MADV_UNMERGEABLE,
        #[cfg(any(target_os = "linux", target_os = "android"))]
        MADV_HUGEPAGE,
        #[cfg(any(target_os = "linux", target_os = "android"))]
        MADV_NOHUGEPAGE,
        #[cfg(any(target_os = "linux", target_os = "android"))]
        MADV_DONTDUMP,
        #[cfg(any(target_os = "linux", target_os = "android"))]
        MADV_DODUMP,
        #[cfg(any(target_os = "linux", target_os = "android"))]
        MADV_HWPOISON,
        #[cfg(target_vendor = "apple")]
        MADV_FREE_REUSABLE,
        #[cfg(target_vendor = "apple")]
        MADV_FREE_REUSE,
        MS_SYNC,
        MS_ASYNC,
        MS_INVALIDATE,
    ];

    pub const PROT_READ: i32 = libc::PROT_READ;
    pub const PROT_WRITE: i32 = libc::PROT_WRITE;
    pub const PROT_EXEC: i32 = libc::PROT_EXEC;
    pub const MAP_SHARED: i32 = libc::MAP_SHARED;
    pub const MAP_PRIVATE: i32 = libc::MAP_PRIVATE;
    pub const MAP_ANONYMOUS: i32 = libc::MAP_ANON;

    /// A `pub const` per libc advice value that [`Advice`](crate::Advice)
    /// names, each kept only where its `cfg` holds.
    macro_rules! advice {
        ($($(#[$only:meta])* $name:ident,)*) => {
            $($(#[$only])* pub const $name: i32 = libc::$name;)*
        };
    }

    advice![
        MADV_NORMAL,
        MADV_RANDOM,
        MADV_SEQUENTIAL,
        MADV_WILLNEED,
        MADV_DONTNEED,
        #[cfg(any(
            target_os = "linux",
            target_os = "android",
            target_vendor = "apple",
            target_os = "freebsd"
        ))]
        MADV_FREE,
        #[cfg(any(target_os = "linux", target_os = "android"))]
        MADV_REMOVE,
        #[cfg(any(target_os = "linux", target_os = "android"))]
        MADV_DONTFORK,
        #[cfg(any(target_os = "linux", target_os = "android"))]
        MADV_DOFORK,
        #[cfg(any(target_os = "linux", target_os = "android"))]
        MADV_MERGEABLE,
        #[cfg(any(target_os = "linux", target_os = "android"))]
        MADV_UNMERGEABLE,
        #[cfg(any(target_os = "linux", target_os = "android"))]
        MADV_HUGEPAGE,
        #[cfg(any(target_os = "linux", target_os = "android"))]
        MADV_NOHUGEPAGE,
        #[cfg(any(target_os = "linux", target_os = "android"))]
        MADV_DONTDUMP,
        #[cfg(any(target_os = "linux", target_os = "android"))]
        MADV_DODUMP,
        #[cfg(any(target_os = "linux", target_os = "android"))]
        MADV_WIPEONFORK,
        #[cfg(any(target_os = "linux", target_os = "android"))]
        MADV_KEEPONFORK,
        #[cfg(any(target_os = "linux", target_os = "android"))]
        MADV_COLD,
        #[cfg(any(target_os = "linux", target_os = "android"))]
        MADV_PAGEOUT,
        #[cfg(any(target_os = "linux", target_os = "android"))]
        MADV_POPULATE_READ,
        #[cfg(any(target_os = "linux", target_os = "android"))]
        MADV_POPULATE_WRITE,
        #[cfg(target_vendor = "apple")]
        MADV_FREE_REUSABLE,
        #[cfg(target_vendor = "apple")]
        MADV_FREE_REUSE,
    ];
}

fn check(ret: libc::c_int) -> io::Result<()> {
    if ret == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

pub(crate) fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    unsafe { libc::sysconf(libc::_SC_PAGESIZE) as usize }
}

/// The granularity of mapping offsets; on Unix, the page size.
pub(crate) fn allocation_granularity() -> usize {
    page_size()
}

static FORKS: AtomicUsize = AtomicUsize::new(0);

/// How many times this process has been a child of fork() since this
/// library was loaded, counted by a `pthread_atfork` handler that runs in
/// the child before anything else there can look.
pub(crate) fn fork_count() -> usize {
    FORKS.load(Ordering::Relaxed)
}

/// Registers the fork counter when the library is loaded: registered
/// later, under a lock or a one-time initialisation, a fork by another
/// thread meanwhile would leave the child waiting on it for ever.
#[used]
#[cfg_attr(
    any(target_os = "linux", target_os = "android"),
    link_section = ".init_array"
)]
#[cfg_attr(target_vendor = "apple", link_section = "__DATA,__mod_init_func")]
static COUNT_FORKS: extern "C" fn() = count_forks;

extern "C" fn count_forks() {
    extern "C" fn forked() {
        FORKS.fetch_add(1, Ordering::Relaxed);
    }
    // SAFETY: registers a handler that only bumps an atomic, which is all
    // a child of a multi-threaded fork() may do.
    unsafe { libc::pthread_atfork(None, None, Some(forked)) };
}

/// Maps `len` bytes; `file` is `NO_FILE` for an anonymous map.
pub(crate) fn map(
    len: usize,
    prot: i32,
    flags: i32,
    file: RawFile,
    offset: u64,
) -> io::Result<*mut u8> {
    let offset =
        libc::off_t::try_from(offset).map_err(|_| io::Error::from_raw_os_error(libc::EOVERFLOW))?;
    // SAFETY: a NULL hint lets the kernel choose fresh addresses, so no
    // existing memory is replaced; an invalid descriptor or argument is an
    // error return, not undefined behaviour.
    let ptr = unsafe { libc::mmap(ptr::null_mut(), len, prot, flags, file, offset) };
    if ptr == libc::MAP_FAILED {
        Err(io::Error::last_os_error())
    } else {
        Ok(ptr.cast())
    }
}

/// The first index of `byte` in `hay`, by the C library's memchr: tuned
/// for the machine, and a leaf function that holds nothing, so a guarded
/// call may abandon it.
pub(crate) fn memchr(byte: u8, hay: &[u8]) -> Option<usize> {
    // SAFETY: the slice is readable for its length; the result is NULL or
    // points into it.
    let found = unsafe { libc::memchr(hay.as_ptr().cast(), byte.into(), hay.len()) };
    (!found.is_null()).then(|| found as usize - hay.as_ptr() as usize)
}

/// Whether [`unmap`] can unmap the end of a mapping and keep the rest.
pub(crate) const UNMAPS_PART: bool = true;

/// Whether a file can be cut below a mapping of it (the pages cut off then
/// fault, which the guard catches).
pub(crate) const CUTS_MAPPED_FILES: bool = true;

/// Unmaps a region.
///
/// # Safety
/// `ptr..ptr + len` is a mapping made by [`map`] or [`remap`], or a
/// page-aligned end of one, and nothing uses it afterwards.
pub(crate) unsafe fn unmap(ptr: *mut u8, len: usize) {
    // SAFETY: the caller passes a live mapping it gives up. munmap cannot
    // fail for one; there is nothing useful to do if it did.
    unsafe { libc::munmap(ptr.cast(), len) };
}

/// Grows or shrinks a mapping in the kernel, possibly moving it. `Ok(None)`
/// means the kernel cannot, and the caller must emulate it: this OS has no
/// mremap, or the mapping is no longer one piece for it (`madvise` or
/// `mprotect` of part of it split it, and mremap fails with EFAULT, as it
/// does under CPython's resize).
///
/// # Safety
/// `ptr..ptr + old_len` is a whole live mapping; on `Ok(Some(_))` it is
/// replaced by the returned one.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) unsafe fn remap(
    ptr: *mut u8,
    old_len: usize,
    new_len: usize,
) -> io::Result<Option<*mut u8>> {
    // SAFETY: the caller owns the mapping; MREMAP_MAYMOVE never overwrites
    // other mappings.
    let new = unsafe { libc::mremap(ptr.cast(), old_len, new_len, libc::MREMAP_MAYMOVE) };
    if new != libc::MAP_FAILED {
        return Ok(Some(new.cast()));
    }
    match io::Error::last_os_error() {
        split if split.raw_os_error() == Some(libc::EFAULT) => Ok(None),
        error => Err(error),
    }
}

/// See the Linux version: other Unix systems have no mremap.
///
/// # Safety
/// As for the Linux version.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub(crate) unsafe fn remap(_: *mut u8, _: usize, _: usize) -> io::Result<Option<*mut u8>> {
    Ok(None)
}

/// Writes dirty pages of `ptr..ptr + len` back to the file, with `msync`
/// flags `flags` (0 for MS_SYNC: write and wait).
///
/// # Safety
/// The range lies inside a live mapping.
pub(crate) unsafe fn flush(ptr: *mut u8, len: usize, flags: i32) -> io::Result<()> {
    let flags = if flags == 0 { libc::MS_SYNC } else { flags };
    // SAFETY: the caller guarantees the range is mapped; an unaligned start
    // or bad flags are reported by the kernel as EINVAL.
    check(unsafe { libc::msync(ptr.cast(), len, flags) })
}

/// Names the anonymous mapping `ptr..ptr + len` (Linux 5.17 and later,
/// built with CONFIG_ANON_VMA_NAME; EINVAL from other kernels).
///
/// # Safety
/// The range is a live anonymous mapping.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) unsafe fn name_anonymous(ptr: *mut u8, len: usize, name: &CStr) -> io::Result<()> {
    // SAFETY: the caller guarantees the range is mapped; the kernel copies
    // the NUL-terminated name, which lives through the call.
    check(unsafe {
        libc::prctl(
            libc::PR_SET_VMA,
            libc::PR_SET_VMA_ANON_NAME as libc::c_ulong,
            ptr as libc::c_ulong,
            len as libc::c_ulong,
            name.as_ptr(),
        )
    })
}

/// Other Unix systems name no mappings.
///
/// # Safety
/// None needed; nothing is touched.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub(crate) unsafe fn name_anonymous(_: *mut u8, _: usize, _: &CStr) -> io::Result<()> {
    Err(io::Error::from(io::ErrorKind::Unsupported))
}

/// Starts writing dirty pages of `ptr..ptr + len` back to the file, and
/// returns without waiting (MS_ASYNC).
///
/// # Safety
/// The range lies inside a live mapping.
pub(crate) unsafe fn flush_async(ptr: *mut u8, len: usize) -> io::Result<()> {
    // SAFETY: as for `flush`.
    check(unsafe { libc::msync(ptr.cast(), len, libc::MS_ASYNC) })
}

/// Keeps the pages of `ptr..ptr + len` in memory (mlock): reading them in
/// if needed, within RLIMIT_MEMLOCK unless privileged.
///
/// # Safety
/// The range lies inside a live mapping.
pub(crate) unsafe fn lock(ptr: *mut u8, len: usize) -> io::Result<()> {
    // SAFETY: mlock changes no memory; the caller guarantees the range is
    // mapped (an unmapped one is ENOMEM, a page the file lost EFAULT).
    check(unsafe { libc::mlock(ptr.cast(), len) })
}

/// Lets the pages of `ptr..ptr + len` be paged out again (munlock).
///
/// # Safety
/// The range lies inside a live mapping.
pub(crate) unsafe fn unlock(ptr: *mut u8, len: usize) -> io::Result<()> {
    // SAFETY: as for `lock`.
    check(unsafe { libc::munlock(ptr.cast(), len) })
}

/// Reads the pages of `ptr..ptr + len` in ahead of use, so that the first
/// accesses do not wait for the disk: Linux 5.14+ fills the page tables
/// (MADV_POPULATE_READ, MAP_POPULATE's work as a separate call), older
/// kernels and other systems are asked to read ahead (MADV_WILLNEED).
///
/// # Safety
/// The range lies inside a live mapping.
pub(crate) unsafe fn populate(ptr: *mut u8, len: usize) -> io::Result<()> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        // SAFETY: the caller guarantees the range is mapped; populating
        // changes no contents, and a page the file lost is EFAULT, not a
        // signal.
        let populated = check(unsafe { libc::madvise(ptr.cast(), len, libc::MADV_POPULATE_READ) });
        match populated {
            // EINVAL: a kernel older than 5.14.
            Err(err) if err.raw_os_error() == Some(libc::EINVAL) => {}
            populated => return populated,
        }
    }
    // SAFETY: the caller guarantees the range is mapped; the advice is a hint.
    check(unsafe { libc::madvise(ptr.cast(), len, libc::MADV_WILLNEED) })
}

/// The mmap flag for a map of huge pages (Linux's MAP_HUGETLB), where
/// there is one.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) const HUGE_PAGES: Option<i32> = Some(libc::MAP_HUGETLB);
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub(crate) const HUGE_PAGES: Option<i32> = None;

/// The size of the pages a [`HUGE_PAGES`] map gets (the system's default
/// huge page size). Such a map is only unmapped in whole huge pages.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) fn huge_page_size() -> io::Result<usize> {
    let meminfo = std::fs::read_to_string("/proc/meminfo")?;
    let kib = meminfo
        .lines()
        .find_map(|line| line.strip_prefix("Hugepagesize:"))
        .and_then(|size| size.trim().strip_suffix("kB")?.trim().parse::<usize>().ok())
        .ok_or_else(|| io::Error::from(io::ErrorKind::Unsupported))?;
    Ok(kib * 1024)
}

/// Other Unix systems offer no huge pages to mmap (macOS's superpages are
/// for `mach_vm_allocate`).
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub(crate) fn huge_page_size() -> io::Result<usize> {
    Err(io::Error::from(io::ErrorKind::Unsupported))
}

/// Passes advice about `ptr..ptr + len` to the kernel.
///
/// # Safety
/// The range lies inside a live mapping. Advice that discards contents
/// (MADV_DONTNEED, MADV_FREE, MADV_REMOVE) is memory-safe: the pages read
/// back as zeros or file data.
pub(crate) unsafe fn advise(ptr: *mut u8, len: usize, advice: i32) -> io::Result<()> {
    // SAFETY: the caller guarantees the range is mapped.
    check(unsafe { libc::madvise(ptr.cast(), len, advice) })
}

fn fstat(file: RawFile) -> io::Result<libc::stat> {
    // SAFETY: fstat writes a whole `stat` into the zeroed buffer, or fails.
    unsafe {
        let mut st: libc::stat = std::mem::zeroed();
        check(libc::fstat(file, &mut st))?;
        Ok(st)
    }
}

/// The size of `file`, if it is a regular file (`None` for devices, pipes...).
/// An fstat failure also gives `None`: the mapping call reports it.
pub(crate) fn regular_file_size(file: RawFile) -> Option<u64> {
    let st = fstat(file).ok()?;
    let regular = st.st_mode & libc::S_IFMT == libc::S_IFREG;
    regular.then_some(st.st_size as u64)
}

pub(crate) fn file_size(file: RawFile) -> io::Result<u64> {
    Ok(fstat(file)?.st_size as u64)
}

pub(crate) fn set_file_size(file: RawFile, size: u64) -> io::Result<()> {
    let size =
        libc::off_t::try_from(size).map_err(|_| io::Error::from_raw_os_error(libc::EFBIG))?;
    // SAFETY: ftruncate only acts on the descriptor; a bad one is EBADF.
    check(unsafe { libc::ftruncate(file, size) })
}

/// A close-on-exec duplicate of `file`.
pub(crate) fn duplicate(file: RawFile) -> io::Result<OwnedFile> {
    // SAFETY: F_DUPFD_CLOEXEC returns a fresh descriptor that nothing else
    // owns, or -1.
    let fd = unsafe { libc::fcntl(file, libc::F_DUPFD_CLOEXEC, 0) };
    check(fd)?;
    // SAFETY: `fd` is new and ours alone.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// The errno for "bad file descriptor", reported by `file_size` of a map
/// that keeps no descriptor.
pub(crate) fn bad_file() -> io::Error {
    io::Error::from_raw_os_error(libc::EBADF)
}

/// The errno for an invalid argument.
pub(crate) fn invalid_argument() -> io::Error {
    io::Error::from_raw_os_error(libc::EINVAL)
}

/// What a caught fault was, from the code the handler reported: the signal.
pub(crate) fn classify_fault(signal: usize) -> (crate::FaultKind, i32) {
    match signal as libc::c_int {
        libc::SIGBUS => (crate::FaultKind::Unbacked, libc::EIO),
        _ => (crate::FaultKind::Inaccessible, libc::EFAULT),
    }
}

#[cfg(test)]
mod tests {
    use super::fork_count;

    #[test]
    fn a_child_of_fork_counts_one_more() {
        let before = fork_count();
        // SAFETY: the child only reads an atomic and exits.
        match unsafe { libc::fork() } {
            // SAFETY: _exit is async-signal-safe, as a forked child needs.
            0 => unsafe { libc::_exit(i32::from(fork_count() != before + 1)) },
            -1 => panic!("fork failed: {}", std::io::Error::last_os_error()),
            child => {
                let mut status = 0;
                // SAFETY: waits for our own child.
                unsafe { libc::waitpid(child, &mut status, 0) };
                assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0);
                assert_eq!(fork_count(), before, "the parent's count is unchanged");
            }
        }
    }
}
