//! Fault protection: turning a fault in mapped memory into an error.
//!
//! When an access to mapped memory faults (SIGBUS for a truncated file or an
//! I/O error, SIGSEGV for an inaccessible page), the kernel runs our signal
//! handler on the faulting thread. The handler decides whether the fault is
//! ours and, if so, rewrites the saved registers so that, when it returns,
//! the thread resumes at a fix-up label of `arch` that returns an error code.
//! Nothing is unwound, and no `longjmp` crosses Rust frames that hold
//! destructors. A fault is ours when it comes from the kernel (`si_code > 0`) and
//! either
//!
//! * the program counter is at one of `arch`'s inline accesses (an
//!   instruction recorded in the exception table, wherever the compiler
//!   placed it) or in one of its leaf access routines, or
//! * the faulting thread is inside [`guarded`], the program counter is in
//!   code that guarded calls run, and the address lies in the range the
//!   innermost call declared (the map being accessed).
//!
//! Anything else goes to the handler installed before ours (see
//! `sys::signal`), so unrelated crashes still crash as they would have.
//!
//! ## Why abandoning a guarded call is sound
//!
//! [`guarded`] runs a closure that is `Copy` and returns a `Copy` value:
//! `Copy` types cannot implement `Drop`, so the closure's frame owns nothing
//! to drop. The closure only calls routines that own nothing either, and
//! take no locks (`ptr::copy`, i.e. libc's memmove, libc's memchr, and the
//! `memchr` and `bytecount` crates' searchers, whose `find`/`rfind`/`count`
//! methods neither allocate nor hold guards). Searchers are built before the
//! guarded call and lent to it; nothing with drop glue is made inside, not
//! even a no-op one (memchr's `memmem::rfind` builds a `FinderRev`, its
//! `find_iter` holds a `Finder`: the door uses neither inside a call). When a
//! fault abandons those frames, no destructor is skipped and no lock is left
//! held: they are "plain old frames" in the sense of RFC 2945. The arch
//! routine restores every callee-saved register from its own frame.
//!
//! ## Settled questions
//!
//! * **A slice over shared memory, lent to a searcher.** Inside a guarded
//!   call the door lends memchr and bytecount a `&[u8]` over the mapping,
//!   which another process may write meanwhile: in Rust's abstract machine,
//!   a race with non-atomic reads. It is accepted, and confined: the slice
//!   exists only inside one call, in this module, and only code that reads
//!   it and returns a number sees it. Those routines make no decision about
//!   memory from a byte they read (each index they return is bounded by the
//!   slice's length, and the door checks it again), so a byte that changes
//!   under them can change an answer, as it can for any reader racing a
//!   writer, never what memory is touched. The alternative, searchers over
//!   raw pointers, exists in memchr for single bytes only.
//! * **Recognising our faults.** By program counter for the leaf routines
//!   and the inline accesses (exact: the exception table lists every
//!   instruction the compiler emitted for the latter; why resuming them is
//!   sound is argued in `arch`); for a guarded call, by the program counter lying in code that
//!   guarded calls run (this library's and the C library's executable
//!   segments, found once with `dl_iterate_phdr` on Linux), the innermost
//!   activation and the faulting address. A signal handler that interrupts
//!   a guarded call and makes one of its own is covered by the innermost
//!   rule; one that touches the interrupted call's range without a guarded
//!   call, from another library, by the program counter. What remains:
//!   such a handler in this library's own object (a statically linked
//!   program) or inside the C library (its memcpy on a map's raw pointer),
//!   and on macOS, where the ranges are not looked up, any such handler;
//!   each needs a raw pointer into the map used from a signal handler on
//!   the very thread that is reading it.
//! * **Shadow stacks (Intel CET, AArch64 GCS).** Resuming at a fix-up with
//!   a saved stack pointer skips returns a shadow stack would expect. The
//!   crate's objects carry no shadow-stack property, so the loader does not
//!   enable shadow stacks in a process that contains them.
//! * **Unloading.** The handler's code must outlive its installation: the
//!   first installation pins the library that contains it (`dlopen` with
//!   `RTLD_NODELETE`), so a `dlclose` cannot unmap it.

