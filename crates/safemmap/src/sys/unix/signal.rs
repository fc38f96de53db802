//! The SIGBUS/SIGSEGV handler: installed once, put back on top of handlers
//! installed after it, and handing every signal that is not a fault of ours
//! to the actions it displaced, as the kernel would have delivered it.
//!
//! ## Coexisting with other users of the signals
//!
//! Each installation over another action (a crash reporter, Python's
//! `faulthandler`, a runtime that repairs pages) records that action as a
//! [`Displaced`], with the one that action had displaced below it. What is
//! not ours goes to the newest one, delivered as the kernel delivers:
//!
//! * a handler runs with its own `sa_mask` added, and the signal blocked
//!   unless it has `SA_NODEFER`, in its one- or three-argument form; one
//!   with `SA_RESETHAND` runs once, and is the default action from then on;
//! * the default action, or `SIG_IGN` for a fault (which the kernel forces):
//!   the default disposition is restored; a fault then runs again and
//!   kills the process as it would have (status and core alike), a signal
//!   someone sent is sent again, with its `siginfo`, to the same thread;
//! * a signal sent (`kill`, `raise`, `sigqueue`, `pthread_kill`: `si_code
//!   <= 0`) is never taken for a fault of ours, and `SIG_IGN` drops it.
//!
//! Chaining keeps no process-wide state: while a thread runs a displaced
//! handler, a [`ChainFrame`] on its stack says which, published through a
//! thread-specific value. A signal *sent* on that thread meanwhile came
//! from the handler itself, handing it on the way `faulthandler` does (it
//! puts back what it displaced, ours, and raises): it goes to the action
//! below. Other threads chain at the same time on their own. A handler that
//! never returns (it `siglongjmp`s out, as memory probes do) leaves its
//! frame behind: frames are only believed while they lie above the current
//! handler's own stack frame, on the same stack, so the next signal finds it
//! dead and drops it.
//!
//! Limits: a displaced handler that `siglongjmp`s out and leaves its frame
//! intact, followed on the same thread by a sent signal deeper in the same
//! stack, sends that signal one action too far down. On glibc, a thread
//! whose first thread-specific block for our key would need allocating
//! (the key is not among the process's first 32) cannot record a frame in
//! the handler; such chains fall back to a per-signal count, during which
//! signals sent on any thread go one action down.
//!
//! ## Fork
//!
//! Nothing here waits on another thread: installations are serialised by a
//! spin word stamped with the fork count, which a child takes over from a
//! thread of its parent's; the thread-specific keys are made lock-free.

use std::ffi::c_void;
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicUsize, Ordering};

use super::thread_value::ThreadValue;
use crate::door::guard::{self, Resume, ThreadRecord};

const SIGNALS: [libc::c_int; 2] = [libc::SIGBUS, libc::SIGSEGV];

/// An action ours displaced, and the one it had displaced (null: the
/// default action). Published through atomics, never changed but for
/// `spent`, never freed: the handler may read it at any time.
struct Displaced {
    action: libc::sigaction,
    below: *const Displaced,
    /// Set at the first delivery to an `SA_RESETHAND` action: the kernel
    /// would have reset it to the default then.
    spent: AtomicBool,
    /// The one made before, in the list of all of them: installing over the
    /// same action again reuses its record instead of leaking another.
    made_before: *const Displaced,
}

/// The newest displaced action of each signal.
static TOP: [AtomicPtr<Displaced>; 2] = [
    AtomicPtr::new(ptr::null_mut()),
    AtomicPtr::new(ptr::null_mut()),
];
/// Every `Displaced` ever made, newest first.
static MADE: AtomicPtr<Displaced> = AtomicPtr::new(ptr::null_mut());
/// The installing thread's fork count plus one; 0 when free. Never taken
/// by the handler.
static INSTALLING: AtomicUsize = AtomicUsize::new(0);
/// Set once the handler was first installed (another may have gone over
/// it since).
static INSTALLED: AtomicBool = AtomicBool::new(false);
/// Each thread's guard record (see `door::guard`).
static RECORD: ThreadValue = ThreadValue::new(Some(free_thread_record));
/// Each thread's innermost [`ChainFrame`].
static CHAIN: ThreadValue = ThreadValue::new(None);

