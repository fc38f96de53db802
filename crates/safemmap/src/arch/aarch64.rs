//! AArch64 (AAPCS64: Linux, macOS). `Outcome` comes back in x0:x1.

use std::arch::asm;

use super::{exception_entry, exception_table, global, hidden, symbol, table_bound, Outcome, Word};

/// Defines an inline load of one width: `mov x0, #0` (no fault), then
/// `$load`, which reads `[{base}, {offset}]` into x1 (zero-extended).
macro_rules! inline_load {
    ($load:literal) => {
        #[inline(always)]
        unsafe fn load(base: *const u8, offset: usize) -> Outcome {
            let (fault, value);
            // SAFETY: the instruction reads only the range the caller
            // vouches for; a fault there resumes at `3:` with x0 and x1 set
            // (see "Why resuming an inline access is sound").
            unsafe {
                asm!(
                    "mov x0, #0",
                    "2:",
                    $load,
                    "3:",
                    exception_entry!(),
                    base = in(reg) base,
                    offset = in(reg) offset,
                    out("x0") fault,
                    out("x1") value,
                    options(nostack, readonly),
                )
            };
            Outcome { fault, value }
        }
    };
}

/// Defines an inline store of one width, as [`inline_load`] a load: `$store`
/// writes `{value}` (formatted for the width) to `[{base}, {offset}]`.
macro_rules! inline_store {
    ($ty:ty, $store:literal) => {
        #[inline(always)]
        unsafe fn store(self, base: *mut u8, offset: usize) -> Outcome {
            let value = self;
            let (fault, address);
            // SAFETY: the instruction writes only the range the caller
            // vouches for; a fault there resumes at `3:` with x0 and x1 set
            // (see "Why resuming an inline access is sound").
            unsafe {
                asm!(
                    "mov x0, #0",
                    "2:",
                    $store,
                    "3:",
                    exception_entry!(),
                    base = in(reg) base,
                    offset = in(reg) offset,
                    value = in(reg) value,
                    out("x0") fault,
                    out("x1") address,
                    options(nostack),
                )
            };
            Outcome {
                fault,
                value: address,
            }
        }
    };
}

/// Implements [`Word`] for `$ty` with its load and store instructions.
macro_rules! word {
    ($ty:ty, $load:literal, $store:literal) => {
        impl Word for $ty {
            inline_load!($load);
            inline_store!($ty, $store);

            fn from_value(value: usize) -> Self {
                value as $ty
            }
        }
    };
}

word!(
    u8,
    "ldrb w1, [{base}, {offset}]",
    "strb {value:w}, [{base}, {offset}]"
);
word!(
    u16,
    "ldrh w1, [{base}, {offset}]",
    "strh {value:w}, [{base}, {offset}]"
);
word!(
    u32,
    "ldr w1, [{base}, {offset}]",
    "str {value:w}, [{base}, {offset}]"
);
word!(
    u64,
    "ldr x1, [{base}, {offset}]",
    "str {value:x}, [{base}, {offset}]"
);

/// The instructions that put the address of `$symbol` in `$register`.
#[cfg(not(target_vendor = "apple"))]
macro_rules! address_of {
    ($register:literal, $symbol:expr) => {
        concat!(
            "adrp ", $register, ", ", $symbol, "\n", "add ", $register, ", ", $register,
            ", :lo12:", $symbol,
        )
    };
}

/// See the ELF version.
#[cfg(target_vendor = "apple")]
macro_rules! address_of {
    ($register:literal, $symbol:expr) => {
        concat!(
            "adrp ", $register, ", ", $symbol, "@PAGE\n", "add ", $register, ", ", $register, ", ",
            $symbol, "@PAGEOFF",
        )
    };
}

std::arch::global_asm!(
    ".text",
    // The leaf routines: every instruction between the begin and end labels
    // may fault on mapped memory, and none touches the stack, so the handler
    // can resume any of them at `safemmap_access_fault`.
    ".p2align 4",
    global!("safemmap_leaf_begin"),
    // copy(dst: x0, src: x1, len: x2) -> (x0 = 0, x1 = 0), for ranges that
    // do not overlap: 16 bytes at a time, then bytes.
    ".p2align 4",
    global!("safemmap_copy"),
    "mov x9, x0",
    "mov x0, #0",
    "2:",
    "cmp x2, #16",
    "b.lo 3f",
    "ldp x3, x4, [x1], #16",
    "stp x3, x4, [x9], #16",
    "sub x2, x2, #16",
    "b 2b",
    "3:",
    "cbz x2, 4f",
    "ldrb w3, [x1], #1",
    "strb w3, [x9], #1",
    "sub x2, x2, #1",
    "b 3b",
    "4:",
    "mov x1, #0",
    "ret",
    // find_byte(hay: x0, len: x1, byte: w2) -> (x0 = 0, x1 = the index of
    // the first `byte`, or `len`), byte by byte.
    ".p2align 4",
    global!("safemmap_find_byte"),
    "mov x9, x0",
    "mov x0, #0",
    "and w2, w2, #0xff",
    "mov x10, #0",
    "5:",
    "cmp x10, x1",
    "b.hs 6f",
    "ldrb w11, [x9, x10]",
    "cmp w11, w2",
    "b.eq 7f",
    "add x10, x10, #1",
    "b 5b",
    "6:",
    "ret",
    "7:",
    "mov x1, x10",
    "ret",
    global!("safemmap_leaf_end"),
    // The handler has put the signal in x0 and the address in x1; the
    // faulting routines are leaves, so the link register is intact.
    ".p2align 4",
    global!("safemmap_access_fault"),
    "ret",
    // guarded_call(function: x0, context: x1, sp_slot: x2) -> (x0, x1)
    ".p2align 4",
    global!("safemmap_guarded_call"),
    "stp x29, x30, [sp, #-160]!",
    "mov x29, sp",
    "stp x19, x20, [sp, #16]",
    "stp x21, x22, [sp, #32]",
    "stp x23, x24, [sp, #48]",
    "stp x25, x26, [sp, #64]",
    "stp x27, x28, [sp, #80]",
    "stp d8, d9, [sp, #96]",
    "stp d10, d11, [sp, #112]",
    "stp d12, d13, [sp, #128]",
    "stp d14, d15, [sp, #144]",
    "mov x9, sp",
    "str x9, [x2]", // publish the stack pointer to resume with
    "mov x9, x0",
    "mov x0, x1",
    "blr x9",
    "mov x0, #0",
    "mov x1, #0",
    "2:",
    "ldp d14, d15, [sp, #144]",
    "ldp d12, d13, [sp, #128]",
    "ldp d10, d11, [sp, #112]",
    "ldp d8, d9, [sp, #96]",
    "ldp x27, x28, [sp, #80]",
    "ldp x25, x26, [sp, #64]",
    "ldp x23, x24, [sp, #48]",
    "ldp x21, x22, [sp, #32]",
    "ldp x19, x20, [sp, #16]",
    "ldp x29, x30, [sp], #160",
    "ret",
    // The handler has restored sp to the published value and put the
    // signal in x0 and the address in x1.
    global!("safemmap_guarded_call_fault"),
    "b 2b",
    // The exception table's bounds (see `arch`): start in x0, end in x1.
    exception_table!(),
    global!("safemmap_exception_table"),
    address_of!("x0", table_bound!(start)),
    address_of!("x1", table_bound!(end)),
    "ret",
);
