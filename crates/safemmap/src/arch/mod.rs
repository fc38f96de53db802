//! The few machine instructions that may fault on mapped memory, in
//! assembly, so the fault handler knows exactly where they are.
//!
//! Three kinds of code, per architecture:
//!
//! * **Inline accesses** ([`Word::load`] and [`Word::store`] of `u8`
//!   to `u64`): one load or store instruction in an `asm!` block that
//!   the compiler inlines into its caller, so a small read costs about what
//!   a slice index does. Each copy of the block the compiler emits records
//!   where its instruction is and where the block ends in the exception
//!   table (see [`inline_access_resume`]); on a fault at a recorded
//!   instruction the handler puts the signal and the faulting address in
//!   the block's two result registers and resumes at the block's end. See
//!   "Why resuming an inline access is sound" below.
//! * **Leaf routines** (`copy`, `find_byte`), all
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
//!
//! ## Why resuming an inline access is sound
//!
//! * **The compiler sees a normal end of the block.** Each block declares
//!   its two result registers as outputs (written before any input is
//!   read, so no input shares them), and claims neither `preserves_flags`
//!   nor, for stores, `readonly`. The handler changes the program counter,
//!   to the label that ends the block, and those two registers, nothing
//!   else: the state after the fault is one a completed block may leave,
//!   with the load's (or store's) effect missing, which the caller learns
//!   from the result. Nothing is unwound and no frame is abandoned.
//! * **Never before its bounds check.** The blocks are not `pure`: the
//!   compiler treats each as a side effect, which it may neither run
//!   speculatively (ahead of the door's check of the range) nor drop while
//!   the code around it runs.
//! * **Every copy is recorded, and only copies are.** The compiler may
//!   duplicate, inline or drop a block; the labels are numeric local ones
//!   (as the `asm!` reference asks for code that may be duplicated), so
//!   each emitted copy records its own instruction and end, and a copy
//!   dropped takes its record with it (ELF: the record joins the section
//!   group of the function holding it; Mach-O: dead-stripping keeps what
//!   a record refers to).
//! * **A recorded instruction is always an access of the door's.** Only
//!   the door calls these functions, with an address inside a live
//!   mapping that it checked, or a range its caller vouched for: a fault
//!   at a recorded instruction is a fault of that access, exactly as for
//!   the leaf routines.
//! * **Each object reads its own table.** Two shared libraries that both
//!   contain this crate have a table each; the table's bounds are taken
//!   with hidden symbols (ELF) or the linker's section symbols (Mach-O),
//!   which never bind to another object's.
//!
//! Windows (COFF) has no section the linker keeps without a reference, so
//! there the same functions call leaf routines (a direct call, still
//! out of line).

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

/// A width of the inline accesses (`u8`, `u16`, `u32`, `u64`).
pub(crate) trait Word: Copy {
    /// Reads the value at `base + offset`, zero-extended into
    /// `Outcome::value` (two operands, so that the instruction adds them).
    ///
    /// # Safety
    /// `base + offset..base + offset + size_of::<Self>()` lies in a
    /// mapping that stays mapped during the call (its pages may fault; the
    /// handler must be installed).
    unsafe fn load(base: *const u8, offset: usize) -> Outcome;

    /// Writes `self` at `base + offset`.
    ///
    /// # Safety
    /// As for [`load`](Self::load).
    unsafe fn store(self, base: *mut u8, offset: usize) -> Outcome;

    /// The value a load put in `Outcome::value`.
    fn from_value(value: usize) -> Self;
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

/// One record of the exception table: where an inline access's
/// instruction is and where its block ends, each as an offset from the
/// field's own address, so that the table needs no relocation when a
/// position-independent object is loaded (and stays read-only).
#[cfg(all(not(target_vendor = "apple"), not(windows)))]
#[repr(C)]
struct ExceptionEntry {
    access: i32,
    resume: i32,
}

#[cfg(all(not(target_vendor = "apple"), not(windows)))]
impl ExceptionEntry {
    fn access(&self) -> usize {
        Self::address(&self.access)
    }

    fn resume(&self) -> usize {
        Self::address(&self.resume)
    }

    fn address(field: &i32) -> usize {
        (field as *const i32 as usize).wrapping_add_signed(*field as isize)
    }
}

/// See the ELF version: on Mach-O the two addresses themselves, which the
/// loader rebases (linkers, zig's among them, refuse a difference between
/// a code label and a data address there).
#[cfg(target_vendor = "apple")]
#[repr(C)]
struct ExceptionEntry {
    access: usize,
    resume: usize,
}

#[cfg(target_vendor = "apple")]
impl ExceptionEntry {
    fn access(&self) -> usize {
        self.access
    }