unsafe extern "C" fn free_thread_record(record: *mut c_void) {
    // SAFETY: the C library calls this once, at the thread's exit, with
    // the record the thread made.
    unsafe { guard::free_thread_record(record.cast()) };
}
/// Chains in progress that could not record a frame (see the module docs).
static FRAMELESS: [AtomicUsize; 2] = [AtomicUsize::new(0), AtomicUsize::new(0)];

/// How far below a chain frame a signal handled inside the displaced
/// handler may run: beyond it, the frame is taken for one left behind.
const CHAIN_REACH: usize = 8 << 20;

/// A displaced handler running on this thread, on the stack of the call.
struct ChainFrame {
    /// The frame's own address, scrambled: a frame left behind whose memory
    /// was reused no longer matches.
    check: usize,
    signal: libc::c_int,
    displaced: *const Displaced,
    outer: *const ChainFrame,
}

impl ChainFrame {
    fn stamp(frame: *const ChainFrame) -> usize {
        frame as usize ^ 0x5AFE_3A9F_C4A1_17ED_u64 as usize
    }

    /// Whether `frame` belongs to a handler call that encloses the signal
    /// handler whose frame is at `here`.
    fn live<'a>(frame: *const ChainFrame, here: usize) -> Option<&'a ChainFrame> {
        let below = (frame as usize).checked_sub(here)?;
        // Zero too for a null frame.
        if below == 0 || below > CHAIN_REACH {
            return None;
        }
        // SAFETY: the address lies above the running handler on its stack,
        // which is mapped; the stamp tells a frame from reused memory.
        let frame = unsafe { &*frame };
        (frame.check == ChainFrame::stamp(frame)).then_some(frame)
    }
}

/// The calling thread's guard record, or null. Async-signal-safe.
pub(crate) fn thread_record() -> *const ThreadRecord {
    RECORD.get().cast()
}

/// Publishes the calling thread's guard record, freed when it exits.
pub(crate) fn set_thread_record(record: *const ThreadRecord) -> std::io::Result<()> {
    RECORD.set(record.cast())
}

fn current_action(signal: libc::c_int) -> libc::sigaction {
    // SAFETY: a zeroed sigaction is a valid out-buffer; a NULL new action
    // only queries.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        libc::sigaction(signal, ptr::null(), &mut action);
        action
    }
}

fn same_action(a: &libc::sigaction, b: &libc::sigaction) -> bool {
    let bytes = |set: &libc::sigset_t| {
        // SAFETY: a sigset_t is plain bytes.
        unsafe {
            std::slice::from_raw_parts(
                (set as *const libc::sigset_t).cast::<u8>(),
                std::mem::size_of::<libc::sigset_t>(),
            )
        }
    };
    a.sa_sigaction == b.sa_sigaction
        && a.sa_flags == b.sa_flags
        && bytes(&a.sa_mask) == bytes(&b.sa_mask)
}

/// The record of `action` displaced over `below`: an unspent one made
/// before, or a new one.
fn displaced(action: libc::sigaction, below: *const Displaced) -> *mut Displaced {
    let mut made = MADE.load(Ordering::Acquire);
    // SAFETY: records are never freed.
    while let Some(record) = unsafe { made.as_ref() } {
        if record.below == below
            && same_action(&record.action, &action)
            && !record.spent.load(Ordering::Relaxed)
        {
            return made;
        }
        made = record.made_before.cast_mut();
    }
    let record = Box::into_raw(Box::new(Displaced {
        action,
        below,
        spent: AtomicBool::new(false),
        made_before: MADE.load(Ordering::Relaxed),
    }));
    // Installations are serialised: nobody else pushes meanwhile.
    MADE.store(record, Ordering::Release);
    record
}

/// Holds [`INSTALLING`] for an installation.
struct Installing;

impl Installing {
    fn start() -> Installing {
        let ours = super::fork_count() + 1;
        loop {
            match INSTALLING.compare_exchange_weak(0, ours, Ordering::Acquire, Ordering::Relaxed) {
                Ok(_) => return Installing,
                // Held by a thread of the parent process: it has no thread
                // here to let go of it.
                Err(held) if held != 0 && held != ours => {
                    if INSTALLING
                        .compare_exchange(held, ours, Ordering::Acquire, Ordering::Relaxed)
                        .is_ok()
                    {
                        return Installing;
                    }
                }
                Err(_) => std::thread::yield_now(),
            }
        }
    }
}

