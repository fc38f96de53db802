//! Where the code that runs inside guarded calls lies: this library's own
//! and the C library's (its memchr and memmove). A fault at a program
//! counter outside both comes from other code, such as a signal handler
//! that interrupted a guarded call, and is never resumed at that call's
//! fix-up, even in the call's range.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// The executable ranges of the two objects, once [`record`] found them.
static RANGES: [[AtomicUsize; 2]; 2] = [
    [AtomicUsize::new(0), AtomicUsize::new(0)],
    [AtomicUsize::new(0), AtomicUsize::new(0)],
];
static RECORDED: AtomicBool = AtomicBool::new(false);

/// Whether code at `pc` may be running inside a guarded call; `true` where
/// the ranges are unknown. Async-signal-safe.
pub(crate) fn may_run_guarded(pc: usize) -> bool {
    !RECORDED.load(Ordering::Acquire)
        || RANGES.iter().any(|[start, end]| {
            (start.load(Ordering::Relaxed)..end.load(Ordering::Relaxed)).contains(&pc)
        })
}

/// Finds the executable ranges of this library and the C library, once,
/// outside any signal handler (`dl_iterate_phdr` takes the loader's lock).
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) fn record() {
    if RECORDED.load(Ordering::Acquire) {
        return;
    }
    let ours = record as *const () as usize;
    let c_library = libc::memchr as *const () as usize;
    for (range, address) in RANGES.iter().zip([ours, c_library]) {
        let Some(code) = executable_range_around(address) else {
            return;
        };
        range[0].store(code.start, Ordering::Relaxed);
        range[1].store(code.end, Ordering::Relaxed);
    }
    RECORDED.store(true, Ordering::Release);
}

/// See the Linux version: elsewhere the ranges stay unknown, and faults in
/// a guarded call's range are told apart by the innermost activation alone.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub(crate) fn record() {}

/// The span of the executable segments of the loaded object that holds
/// `address`.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn executable_range_around(address: usize) -> Option<std::ops::Range<usize>> {
    struct Search {
        address: usize,
        found: Option<std::ops::Range<usize>>,
    }
    unsafe extern "C" fn visit(
        info: *mut libc::dl_phdr_info,
        _: libc::size_t,
        search: *mut libc::c_void,
    ) -> libc::c_int {
        // SAFETY: the loader passes a valid object description, whose
        // program headers it keeps for the call; `search` is ours.
        let (info, search) = unsafe { (&*info, &mut *search.cast::<Search>()) };
        // SAFETY: as above.
        let headers = unsafe { std::slice::from_raw_parts(info.dlpi_phdr, info.dlpi_phnum.into()) };
        let base = info.dlpi_addr as usize;
        let loaded = headers
            .iter()
            .filter(|header| header.p_type == libc::PT_LOAD);
        let span = |header: &&libc::Elf64_Phdr| {
            let start = base + header.p_vaddr as usize;
            start..start + header.p_memsz as usize
        };
        if !loaded
            .clone()
            .any(|header| span(&header).contains(&search.address))
        {
            return 0;
        }
        search.found = loaded
            .filter(|header| header.p_flags & libc::PF_X != 0)
            .map(|header| span(&header))
            .reduce(|a, b| a.start.min(b.start)..a.end.max(b.end));
        1
    }
    let mut search = Search {
        address,
        found: None,
    };
    // SAFETY: the callback matches the signature and only reads what the
    // loader passes; `search` outlives the call.
    unsafe { libc::dl_iterate_phdr(Some(visit), (&raw mut search).cast()) };
    search.found
}
