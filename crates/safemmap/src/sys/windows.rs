//! Windows backend: file mapping objects and views, a vectored exception
//! handler for faults in them, and CPU counts.
//!
//! Windows has no `PROT_*`/`MAP_*` flags; the crate's portable encoding
//! (below, in [`raw`]) is translated into page protections and view access.

use std::ffi::{c_void, CStr};
use std::io;
use std::os::windows::io::{AsHandle, AsRawHandle, FromRawHandle, OwnedHandle, RawHandle};
use std::path::Path;
use std::ptr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Once;

use windows_sys::Win32::Foundation::{
    DuplicateHandle, GetLastError, RtlNtStatusToDosError, SetLastError, DUPLICATE_SAME_ACCESS,
    ERROR_INVALID_HANDLE, ERROR_INVALID_PARAMETER, ERROR_NOACCESS, EXCEPTION_ACCESS_VIOLATION,
    EXCEPTION_IN_PAGE_ERROR, HANDLE, INVALID_HANDLE_VALUE, NTSTATUS,
};
use windows_sys::Win32::Storage::FileSystem::{
    FileEndOfFileInfo, GetFileSizeEx, GetFileType, SetFileInformationByHandle,
    FILE_END_OF_FILE_INFO, FILE_TYPE_DISK,
};
use windows_sys::Win32::System::Diagnostics::Debug::{
    AddVectoredExceptionHandler, EXCEPTION_CONTINUE_EXECUTION, EXCEPTION_CONTINUE_SEARCH,
    EXCEPTION_POINTERS,
};
use windows_sys::Win32::System::Memory::{
    CreateFileMappingW, FlushViewOfFile, MapViewOfFile, PrefetchVirtualMemory, UnmapViewOfFile,
    VirtualLock, VirtualUnlock, FILE_MAP_COPY, FILE_MAP_READ, FILE_MAP_WRITE,
    MEMORY_MAPPED_VIEW_ADDRESS, PAGE_READONLY, PAGE_READWRITE, PAGE_WRITECOPY,
    WIN32_MEMORY_RANGE_ENTRY,
};
use windows_sys::Win32::System::SystemInformation::{GetSystemInfo, SYSTEM_INFO};
use windows_sys::Win32::System::Threading::{
    FlsAlloc, FlsFree, FlsGetValue, FlsSetValue, GetActiveProcessorCount,
    GetActiveProcessorGroupCount, GetCurrentProcess, GetProcessAffinityMask, ALL_PROCESSOR_GROUPS,
    FLS_OUT_OF_INDEXES,
};

use crate::door::guard::{self, ThreadRecord};

/// A handle as the caller hands it over (`INVALID_HANDLE_VALUE` = none).
pub(crate) type RawFile = RawHandle;
/// A handle the map keeps for itself.
pub(crate) type OwnedFile = OwnedHandle;
/// What [`MmapOptions::map`](crate::MmapOptions::map) accepts.
pub use std::os::windows::io::AsHandle as AsFile;

pub(crate) const NO_FILE: RawFile = INVALID_HANDLE_VALUE as RawFile;

pub(crate) fn raw_file(file: &impl AsHandle) -> RawFile {
    file.as_handle().as_raw_handle()
}

pub(crate) fn owned_raw(file: &OwnedFile) -> RawFile {
    file.as_raw_handle()
}

/// The crate's portable protection and flag values. CPython's `mmap` has
/// none of them on Windows, so [`CONSTANTS`](raw::CONSTANTS) is empty.
pub mod raw {
    pub const CONSTANTS: &[(&str, i64)] = &[];

    pub const PROT_READ: i32 = 1;
    pub const PROT_WRITE: i32 = 2;
    pub const PROT_EXEC: i32 = 4;
    pub const MAP_SHARED: i32 = 1;
    pub const MAP_PRIVATE: i32 = 2;
    pub const MAP_ANONYMOUS: i32 = 0x20;