impl Drop for Installing {
    fn drop(&mut self) {
        INSTALLING.store(0, Ordering::Release);
    }
}

/// Installs the handler for SIGBUS and SIGSEGV, or puts it back on top if
/// another was installed since (it then chains to that one). Cheap enough
/// for every map construction: two syscalls per signal at most.
pub(crate) fn install_fault_handler() {
    let _installing = Installing::start();
    if !INSTALLED.load(Ordering::Relaxed) {
        stay_loaded();
        super::code::record();
    }
    // Made here, not in the handler: a failure leaves chaining frameless.
    let _ = CHAIN.prepare();
    for (index, &signal) in SIGNALS.iter().enumerate() {
        let current = current_action(signal);
        if current.sa_sigaction == handler_address() {
            continue;
        }
        let below = TOP[index].load(Ordering::Relaxed);
        TOP[index].store(displaced(current, below), Ordering::Release);
        // SAFETY: `on_fault` has the SA_SIGINFO signature; the mask is
        // initialised before use.
        unsafe {
            let mut ours: libc::sigaction = std::mem::zeroed();
            ours.sa_sigaction = handler_address();
            ours.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK | libc::SA_NODEFER;
            // Other signals wait until the handler is done, so that their
            // handlers run where they would have, not nested on our
            // alternate stack; the two faults stay deliverable, for faults
            // inside a displaced handler.
            libc::sigfillset(&mut ours.sa_mask);
            for fault in SIGNALS {
                libc::sigdelset(&mut ours.sa_mask, fault);
            }
            libc::sigaction(signal, &ours, ptr::null_mut());
        }
    }
    INSTALLED.store(true, Ordering::Release);
}

/// Pins the library that holds the handler, so that a `dlclose` cannot
/// unmap code the signal dispositions point at. Best effort: a library that
/// cannot be found stays as it was.
fn stay_loaded() {
    // SAFETY: a zeroed Dl_info is a valid out-buffer; dladdr fills it with
    // pointers that live as long as the library. dlopen with RTLD_NOLOAD
    // only takes another reference to an object already loaded, never
    // released.
    unsafe {
        let mut info: libc::Dl_info = std::mem::zeroed();
        if libc::dladdr(handler_address() as *const c_void, &mut info) != 0
            && !info.dli_fname.is_null()
        {
            libc::dlopen(
                info.dli_fname,
                libc::RTLD_NOW | libc::RTLD_NOLOAD | libc::RTLD_NODELETE,
            );
        }
    }
}

/// Installs the handler if it never was, without a system call once it
/// was: for anonymous maps, which do not need it back on top (see
/// `MmapOptions::map_raw`).
pub(crate) fn ensure_fault_handler() {
    if !INSTALLED.load(Ordering::Acquire) {
        install_fault_handler();
    }
}

/// Forgets the newest displaced action of each signal, whose owner
/// uninstalled it by putting back what it had displaced (as
/// `faulthandler.disable()` does), then puts the handler back on top if
/// that was not ours.
pub(crate) fn forget_displaced_handler() {
    {
        let _installing = Installing::start();
        for top in &TOP {
            // SAFETY: records are never freed.
            if let Some(record) = unsafe { top.load(Ordering::Relaxed).as_ref() } {
                top.store(record.below.cast_mut(), Ordering::Release);
            }
        }
    }
    install_fault_handler();
}

fn handler_address() -> libc::sighandler_t {
    on_fault as *const () as libc::sighandler_t
}

extern "C" fn on_fault(signal: libc::c_int, info: *mut libc::siginfo_t, context: *mut c_void) {
    // The interrupted code may be between setting errno and reading it.
    let errno = errno_location();
    // SAFETY: the C library's errno of this thread.
    let saved_errno = unsafe { *errno };
    // SAFETY: the kernel's arguments to an SA_SIGINFO handler.
    unsafe { handle(signal, info, context) };
    // SAFETY: as above.
    unsafe { *errno = saved_errno };
}

