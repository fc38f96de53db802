//! The few machine instructions that may fault on mapped memory, in
//! assembly, so the fault handler knows exactly where they are.
//!
//! Two kinds of routine, per architecture:
//!
//! * **Leaf routines** (`load_byte`, `store_byte`, `copy`, `find_byte`), all
//!   between two exported labels. None of them touches the stack, so on a
//!   fault anywhere in that range the handler moves the program counter to
//!   [`access_fault`], a bare return, after putting the signal number and
//!   the faulting address in the two result registers. No state, nothing to
//!   unwind: the kernel's exception-table technique.
//! * **The guarded call** (`guarded_call`): calls a function with the stack
//!   pointer recorded in the calling thread's guard slot. On a fault in the
//!   guarded range, the handler restores that stack pointer and resumes at
//!   [`guarded_call_fault`], which restores the callee-saved registers and
//!   returns the signal and address. The frames in between are abandoned,
//!   so the called function must own nothing with a destructor (see
//!   `door::guard`).
//!
//! Each routine returns an [`Outcome`] in the two integer result registers.

#[cfg(target_arch = "aarch64")]
mod aarch64;
#[cfg(target_arch = "x86_64")]
mod x86_64;

use std::ffi::c_void;

/// What a routine returns: `fault == 0` and a value, or the signal number
/// and the faulting address.
#[repr(C)]
#[derive(Clone, Copy)]
pub(crate) struct Outcome {
    pub fault: usize,
    pub value: usize,
}

/// Declares the routines with the ABI they are written for: System V on
/// x86-64 (Windows too, where Rust calls them as `sysv64`), AAPCS64 on ARM.
macro_rules! routines {
    ($abi:literal) => {
        extern $abi {
            #[link_name = "safemmap_load_byte"]
            fn load_byte_asm(src: *const u8) -> Outcome;
            #[link_name = "safemmap_store_byte"]
            fn store_byte_asm(dst: *mut u8, value: u8) -> Outcome;
            #[link_name = "safemmap_copy"]
            fn copy_asm(dst: *mut u8, src: *const u8, len: usize) -> Outcome;
            #[link_name = "safemmap_find_byte"]
            fn find_byte_asm(hay: *const u8, len: usize, byte: u8) -> Outcome;
            #[link_name = "safemmap_guarded_call"]
            fn guarded_call_asm(
                function: unsafe extern "C" fn(*mut c_void),
                context: *mut c_void,
                sp_slot: *mut usize,
            ) -> Outcome;
        }
    };
}

#[cfg(target_arch = "x86_64")]
routines!("sysv64");
#[cfg(target_arch = "aarch64")]
routines!("C");

extern "C" {
    #[link_name = "safemmap_leaf_begin"]
    static LEAF_BEGIN: u8;
    #[link_name = "safemmap_leaf_end"]
    static LEAF_END: u8;
    #[link_name = "safemmap_access_fault"]
    static ACCESS_FAULT_LABEL: u8;
    #[link_name = "safemmap_guarded_call_fault"]
    static GUARDED_CALL_FAULT_LABEL: u8;
}

/// Reads the byte at `src`.
///
/// # Safety
/// `src` is an address in a mapping that stays mapped during the call
/// (its page may fault; the handler must be installed).
pub(crate) unsafe fn load_byte(src: *const u8) -> Outcome {
    // SAFETY: passed on from the caller; the routine touches only `src`.
    unsafe { load_byte_asm(src) }
}

/// Writes `value` at `dst`.
///
/// # Safety
/// As for [`load_byte`], for `dst`.
pub(crate) unsafe fn store_byte(dst: *mut u8, value: u8) -> Outcome {
    // SAFETY: passed on from the caller; the routine touches only `dst`.
    unsafe { store_byte_asm(dst, value) }
}

