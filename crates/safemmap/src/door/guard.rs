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
//! * the program counter is in one of `arch`'s leaf access routines, or
//! * the faulting thread is inside [`guarded`] and the address lies in the
//!   range it declared (the map being accessed).
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
//! `memchr` crate's searchers, whose `find` methods neither allocate nor
//! hold guards). When a fault abandons those frames, no destructor is
//! skipped and no lock is left held: they are "plain old frames" in the
//! sense of RFC 2945. The arch routine restores every callee-saved register
//! from its own frame.
//!
//! ## Async-signal safety
//!
//! The handler allocates nothing, takes no lock and touches no thread-local
//! (whose first use in a thread may allocate): it reads the slot table
//! below, a fixed static array of atomics, and identifies its thread with
//! `sys::thread_token` (`pthread_self`, a register read), which also keeps
//! thread-locals off the fast path of every guarded call.

use std::ffi::c_void;
use std::mem::MaybeUninit;
use std::ops::Range;
use std::sync::atomic::{compiler_fence, AtomicUsize, Ordering};

use crate::arch::{self, Outcome};
use crate::sys;

/// How many threads can hold a guard slot at once.
const SLOTS: usize = 1024;
/// A thread looks for its slot in this many places, starting at the one its
/// token hashes to.
const PROBES: usize = 32;

/// A thread's guard record, read by the handler.
struct Slot {
    /// `sys::thread_token` of the owning thread; 0 = free.
    owner: AtomicUsize,
    /// The stack pointer to resume with, written by `arch::guarded_call`.
    sp: AtomicUsize,
    /// The guarded address range; empty when no call is in progress.
    start: AtomicUsize,
    end: AtomicUsize,
}

#[allow(clippy::declare_interior_mutable_const)]
const FREE: Slot = Slot {
    owner: AtomicUsize::new(0),
    sp: AtomicUsize::new(0),
    start: AtomicUsize::new(0),
    end: AtomicUsize::new(0),
};

static TABLE: [Slot; SLOTS] = [FREE; SLOTS];

/// The places a thread's slot may be in, most likely first.
fn probes(token: usize) -> impl Iterator<Item = &'static Slot> {
    // Fibonacci hashing: the top bits of the product depend on every bit.
    let home =
        (token >> 6).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (usize::BITS - SLOTS.trailing_zeros());
    (0..PROBES).map(move |i| &TABLE[(home + i) % SLOTS])
}

/// The calling thread's slot, claimed on its first guarded call and freed
/// when it exits. The lookup needs no thread-local: only the claim does,
/// to register the release.
fn own_slot() -> Option<&'static Slot> {
    let token = sys::thread_token();
    if let Some(slot) = probes(token).find(|slot| slot.owner.load(Ordering::Relaxed) == token) {
        return Some(slot);
    }
    let slot = probes(token).find(|slot| {
        slot.owner
            .compare_exchange(0, token, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
    })?;
    if RELEASE.try_with(|release| release.set(Some(slot))).is_err() {
        // The thread is exiting: nothing would free the slot later.
        slot.owner.store(0, Ordering::Release);
        return None;
    }
    Some(slot)
}

/// Frees the thread's slot when the thread exits.
struct Release(std::cell::Cell<Option<&'static Slot>>);

impl Release {
    fn set(&self, slot: Option<&'static Slot>) {
        self.0.set(slot);
    }
}

impl Drop for Release {
    fn drop(&mut self) {
        if let Some(slot) = self.0.get() {
            slot.owner.store(0, Ordering::Release);
        }
    }
}

thread_local! {
    static RELEASE: Release = const { Release(std::cell::Cell::new(None)) };
}

/// A fault stopped by the guard: what the OS said (`sys::classify_fault`
/// reads it) and the faulting address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Caught {
    pub code: usize,
    pub address: usize,
}

impl Outcome {
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

/// Reads one byte of mapped memory.
///
/// # Safety
/// `src` lies in a live mapping, and the fault handler is installed.
pub(crate) unsafe fn load_byte(src: *const u8) -> Result<u8, Caught> {
    // SAFETY: passed on from the caller, with the handler installed.
    unsafe { arch::load_byte(src) }
        .caught()
        .map(|byte| byte as u8)
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

/// Writes one byte of mapped memory.
///
/// # Safety
/// `dst` lies in a live mapping, and the fault handler is installed.
pub(crate) unsafe fn store_byte(dst: *mut u8, value: u8) -> Result<(), Caught> {
    // SAFETY: passed on from the caller, with the handler installed.
    unsafe { arch::store_byte(dst, value) }.caught().map(drop)
}

/// Runs `body` with faults inside `range` turned into `Err`; `Ok(None)`
/// when no guard slot is free for this thread (`body` did not run).
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
) -> Result<Option<R>, Caught> {
    let Some(slot) = own_slot() else {
        return Ok(None);
    };
    {
        let mut call = Call {
            body,
            result: MaybeUninit::uninit(),
        };
        slot.start.store(range.start, Ordering::Relaxed);
        slot.end.store(range.end, Ordering::Relaxed);
        // The handler runs on this thread: ordering against it needs only
        // the compiler not to move the stores past the call.
        compiler_fence(Ordering::SeqCst);
        // SAFETY: `run::<F, R>` matches the context type, and `slot.sp` is
        // a usize the routine may write. The caller vouches for the memory.
        let outcome = unsafe {
            arch::guarded_call(
                run::<F, R>,
                (&raw mut call).cast::<c_void>(),
                slot.sp.as_ptr(),
            )
        };
        compiler_fence(Ordering::SeqCst);
        slot.end.store(0, Ordering::Relaxed);
        slot.start.store(0, Ordering::Relaxed);
        // SAFETY: without a fault, `run` wrote the result.
        outcome
            .caught()
            .map(|_| Some(unsafe { call.result.assume_init() }))
    }
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
    if arch::is_leaf_access(pc) {
        return Some(Resume {
            pc: arch::access_fault(),
            sp: None,
        });
    }
    let token = sys::thread_token();
    let slot = TABLE
        .iter()
        .find(|slot| slot.owner.load(Ordering::Relaxed) == token)?;
    let guarded = slot.start.load(Ordering::Relaxed)..slot.end.load(Ordering::Relaxed);
    if !guarded.contains(&address) {
        return None;
    }
    Some(Resume {
        pc: arch::guarded_call_fault(),
        sp: Some(slot.sp.load(Ordering::Relaxed)),
    })
}

/// How the handler resumes a thread after a fault of ours.
pub(crate) struct Resume {
    pub pc: usize,
    /// The stack pointer to restore, for guarded calls.
    pub sp: Option<usize>,
}