/// # Safety
/// The kernel's arguments to an SA_SIGINFO handler.
unsafe fn handle(signal: libc::c_int, info: *mut libc::siginfo_t, context: *mut c_void) {
    // SAFETY: the kernel passes a valid siginfo.
    let (code, address) = unsafe { ((*info).si_code, (*info).si_addr() as usize) };
    // si_code <= 0: sent by kill, raise, sigqueue or tgkill, not raised by
    // an instruction.
    let sent = code <= 0;
    if !sent {
        // SAFETY: the kernel passes a valid ucontext.
        let pc = unsafe { program_counter(context) };
        if let Some(resume) = guard::resume_point(pc, address) {
            // SAFETY: as above; the new registers point at a fix-up label
            // (and, for guarded calls, the stack it expects).
            unsafe { set_registers(context, resume, signal as usize, address) };
            return;
        }
    }
    // The handler is installed for SIGNALS only.
    let index = SIGNALS.iter().position(|&s| s == signal).unwrap_or(0);
    let here = (&raw const signal) as usize;
    let chain = innermost_live_chain(here);
    let top = TOP[index].load(Ordering::Acquire).cast_const();
    let target = if sent {
        sent_target(index, signal, chain, top)
    } else {
        top
    };
    // SAFETY: passes on the kernel's arguments.
    unsafe { deliver(target, index, signal, info, context, sent, chain) };
}

/// The calling thread's innermost live chain frame, after dropping those
/// left behind by handlers that never returned.
fn innermost_live_chain(here: usize) -> *const ChainFrame {
    let recorded = CHAIN.get().cast::<ChainFrame>();
    if ChainFrame::live(recorded, here).is_some() {
        return recorded;
    }
    if !recorded.is_null() {
        CHAIN.set_in_handler(ptr::null());
    }
    ptr::null()
}

/// Where a sent signal goes: below the displaced handler that this thread
/// is running for the same signal (it handed the signal on), else to the
/// newest displaced action.
fn sent_target(
    index: usize,
    signal: libc::c_int,
    mut frame: *const ChainFrame,
    top: *const Displaced,
) -> *const Displaced {
    // Frames above a live one are live: each encloses the next.
    // SAFETY: checked live by `innermost_live_chain`; records never freed.
    while let Some(live) = unsafe { frame.as_ref() } {
        if live.signal == signal {
            // SAFETY: records are never freed.
            return unsafe { (*live.displaced).below };
        }
        frame = live.outer;
    }
    if FRAMELESS[index].load(Ordering::Acquire) == 0 || top.is_null() {
        return top;
    }
    // SAFETY: records are never freed.
    unsafe { (*top).below }
}

/// Delivers the signal to `target` (null: the default action) as the
/// kernel would have.
///
/// # Safety
/// The kernel's arguments to the running handler; `target` null or a
/// published record.
unsafe fn deliver(
    target: *const Displaced,
    index: usize,
    signal: libc::c_int,
    info: *mut libc::siginfo_t,
    context: *mut c_void,
    sent: bool,
    chain: *const ChainFrame,
) {
    // SAFETY: records are never freed.
    let record = unsafe { target.as_ref() };
    let handler = match record {
        Some(record)
            if record.action.sa_flags & libc::SA_RESETHAND != 0
                && record.spent.swap(true, Ordering::AcqRel) =>
        {
            libc::SIG_DFL
        }
        Some(record) => record.action.sa_sigaction,
        None => libc::SIG_DFL,
    };
    match (handler, record) {
        (libc::SIG_IGN, _) if sent => {}
        (libc::SIG_IGN | libc::SIG_DFL, _) | (_, None) => {
            // SAFETY: passes on the kernel's arguments.
            unsafe { default_action(signal, info, sent) }
        }
        // SAFETY: passes on the kernel's arguments.
        (_, Some(record)) => unsafe { call(record, index, signal, info, context, chain) },
    }
}