/// How far a [`copy`] that faulted certainly got, counted in either range
/// from its start: it copies forwards in blocks of at most this many bytes
/// (x86-64: 64 bytes loaded, then stored; `rep movsb` byte by byte;
/// AArch64: 16 bytes, then single bytes), each block stored before any
/// later one is loaded, and copies of up to this many bytes load everything
/// before storing. So every block wholly before the faulting access is
/// stored, and every byte of a faulting page faults, so each block before
/// the one holding the first byte of the faulting page (or 0, if the copy
/// began in that page) is stored.
pub(crate) const COPY_BLOCK: usize = 64;

/// Copies `len` bytes from `src` to `dst`.
///
/// # Safety
/// Both ranges are valid (a mapping's may fault; the handler must be
/// installed) and do not overlap.
pub(crate) unsafe fn copy(dst: *mut u8, src: *const u8, len: usize) -> Outcome {
    // SAFETY: passed on from the caller; the routine touches only the ranges.
    unsafe { copy_asm(dst, src, len) }
}

/// The index of the first `byte` in `hay..hay + len`, or `len`.
///
/// # Safety
/// The range is valid (a mapping's may fault; the handler must be installed).
pub(crate) unsafe fn find_byte(hay: *const u8, len: usize, byte: u8) -> Outcome {
    // SAFETY: passed on from the caller; the routine reads only the range.
    unsafe { find_byte_asm(hay, len, byte) }
}

/// Calls `function(context)` with the stack pointer published in `*sp_slot`.
///
/// # Safety
/// `function` must not unwind, and may be abandoned at any point where it
/// faults inside the guarded range: it must own nothing that needs dropping.
pub(crate) unsafe fn guarded_call(
    function: unsafe extern "C" fn(*mut c_void),
    context: *mut c_void,
    sp_slot: *mut usize,
) -> Outcome {
    // SAFETY: passed on from the caller.
    unsafe { guarded_call_asm(function, context, sp_slot) }
}

/// Where the handler resumes a faulting single access.
pub(crate) fn access_fault() -> usize {
    &raw const ACCESS_FAULT_LABEL as usize
}

/// Where the handler resumes a faulting guarded call.
pub(crate) fn guarded_call_fault() -> usize {
    &raw const GUARDED_CALL_FAULT_LABEL as usize
}

/// Whether `pc` is in one of the leaf routines, whose faults resume at
/// [`access_fault`].
pub(crate) fn is_leaf_access(pc: usize) -> bool {
    (&raw const LEAF_BEGIN as usize..&raw const LEAF_END as usize).contains(&pc)
}

/// A symbol name as the platform's assembler spells it (Mach-O prefixes `_`).
#[cfg(target_vendor = "apple")]
macro_rules! symbol {
    ($name:literal) => {
        concat!("_", $name)
    };
}

/// A symbol name as the platform's assembler spells it.
#[cfg(not(target_vendor = "apple"))]
macro_rules! symbol {
    ($name:literal) => {
        $name
    };
}

/// The directive that keeps `name` out of a shared library's exports: two
/// libraries that both contain this crate (two Python extensions, say)
/// must each use their own routines and labels, not whichever the dynamic
/// linker found first.
#[cfg(target_vendor = "apple")]
macro_rules! hidden {
    ($name:literal) => {
        concat!(".private_extern ", symbol!($name))
    };
}

/// See the Mach-O version.
#[cfg(all(not(target_vendor = "apple"), not(windows)))]
macro_rules! hidden {
    ($name:literal) => {
        concat!(".hidden ", symbol!($name))
    };
}

/// See the Mach-O version: a DLL exports only what it is told to.
#[cfg(windows)]
macro_rules! hidden {
    ($name:literal) => {
        ""
    };
}

/// The assembler lines that define the global label `name`.
macro_rules! global {
    ($name:literal) => {
        concat!(
            ".globl ",
            symbol!($name),
            "\n",
            hidden!($name),
            "\n",
            symbol!($name),
            ":"
        )
    };
}

use {global, hidden, symbol};
