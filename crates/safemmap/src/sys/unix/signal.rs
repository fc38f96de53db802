//! The SIGBUS/SIGSEGV handler: installed once, kept on top of handlers
//! installed after it, and chaining to the one before it for every fault
//! that is not ours.

use std::ffi::c_void;
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicPtr, Ordering};
use std::sync::Mutex;

use crate::door::guard::{self, Resume};

const SIGNALS: [libc::c_int; 2] = [libc::SIGBUS, libc::SIGSEGV];

/// The action each signal had before ours went on top (leaked, so the
/// handler can read it at any time without a lock).
static PREVIOUS: [AtomicPtr<libc::sigaction>; 2] = [
    AtomicPtr::new(ptr::null_mut()),
    AtomicPtr::new(ptr::null_mut()),
];
/// Set while we are calling a previous handler, to break loops: Python's
/// faulthandler puts back the handler it displaced (ours) and re-raises.
static CHAINING: [AtomicBool; 2] = [AtomicBool::new(false), AtomicBool::new(false)];
/// Serialises installations; never taken by the handler.
static INSTALL: Mutex<()> = Mutex::new(());
/// Set once the handler was first installed (another may have gone over
/// it since).
static INSTALLED: AtomicBool = AtomicBool::new(false);

/// An identifier of the calling thread, readable in a signal handler.
pub(crate) fn thread_token() -> usize {
    // SAFETY: pthread_self has no preconditions; it reads the thread
    // pointer and is safe in a signal handler in practice.
    unsafe { libc::pthread_self() as usize }
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

/// Installs the handler for SIGBUS and SIGSEGV, or puts it back on top if
/// another was installed since (it then chains to that one). Cheap enough
/// for every map construction: two syscalls per signal at most.
pub(crate) fn install_fault_handler() {
    let _serial = INSTALL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    for (index, &signal) in SIGNALS.iter().enumerate() {
        let current = current_action(signal);
        if current.sa_sigaction == handler_address() {
            continue;
        }
        PREVIOUS[index].store(Box::leak(Box::new(current)), Ordering::Release);
        // SAFETY: `on_fault` has the SA_SIGINFO signature; the mask starts empty.
        unsafe {
            let mut ours: libc::sigaction = std::mem::zeroed();
            ours.sa_sigaction = handler_address();
            ours.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK | libc::SA_NODEFER;
            libc::sigemptyset(&mut ours.sa_mask);
            libc::sigaction(signal, &ours, ptr::null_mut());
        }
    }
    INSTALLED.store(true, Ordering::Release);
}

/// Installs the handler if it never was, without a system call once it
/// was: for anonymous maps, which do not need it back on top (see
/// `MmapOptions::map_raw`).
pub(crate) fn ensure_fault_handler() {
    if !INSTALLED.load(Ordering::Acquire) {
        install_fault_handler();
    }
}

fn handler_address() -> libc::sighandler_t {
    on_fault as *const () as libc::sighandler_t
}

extern "C" fn on_fault(signal: libc::c_int, info: *mut libc::siginfo_t, context: *mut c_void) {
    // SAFETY: the kernel passes a valid siginfo and ucontext to an
    // SA_SIGINFO handler.
    let (code, address) = unsafe { ((*info).si_code, (*info).si_addr() as usize) };
    // si_code <= 0: sent by kill/raise, not a fault of an instruction.
    if code > 0 {
        // SAFETY: as above.
        let pc = unsafe { program_counter(context) };
        if let Some(resume) = guard::resume_point(pc, address) {
            // SAFETY: as above; the new registers point at a fix-up label
            // (and, for guarded calls, the stack it expects).
            unsafe { set_registers(context, resume, signal as usize, address) };
            return;
        }
    }
    // SAFETY: passes on the kernel's arguments.
    unsafe { chain(signal, info, context) };
}

/// Hands a fault that is not ours to the previous handler, or, if there is
/// none (or we are re-entered through it), to the default action: the
/// faulting instruction runs again and the process dies as it would have.
unsafe fn chain(signal: libc::c_int, info: *mut libc::siginfo_t, context: *mut c_void) {
    let index = SIGNALS.iter().position(|&s| s == signal).unwrap_or(0);
    let previous = PREVIOUS[index].load(Ordering::Acquire);
    let default = previous.is_null() || {
        // SAFETY: stored from a leaked Box, never freed.
        let handler = unsafe { (*previous).sa_sigaction };
        handler == libc::SIG_DFL || handler == libc::SIG_IGN
    };
    if default || CHAINING[index].swap(true, Ordering::AcqRel) {
        // SAFETY: resetting a disposition is async-signal-safe.
        unsafe { libc::signal(signal, libc::SIG_DFL) };
        return;
    }
    // SAFETY: `previous` is a valid action whose handler has the signature
    // its flags announce.
    unsafe {
        let action = &*previous;
        if action.sa_flags & libc::SA_SIGINFO != 0 {
            let handler: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut c_void) =
                std::mem::transmute(action.sa_sigaction);
            handler(signal, info, context);
        } else {
            let handler: extern "C" fn(libc::c_int) = std::mem::transmute(action.sa_sigaction);
            handler(signal);
        }
    }
    CHAINING[index].store(false, Ordering::Release);
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