/// The default action, for a signal whose disposition is ours: restore it,
/// then let a fault run again, or send the signal again.
///
/// # Safety
/// The kernel's arguments to the running handler.
unsafe fn default_action(signal: libc::c_int, info: *mut libc::siginfo_t, sent: bool) {
    // SAFETY: sigaction and sigprocmask are async-signal-safe; the set is
    // initialised before use.
    unsafe {
        let mut default: libc::sigaction = std::mem::zeroed();
        default.sa_sigaction = libc::SIG_DFL;
        libc::sigemptyset(&mut default.sa_mask);
        libc::sigaction(signal, &default, ptr::null_mut());
        if sent {
            let mut unblock: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut unblock);
            libc::sigaddset(&mut unblock, signal);
            libc::pthread_sigmask(libc::SIG_UNBLOCK, &unblock, ptr::null_mut());
            resend(signal, info);
        }
    }
}

/// Sends `signal` to the calling thread again, with its original siginfo
/// where the OS allows (the sender's pid and uid stay as they were).
///
/// # Safety
/// `info` is the running handler's siginfo.
#[cfg(any(target_os = "linux", target_os = "android"))]
unsafe fn resend(signal: libc::c_int, info: *mut libc::siginfo_t) {
    // SAFETY: rt_tgsigqueueinfo to the calling thread may carry any
    // si_code; getpid and gettid have no preconditions.
    unsafe {
        libc::syscall(
            libc::SYS_rt_tgsigqueueinfo,
            libc::getpid(),
            libc::gettid(),
            signal,
            info,
        );
    }
}

/// See the Linux version: elsewhere the siginfo cannot be sent along.
///
/// # Safety
/// None beyond the Linux version's.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
unsafe fn resend(signal: libc::c_int, _: *mut libc::siginfo_t) {
    // SAFETY: signals the calling thread.
    unsafe { libc::pthread_kill(libc::pthread_self(), signal) };
}

/// Runs a displaced handler as the kernel would: with its mask added to
/// the interrupted code's and the signal blocked unless it has
/// `SA_NODEFER`, in the form its flags announce; a [`ChainFrame`] says so
/// meanwhile.
///
/// # Safety
/// The kernel's arguments to the running handler.
unsafe fn call(
    record: &Displaced,
    index: usize,
    signal: libc::c_int,
    info: *mut libc::siginfo_t,
    context: *mut c_void,
    outer: *const ChainFrame,
) {
    let action = &record.action;
    // SAFETY: the kernel's ucontext holds the interrupted code's mask;
    // `mask` and `restore` are initialised sigsets or out-buffers.
    let restore = unsafe {
        let mut mask = (*context.cast::<libc::ucontext_t>()).uc_sigmask;
        let mut restore: libc::sigset_t = std::mem::zeroed();
        for blocked in 1..NSIG {
            if libc::sigismember(&action.sa_mask, blocked) == 1 {
                libc::sigaddset(&mut mask, blocked);
            }
        }
        if action.sa_flags & libc::SA_NODEFER == 0 {
            libc::sigaddset(&mut mask, signal);
        }
        libc::pthread_sigmask(libc::SIG_SETMASK, &mask, &mut restore);
        restore
    };
    let mut frame = ChainFrame {
        check: 0,
        signal,
        displaced: record,
        outer,
    };
    frame.check = ChainFrame::stamp(&frame);
    let recorded = CHAIN.set_in_handler((&raw const frame).cast());
    if !recorded {
        FRAMELESS[index].fetch_add(1, Ordering::AcqRel);
    }
    // SAFETY: the handler has the signature its flags announce, and gets
    // the kernel's own arguments.
    unsafe {
        if action.sa_flags & libc::SA_SIGINFO != 0 {
            let handler: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut c_void) =
                std::mem::transmute(action.sa_sigaction);
            handler(signal, info, context);
        } else {
            let handler: extern "C" fn(libc::c_int) = std::mem::transmute(action.sa_sigaction);
            handler(signal);
        }
    }
    if recorded {
        CHAIN.set_in_handler(outer.cast());
    } else {
        FRAMELESS[index].fetch_sub(1, Ordering::AcqRel);
    }
    // SAFETY: puts back the mask saved above.
    unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &restore, ptr::null_mut()) };
}

/// One past the highest signal number.
#[cfg(any(target_os = "linux", target_os = "android"))]
const NSIG: libc::c_int = 65;
#[cfg(target_vendor = "apple")]
const NSIG: libc::c_int = 32;

/// The calling thread's errno.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn errno_location() -> *mut libc::c_int {
    // SAFETY: no preconditions.
    unsafe { libc::__errno_location() }
}

