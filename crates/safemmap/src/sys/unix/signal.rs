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

#[cfg(all(
    any(target_os = "linux", target_os = "android"),
    target_arch = "x86_64"
))]
mod registers {
    use super::*;

    pub(super) unsafe fn program_counter(context: *mut c_void) -> usize {
        // SAFETY: the caller passes the handler's ucontext.
        unsafe {
            (*context.cast::<libc::ucontext_t>()).uc_mcontext.gregs[libc::REG_RIP as usize] as usize
        }
    }

    pub(super) unsafe fn set_registers(
        context: *mut c_void,
        resume: Resume,
        signal: usize,
        address: usize,
    ) {
        // SAFETY: the caller passes the handler's ucontext.
        let gregs = unsafe { &mut (*context.cast::<libc::ucontext_t>()).uc_mcontext.gregs };
        gregs[libc::REG_RIP as usize] = resume.pc as i64;
        if let Some(sp) = resume.sp {
            gregs[libc::REG_RSP as usize] = sp as i64;
        }
        gregs[libc::REG_RAX as usize] = signal as i64;
        gregs[libc::REG_RDX as usize] = address as i64;
    }
}

#[cfg(all(
    any(target_os = "linux", target_os = "android"),
    target_arch = "aarch64"
))]
mod registers {
    use super::*;

    pub(super) unsafe fn program_counter(context: *mut c_void) -> usize {
        // SAFETY: the caller passes the handler's ucontext.
        unsafe { (*context.cast::<libc::ucontext_t>()).uc_mcontext.pc as usize }
    }

    pub(super) unsafe fn set_registers(
        context: *mut c_void,
        resume: Resume,
        signal: usize,
        address: usize,
    ) {
        // SAFETY: the caller passes the handler's ucontext.
        let mcontext = unsafe { &mut (*context.cast::<libc::ucontext_t>()).uc_mcontext };
        mcontext.pc = resume.pc as u64;
        if let Some(sp) = resume.sp {
            mcontext.sp = sp as u64;
        }
        mcontext.regs[0] = signal as u64;
        mcontext.regs[1] = address as u64;
    }
}

#[cfg(all(target_vendor = "apple", target_arch = "x86_64"))]
mod registers {
    use super::*;

    unsafe fn state(context: *mut c_void) -> *mut libc::__darwin_x86_thread_state64 {
        // SAFETY: the caller passes the handler's ucontext, whose machine
        // context pointer is valid during the handler.
        unsafe { &raw mut (*(*context.cast::<libc::ucontext_t>()).uc_mcontext).__ss }
    }

    pub(super) unsafe fn program_counter(context: *mut c_void) -> usize {
        // SAFETY: see `state`.
        unsafe { (*state(context)).__rip as usize }
    }

    pub(super) unsafe fn set_registers(
        context: *mut c_void,
        resume: Resume,
        signal: usize,
        address: usize,
    ) {
        // SAFETY: see `state`.
        let state = unsafe { &mut *state(context) };
        state.__rip = resume.pc as u64;
        if let Some(sp) = resume.sp {
            state.__rsp = sp as u64;
        }
        state.__rax = signal as u64;
        state.__rdx = address as u64;
    }
}

#[cfg(all(target_vendor = "apple", target_arch = "aarch64"))]
mod registers {
    use super::*;

    unsafe fn state(context: *mut c_void) -> *mut libc::__darwin_arm_thread_state64 {
        // SAFETY: the caller passes the handler's ucontext, whose machine
        // context pointer is valid during the handler.
        unsafe { &raw mut (*(*context.cast::<libc::ucontext_t>()).uc_mcontext).__ss }
    }

    pub(super) unsafe fn program_counter(context: *mut c_void) -> usize {
        // SAFETY: see `state`.
        unsafe { (*state(context)).__pc as usize }
    }

    pub(super) unsafe fn set_registers(
        context: *mut c_void,
        resume: Resume,
        signal: usize,
        address: usize,
    ) {
        // SAFETY: see `state`.
        let state = unsafe { &mut *state(context) };
        state.__pc = resume.pc as u64;
        if let Some(sp) = resume.sp {
            state.__sp = sp as u64;
        }
        state.__x[0] = signal as u64;
        state.__x[1] = address as u64;
    }
}

use registers::{program_counter, set_registers};