//! ## Per-thread state
//!
//! A guarded call records its range, and the stack pointer to resume with,
//! in an [`Activation`] on its own stack, linked from its thread's
//! [`ThreadRecord`] for as long as the call runs. The record is made at the
//! thread's first guarded call, found through a thread-specific value
//! (`sys::thread_record`), and freed when the thread exits. So
//!
//! * there is no table to fill: any number of threads can make guarded
//!   calls at once, and a thread that exits leaves nothing behind;
//! * a child of `fork()` sees only the forking thread's record, which
//!   points at that thread's own live stack: no other thread's activation
//!   can make a fault in the child resume on a stack that no longer exists;
//! * only the innermost activation counts: a signal handler that interrupts
//!   a guarded call and makes one of its own pushes a new activation, and a
//!   fault in the outer call's range while the handler runs is not ours
//!   (resuming the outer call would abandon the handler's frame).
//!
//! ## Async-signal safety
//!
//! The handler allocates nothing, takes no lock and touches no Rust
//! thread-local (whose first use in a thread may allocate): it reads the
//! thread-specific value (`pthread_getspecific`, `FlsGetValue`: a load
//! from the thread's descriptor), the thread's record and the activation it
//! points to, which lives on the faulting thread's own stack.

use std::cell::Cell;
use std::ffi::c_void;
use std::mem::MaybeUninit;
use std::ops::Range;
use std::sync::atomic::{compiler_fence, Ordering};

use crate::arch::{self, Outcome, Word};
use crate::sys;

/// A guarded call in progress, on its caller's stack. The handler reads it
/// on the same thread, while the call is interrupted: `Cell`s, since the
/// arch routine writes `sp` behind the compiler's back.
struct Activation {
    /// The guarded address range.
    range: Range<usize>,
    /// The stack pointer to resume with, written by `arch::guarded_call`.
    sp: Cell<usize>,
    /// The activation this one interrupted (a signal handler's guarded
    /// call inside another), restored when this one ends.
    outer: *const Activation,
}

/// A thread's guard state: its innermost activation, or null.
pub(crate) struct ThreadRecord {
    innermost: Cell<*const Activation>,
}

/// The calling thread's record, made at its first guarded call.
#[inline]
fn thread_record() -> std::io::Result<&'static ThreadRecord> {
    // SAFETY: a non-null value is a record this thread made, freed only
    // when it exits.
    match unsafe { sys::thread_record().as_ref() } {
        Some(record) => Ok(record),
        None => new_thread_record(),
    }
}

#[cold]
#[inline(never)]
fn new_thread_record() -> std::io::Result<&'static ThreadRecord> {
    let record = Box::into_raw(Box::new(ThreadRecord {
        innermost: Cell::new(std::ptr::null()),
    }));
    if let Err(error) = sys::set_thread_record(record) {
        // SAFETY: made above and published nowhere.
        drop(unsafe { Box::from_raw(record) });
        return Err(error);
    }
    // SAFETY: freed only when this thread exits.
    Ok(unsafe { &*record })
}

/// Frees a thread's record when the thread exits (`sys` calls it).
///
/// # Safety
/// `record` came from [`new_thread_record`] and nothing uses it any more.
pub(crate) unsafe fn free_thread_record(record: *mut ThreadRecord) {
    // SAFETY: passed on from the caller.
    drop(unsafe { Box::from_raw(record) });
}

/// A fault stopped by the guard: what the OS said (`sys::classify_fault`
/// reads it) and the faulting address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Caught {
    pub code: usize,
    pub address: usize,
}

impl Outcome {
    #[inline]
    fn caught(self) -> Result<usize, Caught> {
        match self.fault {
            0 => Ok(self.value),
            code => Err(Caught {
                code,
                address: self.value,
            }),
        }
    }
}

/// Reads one word (`u8` to `u64`) of mapped memory at `base + offset`, in
/// native byte order, with an access inlined into the caller.
///
/// # Safety
/// The word lies in a live mapping, and the fault handler is installed.
#[inline(always)]
pub(crate) unsafe fn load<W: Word>(base: *const u8, offset: usize) -> Result<W, Caught> {
    // SAFETY: passed on from the caller, with the handler installed.
    unsafe { W::load(base, offset) }.caught().map(W::from_value)
}

/// Writes one word of mapped memory at `base + offset`, with an access
/// inlined into the caller.
///
/// # Safety
/// As for [`load`].
#[inline(always)]
pub(crate) unsafe fn store<W: Word>(base: *mut u8, offset: usize, value: W) -> Result<(), Caught> {
    // SAFETY: passed on from the caller, with the handler installed.
    unsafe { value.store(base, offset) }.caught().map(drop)
}