/// The calling thread's errno.
#[cfg(target_vendor = "apple")]
fn errno_location() -> *mut libc::c_int {
    // SAFETY: no preconditions.
    unsafe { libc::__error() }
}

/// Where the interrupted thread's registers were saved: the program
/// counter, the stack pointer, and the two result registers the fix-up
/// labels return (see `arch`). Each platform names them differently; every
/// one of them is a 64-bit word.
struct Saved {
    pc: *mut u64,
    sp: *mut u64,
    result: [*mut u64; 2],
}

/// # Safety
/// `context` is the ucontext the kernel passed to the running handler.
#[cfg(all(
    any(target_os = "linux", target_os = "android"),
    target_arch = "x86_64"
))]
unsafe fn saved(context: *mut c_void) -> Saved {
    // SAFETY: the caller passes the handler's ucontext.
    let gregs = unsafe { &raw mut (*context.cast::<libc::ucontext_t>()).uc_mcontext.gregs };
    // SAFETY: the REG_* indexes lie in the array; its i64 words are read and
    // written as u64, which has the same size and alignment.
    let reg = |index: libc::c_int| unsafe { (&raw mut (*gregs)[index as usize]).cast::<u64>() };
    Saved {
        pc: reg(libc::REG_RIP),
        sp: reg(libc::REG_RSP),
        result: [reg(libc::REG_RAX), reg(libc::REG_RDX)],
    }
}

/// # Safety
/// As for the x86-64 version.
#[cfg(all(
    any(target_os = "linux", target_os = "android"),
    target_arch = "aarch64"
))]
unsafe fn saved(context: *mut c_void) -> Saved {
    // SAFETY: the caller passes the handler's ucontext.
    let mcontext = unsafe { &raw mut (*context.cast::<libc::ucontext_t>()).uc_mcontext };
    // SAFETY: fields of that live machine context.
    unsafe {
        Saved {
            pc: &raw mut (*mcontext).pc,
            sp: &raw mut (*mcontext).sp,
            result: [&raw mut (*mcontext).regs[0], &raw mut (*mcontext).regs[1]],
        }
    }
}

/// # Safety
/// As for the Linux version.
#[cfg(all(target_vendor = "apple", target_arch = "x86_64"))]
unsafe fn saved(context: *mut c_void) -> Saved {
    // SAFETY: the caller passes the handler's ucontext, whose machine
    // context pointer is valid during the handler.
    unsafe {
        let state = &raw mut (*(*context.cast::<libc::ucontext_t>()).uc_mcontext).__ss;
        Saved {
            pc: &raw mut (*state).__rip,
            sp: &raw mut (*state).__rsp,
            result: [&raw mut (*state).__rax, &raw mut (*state).__rdx],
        }
    }
}

/// # Safety
/// As for the Linux version.
#[cfg(all(target_vendor = "apple", target_arch = "aarch64"))]
unsafe fn saved(context: *mut c_void) -> Saved {
    // SAFETY: the caller passes the handler's ucontext, whose machine
    // context pointer is valid during the handler.
    unsafe {
        let state = &raw mut (*(*context.cast::<libc::ucontext_t>()).uc_mcontext).__ss;
        Saved {
            pc: &raw mut (*state).__pc,
            sp: &raw mut (*state).__sp,
            result: [&raw mut (*state).__x[0], &raw mut (*state).__x[1]],
        }
    }
}

/// # Safety
/// `context` is the ucontext the kernel passed to the running handler.
unsafe fn program_counter(context: *mut c_void) -> usize {
    // SAFETY: passed on from the caller; `saved` points into the context.
    unsafe { *saved(context).pc as usize }
}

/// Makes the thread resume at `resume`, with the signal and the faulting
/// address in the result registers.
///
/// # Safety
/// As for [`program_counter`].
unsafe fn set_registers(context: *mut c_void, resume: Resume, signal: usize, address: usize) {
    // SAFETY: passed on from the caller; `saved` points into the context,
    // which the kernel restores when the handler returns.
    unsafe {
        let saved = saved(context);
        *saved.pc = resume.pc as u64;
        if let Some(sp) = resume.sp {
            *saved.sp = sp as u64;
        }
        *saved.result[0] = signal as u64;
        *saved.result[1] = address as u64;
    }
}