    /// POSIX's values for the advice every platform names; Windows takes
    /// none (see `advise`).
    pub const MADV_NORMAL: i32 = 0;
    pub const MADV_RANDOM: i32 = 1;
    pub const MADV_SEQUENTIAL: i32 = 2;
    pub const MADV_WILLNEED: i32 = 3;
    pub const MADV_DONTNEED: i32 = 4;
}

fn check(ok: i32) -> io::Result<()> {
    if ok == 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

fn system_info() -> SYSTEM_INFO {
    // SAFETY: GetSystemInfo fills the whole zeroed struct.
    unsafe {
        let mut info = std::mem::zeroed();
        GetSystemInfo(&mut info);
        info
    }
}

pub(crate) fn page_size() -> usize {
    system_info().dwPageSize as usize
}

pub(crate) fn allocation_granularity() -> usize {
    system_info().dwAllocationGranularity as usize
}

/// Windows has no fork().
pub(crate) fn fork_count() -> usize {
    0
}

/// Logical CPUs in all processor groups, CPython's `os.cpu_count()`.
pub(crate) fn online_cpus() -> Option<usize> {
    // SAFETY: no preconditions.
    let count = unsafe { GetActiveProcessorCount(ALL_PROCESSOR_GROUPS) };
    Some(count as usize).filter(|&count| count >= 1)
}

/// CPython reads no thread affinity on Windows.
pub(crate) fn thread_affinity_cpus() -> Option<usize> {
    None
}

/// The CPUs in the process affinity mask (set by `start /affinity`, a job
/// object or SetProcessAffinityMask). The mask only covers the process's
/// own processor group, so it only counts on machines with one group (at
/// most 64 logical CPUs); it is zero for a process that spans groups.
pub(crate) fn process_affinity_cpus() -> Option<usize> {
    // SAFETY: no preconditions.
    if unsafe { GetActiveProcessorGroupCount() } != 1 {
        return None;
    }
    let (mut process, mut system) = (0, 0);
    // SAFETY: the pseudo-handle of the current process is always valid; the
    // call writes two usize masks.
    let ok = unsafe { GetProcessAffinityMask(GetCurrentProcess(), &mut process, &mut system) };
    (ok != 0 && process != 0).then(|| process.count_ones() as usize)
}

/// No cgroups on Windows.
pub(crate) fn cgroup_root() -> Option<&'static Path> {
    None
}

fn split(value: u64) -> (u32, u32) {
    ((value >> 32) as u32, value as u32)
}

/// Maps `len` bytes at `offset` of `file` (or of the paging file for
/// `NO_FILE`) through a mapping object that the view keeps alive.
pub(crate) fn map(
    len: usize,
    prot: i32,
    flags: i32,
    file: RawFile,
    offset: u64,
) -> io::Result<*mut u8> {
    let (protection, access) = match (prot & raw::PROT_WRITE != 0, flags & raw::MAP_PRIVATE != 0) {
        (false, _) => (PAGE_READONLY, FILE_MAP_READ),
        (true, false) => (PAGE_READWRITE, FILE_MAP_WRITE),
        (true, true) => (PAGE_WRITECOPY, FILE_MAP_COPY),
    };
    let (protection, access) = if file == NO_FILE && protection == PAGE_WRITECOPY {
        (PAGE_READWRITE, FILE_MAP_COPY)
    } else {
        (protection, access)
    };
    let end = offset
        .checked_add(len as u64)
        .ok_or_else(invalid_argument)?;
    let (size_high, size_low) = split(end);
    let (offset_high, offset_low) = split(offset);
    // SAFETY: a NULL name and attributes make an unnamed mapping object;
    // bad handles or sizes are error returns.
    unsafe {
        let mapping = CreateFileMappingW(
            file as HANDLE,
            ptr::null(),
            protection,
            size_high,
            size_low,
            ptr::null(),
        );
        if mapping.is_null() {
            return Err(io::Error::last_os_error());
        }
        let view = MapViewOfFile(mapping, access, offset_high, offset_low, len);
        let error = io::Error::last_os_error();
        // The view holds its own reference to the mapping object.
        drop(OwnedHandle::from_raw_handle(mapping as RawHandle));
        if view.Value.is_null() {
            return Err(error);
        }
        Ok(view.Value.cast())
    }
}

