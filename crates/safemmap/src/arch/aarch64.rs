//! AArch64 (AAPCS64: Linux, macOS). `Outcome` comes back in x0:x1.

use super::symbol;

std::arch::global_asm!(
    ".text",
    // load_byte(src: x0) -> (x0 = 0, x1 = byte)
    ".p2align 4",
    concat!(".globl ", symbol!("safemmap_load_byte")),
    concat!(symbol!("safemmap_load_byte"), ":"),
    "mov x9, x0",
    "mov x0, #0",
    concat!(".globl ", symbol!("safemmap_load_byte_access")),
    concat!(symbol!("safemmap_load_byte_access"), ":"),
    "ldrb w1, [x9]",
    "ret",
    // store_byte(dst: x0, value: w1) -> (x0 = 0, x1 = 0)
    ".p2align 4",
    concat!(".globl ", symbol!("safemmap_store_byte")),
    concat!(symbol!("safemmap_store_byte"), ":"),
    "mov x9, x0",
    "mov x0, #0",
    concat!(".globl ", symbol!("safemmap_store_byte_access")),
    concat!(symbol!("safemmap_store_byte_access"), ":"),
    "strb w1, [x9]",
    "mov x1, #0",
    "ret",
    // The handler has put the signal in x0 and the address in x1; the
    // faulting routines are leaves, so the link register is intact.
    ".p2align 4",
    concat!(".globl ", symbol!("safemmap_access_fault")),
    concat!(symbol!("safemmap_access_fault"), ":"),
    "ret",
    // guarded_call(function: x0, context: x1, sp_slot: x2) -> (x0, x1)
    ".p2align 4",
    concat!(".globl ", symbol!("safemmap_guarded_call")),
    concat!(symbol!("safemmap_guarded_call"), ":"),
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
    concat!(".globl ", symbol!("safemmap_guarded_call_fault")),
    concat!(symbol!("safemmap_guarded_call_fault"), ":"),
    "b 2b",
);