    fn resume(&self) -> usize {
        self.resume
    }
}

/// The bounds of this object's exception table, returned in the two result
/// registers.
#[cfg(not(windows))]
#[repr(C)]
struct TableBounds {
    start: *const ExceptionEntry,
    end: *const ExceptionEntry,
}

#[cfg(not(windows))]
extern "C" {
    #[link_name = "safemmap_exception_table"]
    fn exception_table_bounds() -> TableBounds;
}

/// Where to resume an inline access that faulted at `pc`, if `pc` is one:
/// the end of its `asm!` block. A walk over the table, one record per copy
/// of a block the compiler emitted (tens in a program): paid only when a
/// fault happens, never by an access that succeeds. Async-signal-safe: it
/// reads read-only data.
#[cfg(not(windows))]
pub(crate) fn inline_access_resume(pc: usize) -> Option<usize> {
    // SAFETY: the routine only computes two addresses.
    let bounds = unsafe { exception_table_bounds() };
    let len = (bounds.end as usize - bounds.start as usize) / std::mem::size_of::<ExceptionEntry>();
    // SAFETY: the linker gathers every record, aligned, between the two
    // bounds of the object's table section, which nothing writes after
    // loading and which lives as long as the object (as its code can run).
    let entries = unsafe { std::slice::from_raw_parts(bounds.start, len) };
    entries
        .iter()
        .find(|entry| entry.access() == pc)
        .map(ExceptionEntry::resume)
}

/// See the other version: on Windows inline accesses are leaf routines.
#[cfg(windows)]
pub(crate) fn inline_access_resume(_pc: usize) -> Option<usize> {
    None
}

/// The assembler lines that record the access at local label `2` and the
/// end of its block at `3` in the exception table (ELF): `R` keeps the
/// section through `--gc-sections`, `?` puts the record in the section
/// group of the code around it.
#[cfg(all(not(target_vendor = "apple"), not(windows)))]
macro_rules! exception_entry {
    () => {
        concat!(
            ".pushsection safemmap_extable,\"aR?\"\n",
            ".balign 4\n",
            ".long 2b - .\n",
            ".long 3b - .\n",
            ".popsection"
        )
    };
}

/// See the ELF version: Mach-O keeps the section from dead-stripping with
/// `no_dead_strip`.
#[cfg(target_vendor = "apple")]
macro_rules! exception_entry {
    () => {
        concat!(
            ".pushsection __DATA,__safemmap_xt,regular,no_dead_strip\n",
            ".p2align 3\n",
            ".quad 2b\n",
            ".quad 3b\n",
            ".popsection"
        )
    };
}

/// The assembler lines that make the exception table exist (empty, in a
/// program that inlines no access). ELF: the linker's `__start_`/`__stop_`
/// symbols bound it, made hidden so that each shared object binds its own.
#[cfg(all(not(target_vendor = "apple"), not(windows)))]
macro_rules! exception_table {
    () => {
        concat!(
            ".pushsection safemmap_extable,\"aR\"\n",
            ".popsection\n",
            ".hidden __start_safemmap_extable\n",
            ".hidden __stop_safemmap_extable",
        )
    };
}

/// See the ELF version.
#[cfg(target_vendor = "apple")]
macro_rules! exception_table {
    () => {
        concat!(
            ".pushsection __DATA,__safemmap_xt,regular,no_dead_strip\n",
            ".popsection",
        )
    };
}

/// The symbols the linker puts at the start and the end of the exception
/// table (ELF).
#[cfg(all(not(target_vendor = "apple"), not(windows)))]
macro_rules! table_bound {
    (start) => {
        "__start_safemmap_extable"
    };
    (end) => {
        "__stop_safemmap_extable"
    };
}

/// See the ELF version: Mach-O's linker names them
/// `section$start$SEGMENT$SECTION` and `section$end$...`.
#[cfg(target_vendor = "apple")]
macro_rules! table_bound {
    (start) => {
        "section$start$__DATA$__safemmap_xt"
    };
    (end) => {
        "section$end$__DATA$__safemmap_xt"
    };
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

#[cfg(not(windows))]
use {exception_entry, exception_table, table_bound};
use {global, hidden, symbol};