/// The first index of `byte` in `hay` (memchr's searcher: the C runtime's
/// is not known to be faster).
pub(crate) fn memchr(byte: u8, hay: &[u8]) -> Option<usize> {
    memchr::memchr(byte, hay)
}

/// Windows unmaps whole views only.
pub(crate) const UNMAPS_PART: bool = false;

/// Windows cannot cut a file below a view of it (ERROR_USER_MAPPED_FILE).
pub(crate) const CUTS_MAPPED_FILES: bool = false;

/// # Safety
/// `ptr` is the start of a view made by [`map`], unused afterwards.
pub(crate) unsafe fn unmap(ptr: *mut u8, _len: usize) {
    // SAFETY: the caller gives up a live view.
    unsafe { UnmapViewOfFile(MEMORY_MAPPED_VIEW_ADDRESS { Value: ptr.cast() }) };
}

/// Windows cannot resize a view in place: the caller emulates it.
///
/// # Safety
/// None needed; nothing is touched.
pub(crate) unsafe fn remap(_: *mut u8, _: usize, _: usize) -> io::Result<Option<*mut u8>> {
    Ok(None)
}

/// Writes the view's dirty pages back; Windows has no `msync` flags, so
/// the flags are ignored (as CPython ignores them there).
///
/// # Safety
/// The range lies inside a live view.
pub(crate) unsafe fn flush(ptr: *mut u8, len: usize, _flags: i32) -> io::Result<()> {
    // SAFETY: the caller guarantees the range is mapped.
    check(unsafe { FlushViewOfFile(ptr as *const c_void, len) })
}

/// Windows names no mappings.
///
/// # Safety
/// None needed; nothing is touched.
pub(crate) unsafe fn name_anonymous(_: *mut u8, _: usize, _: &CStr) -> io::Result<()> {
    Err(io::Error::from(io::ErrorKind::Unsupported))
}

/// Windows has no asynchronous flush of its own: [`flush`] already only
/// starts the write-back (FlushViewOfFile, without FlushFileBuffers), as
/// CPython's does.
///
/// # Safety
/// The range lies inside a live view.
pub(crate) unsafe fn flush_async(ptr: *mut u8, len: usize) -> io::Result<()> {
    // SAFETY: passed on from the caller.
    unsafe { flush(ptr, len, 0) }
}

/// Keeps the pages of `ptr..ptr + len` in memory (VirtualLock), within the
/// process's minimum working set.
///
/// # Safety
/// The range lies inside a live view.
pub(crate) unsafe fn lock(ptr: *mut u8, len: usize) -> io::Result<()> {
    // SAFETY: VirtualLock changes no memory; the caller guarantees the
    // range is mapped.
    check(unsafe { VirtualLock(ptr as *const c_void, len) })
}

/// Lets the pages of `ptr..ptr + len` be paged out again (VirtualUnlock;
/// it fails for pages that were not locked).
///
/// # Safety
/// The range lies inside a live view.
pub(crate) unsafe fn unlock(ptr: *mut u8, len: usize) -> io::Result<()> {
    // SAFETY: as for `lock`.
    check(unsafe { VirtualUnlock(ptr as *const c_void, len) })
}

/// Reads the pages of `ptr..ptr + len` in ahead of use
/// (PrefetchVirtualMemory, Windows 8 and later).
///
/// # Safety
/// The range lies inside a live view.
pub(crate) unsafe fn populate(ptr: *mut u8, len: usize) -> io::Result<()> {
    let range = WIN32_MEMORY_RANGE_ENTRY {
        VirtualAddress: ptr.cast(),
        NumberOfBytes: len,
    };
    // SAFETY: the entry describes a mapped range (the caller's promise);
    // prefetching changes no contents.
    check(unsafe { PrefetchVirtualMemory(GetCurrentProcess(), 1, &range, 0) })
}