/// Copies between a mapping and other memory, the ranges not overlapping.
///
/// # Safety
/// Both ranges are valid (the mapping's live), they do not overlap, and the
/// fault handler is installed.
pub(crate) unsafe fn copy(dst: *mut u8, src: *const u8, len: usize) -> Result<(), Caught> {
    // SAFETY: passed on from the caller.
    unsafe { arch::copy(dst, src, len) }.caught().map(drop)
}

/// The index of the first `byte` in mapped memory at `hay..hay + len`, or
/// `len`.
///
/// # Safety
/// The range lies in a live mapping, and the fault handler is installed.
pub(crate) unsafe fn find_byte(hay: *const u8, len: usize, byte: u8) -> Result<usize, Caught> {
    // SAFETY: passed on from the caller.
    unsafe { arch::find_byte(hay, len, byte) }.caught()
}

/// Runs `body` with faults inside `range` turned into `Err`; the outer
/// error (`body` did not run) when the thread cannot publish its
/// activation (the C library found no memory for it).
///
/// `body` must not panic, and may only call routines that, like it, own
/// nothing that needs dropping and hold no locks (see the module docs):
/// `Copy` enforces that for its captures and result.
///
/// # Safety
/// Every byte `body` touches in `range` belongs to a live mapping, and the
/// fault handler is installed.
pub(crate) unsafe fn guarded<R: Copy, F: FnOnce() -> R + Copy>(
    range: Range<usize>,
    body: F,
) -> std::io::Result<Result<R, Caught>> {
    let record = thread_record()?;
    let activation = Activation {
        range,
        sp: Cell::new(0),
        outer: record.innermost.get(),
    };
    let mut call = Call {
        body,
        result: MaybeUninit::uninit(),
    };
    record.innermost.set(&raw const activation);
    // The handler runs on this thread: ordering against it needs only the
    // compiler not to move the activation's stores past the call.
    compiler_fence(Ordering::SeqCst);
    // SAFETY: `run::<F, R>` matches the context type, and `activation.sp`
    // is a usize the routine may write. The caller vouches for the memory.
    let outcome = unsafe {
        arch::guarded_call(
            run::<F, R>,
            (&raw mut call).cast::<c_void>(),
            activation.sp.as_ptr(),
        )
    };
    compiler_fence(Ordering::SeqCst);
    record.innermost.set(activation.outer);
    // SAFETY: without a fault, `run` wrote the result.
    Ok(outcome
        .caught()
        .map(|_| unsafe { call.result.assume_init() }))
}

/// A guarded call's context.
struct Call<F, R> {
    body: F,
    result: MaybeUninit<R>,
}

unsafe extern "C" fn run<F: FnOnce() -> R + Copy, R: Copy>(context: *mut c_void) {
    // SAFETY: `guarded` passes a live `Call<F, R>`.
    let call = unsafe { &mut *context.cast::<Call<F, R>>() };
    call.result.write((call.body)());
}

/// Where to resume a thread that faulted at `pc` on `address`, if the
/// fault is ours. Called from the signal handler: async-signal-safe.
pub(crate) fn resume_point(pc: usize, address: usize) -> Option<Resume> {
    if let Some(resume) = arch::inline_access_resume(pc) {
        return Some(Resume {
            pc: resume,
            sp: None,
        });
    }
    if arch::is_leaf_access(pc) {
        return Some(Resume {
            pc: arch::access_fault(),
            sp: None,
        });
    }
    // Code other than ours and the C library's (a signal handler that
    // interrupted a guarded call) is never resumed at the call's fix-up.
    if !sys::may_run_guarded(pc) {
        return None;
    }
    // SAFETY: a non-null record is this thread's, live until it exits; a
    // non-null innermost activation is one whose guarded call has not
    // returned (`guarded` restores the outer one before its frame ends).
    let activation = unsafe { sys::thread_record().as_ref()?.innermost.get().as_ref()? };
    activation.range.contains(&address).then(|| Resume {
        pc: arch::guarded_call_fault(),
        sp: Some(activation.sp.get()),
    })
}

/// How the handler resumes a thread after a fault of ours.
pub(crate) struct Resume {
    pub pc: usize,
    /// The stack pointer to restore, for guarded calls.
    pub sp: Option<usize>,
}