/// Large pages on Windows need the SeLockMemoryPrivilege and a section
/// made for them: not offered here.
pub(crate) const HUGE_PAGES: Option<i32> = None;

/// See [`HUGE_PAGES`].
pub(crate) fn huge_page_size() -> io::Result<usize> {
    Err(io::Error::from(io::ErrorKind::Unsupported))
}

/// Windows takes no such advice.
///
/// # Safety
/// None needed; nothing is touched.
pub(crate) unsafe fn advise(_: *mut u8, _: usize, _: i32) -> io::Result<()> {
    Err(io::Error::from(io::ErrorKind::Unsupported))
}

fn size_of_handle(file: RawFile) -> io::Result<u64> {
    let mut size = 0i64;
    // SAFETY: GetFileSizeEx writes an i64; a bad handle is an error return.
    check(unsafe { GetFileSizeEx(file as HANDLE, &mut size) })?;
    Ok(size as u64)
}

pub(crate) fn regular_file_size(file: RawFile) -> Option<u64> {
    // SAFETY: GetFileType only inspects the handle.
    let disk = unsafe { GetFileType(file as HANDLE) } == FILE_TYPE_DISK;
    disk.then(|| size_of_handle(file).ok()).flatten()
}

pub(crate) fn file_size(file: RawFile) -> io::Result<u64> {
    size_of_handle(file)
}

pub(crate) fn set_file_size(file: RawFile, size: u64) -> io::Result<()> {
    let info = FILE_END_OF_FILE_INFO {
        EndOfFile: size as i64,
    };
    // SAFETY: the buffer is a FILE_END_OF_FILE_INFO of the size given.
    check(unsafe {
        SetFileInformationByHandle(
            file as HANDLE,
            FileEndOfFileInfo,
            (&raw const info).cast(),
            size_of::<FILE_END_OF_FILE_INFO>() as u32,
        )
    })
}

/// A non-inheritable duplicate of `file`.
pub(crate) fn duplicate(file: RawFile) -> io::Result<OwnedFile> {
    let mut copy: HANDLE = ptr::null_mut();
    // SAFETY: DuplicateHandle writes a fresh handle that nothing else owns.
    unsafe {
        let process = GetCurrentProcess();
        check(DuplicateHandle(
            process,
            file as HANDLE,
            process,
            &mut copy,
            0,
            0,
            DUPLICATE_SAME_ACCESS,
        ))?;
        Ok(OwnedHandle::from_raw_handle(copy as RawHandle))
    }
}

pub(crate) fn bad_file() -> io::Error {
    io::Error::from_raw_os_error(ERROR_INVALID_HANDLE as i32)
}

pub(crate) fn invalid_argument() -> io::Error {
    io::Error::from_raw_os_error(ERROR_INVALID_PARAMETER as i32)
}

/// The fiber-local index that holds each thread's guard record (see
/// `door::guard`), plus one; 0 until made. Fiber-local rather than
/// thread-local for its callback, which frees the record at the thread's
/// exit.
static RECORD_SLOT: AtomicUsize = AtomicUsize::new(0);

unsafe extern "system" fn free_thread_record(record: *const c_void) {
    if !record.is_null() {
        // SAFETY: Windows calls this once, at the thread's exit, with the
        // record the thread made.
        unsafe { guard::free_thread_record(record.cast_mut().cast()) };
    }
}

fn record_slot() -> io::Result<u32> {
    if let slot @ 1.. = RECORD_SLOT.load(Ordering::Acquire) {
        return Ok(slot as u32 - 1);
    }
    // SAFETY: the callback has the signature Windows expects.
    let slot = unsafe { FlsAlloc(Some(free_thread_record)) };
    if slot == FLS_OUT_OF_INDEXES {
        return Err(io::Error::last_os_error());
    }
    match RECORD_SLOT.compare_exchange(0, slot as usize + 1, Ordering::AcqRel, Ordering::Acquire) {
        Ok(_) => Ok(slot),
        Err(winner) => {
            // SAFETY: nobody else has seen `slot`.
            unsafe { FlsFree(slot) };
            Ok(winner as u32 - 1)
        }
    }
}

/// The calling thread's guard record, or null. Safe in the exception
/// handler, whose caller's last-error value it keeps.
pub(crate) fn thread_record() -> *const ThreadRecord {
    match RECORD_SLOT.load(Ordering::Acquire) {
        0 => ptr::null(),
        slot => {
            // SAFETY: an index allocated and never freed; FlsGetValue
            // resets the last error, which the interrupted code may need.
            unsafe {
                let last_error = GetLastError();
                let value = FlsGetValue(slot as u32 - 1);
                SetLastError(last_error);
                value.cast()
            }
        }
    }
}

/// Publishes the calling thread's guard record, freed when it exits.
pub(crate) fn set_thread_record(record: *const ThreadRecord) -> io::Result<()> {
    let slot = record_slot()?;
    // SAFETY: an index allocated and never freed.
    match unsafe { FlsSetValue(slot, record.cast()) } {
        0 => Err(io::Error::last_os_error()),
        _ => Ok(()),
    }
}

/// Marks a fault code as an in-page error (the page has no backing).
const UNBACKED: usize = 1 << 32;

/// What a caught fault was, from the code the handler reported.
pub(crate) fn classify_fault(code: usize) -> (crate::FaultKind, i32) {
    let error = (code & 0xFFFF_FFFF) as i32;
    match code & UNBACKED {
        0 => (crate::FaultKind::Inaccessible, error),
        _ => (crate::FaultKind::Unbacked, error),
    }
}

/// Installs the vectored exception handler, once. It runs before any
/// structured handler, so nothing can sit on top of it: putting it back is
/// never needed.
pub(crate) use ensure_fault_handler as install_fault_handler;

/// Whether code at `pc` may be running inside a guarded call: always, as
/// far as the handler needs to know. Windows runs no signal handler in the
/// middle of a thread's code (an APC runs only in an alertable wait, and
/// guarded calls make none).
pub(crate) fn may_run_guarded(_: usize) -> bool {
    true
}

/// Nothing to forget: a vectored handler displaces nothing.
pub(crate) fn forget_displaced_handler() {}

/// See [`install_fault_handler`].
pub(crate) fn ensure_fault_handler() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        // SAFETY: the handler has the required signature and lives forever.
        unsafe { AddVectoredExceptionHandler(1, Some(on_exception)) };
    });
}

unsafe extern "system" fn on_exception(pointers: *mut EXCEPTION_POINTERS) -> i32 {
    // SAFETY: Windows passes valid exception and context records.
    let (record, context) = unsafe {
        (
            &*(*pointers).ExceptionRecord,
            &mut *(*pointers).ContextRecord,
        )
    };
    let code = match record.ExceptionCode {
        // The third parameter is the NTSTATUS of the failed paging I/O.
        // SAFETY: RtlNtStatusToDosError only translates a number.
        EXCEPTION_IN_PAGE_ERROR => {
            UNBACKED
                | unsafe { RtlNtStatusToDosError(record.ExceptionInformation[2] as NTSTATUS) }
                    as usize
        }
        EXCEPTION_ACCESS_VIOLATION => ERROR_NOACCESS as usize,
        _ => return EXCEPTION_CONTINUE_SEARCH,
    };
    let address = record.ExceptionInformation[1];
    let Some(resume) = guard::resume_point(context.Rip as usize, address) else {
        return EXCEPTION_CONTINUE_SEARCH;
    };
    context.Rip = resume.pc as u64;
    if let Some(sp) = resume.sp {
        context.Rsp = sp as u64;
    }
    context.Rax = code as u64;
    context.Rdx = address as u64;
    EXCEPTION_CONTINUE_EXECUTION
}
