//! x86-64, System V ABI (Rust calls the routines as `sysv64` on Windows
//! too). `Outcome` comes back in rax:rdx. The guarded function is called
//! with the C ABI of the platform: its argument goes in both rdi (System V)
//! and rcx (Windows), with the 32 bytes of shadow space Windows wants.

#[cfg(not(windows))]
use std::arch::asm;

#[cfg(not(windows))]
use super::{exception_entry, exception_table, table_bound};
use super::{global, hidden, symbol, Outcome, Word};

/// Defines an inline load of one width: `xor eax, eax` (no fault), then
/// `$load`, which reads `[{base} + {offset}]` into rdx (zero-extended). On Windows, a
/// call of the leaf routine `$leaf`, which does the same with `[rdi]`.
macro_rules! inline_load {
    ($load:literal, $leaf:expr) => {
        #[inline(always)]
        unsafe fn load(base: *const u8, offset: usize) -> Outcome {
            #[cfg(not(windows))]
            {
                let (fault, value);
                // SAFETY: the instruction reads only the range the caller
                // vouches for; a fault there resumes at `3:` with rax and
                // rdx set (see "Why resuming an inline access is sound").
                unsafe {
                    asm!(
                        "xor eax, eax",
                        "2:",
                        $load,
                        "3:",
                        exception_entry!(),
                        base = in(reg) base,
                        offset = in(reg) offset,
                        out("rax") fault,
                        out("rdx") value,
                        options(nostack, readonly),
                    )
                };
                Outcome { fault, value }
            }
            #[cfg(windows)]
            {
                extern "sysv64" {
                    #[link_name = $leaf]
                    fn leaf(src: *const u8) -> Outcome;
                }
                // SAFETY: as above; the leaf routine reads only there.
                unsafe { leaf(base.wrapping_add(offset)) }
            }
        }
    };
}

/// Defines an inline store of one width, as [`inline_load`] a load: `$store`
/// writes `{value}` (formatted for the width) to `[{base} + {offset}]`.
macro_rules! inline_store {
    ($ty:ty, $class:ident, $store:literal, $leaf:expr) => {
        #[inline(always)]
        unsafe fn store(self, base: *mut u8, offset: usize) -> Outcome {
            let value = self;
            #[cfg(not(windows))]
            {
                let (fault, address);
                // SAFETY: the instruction writes only the range the caller
                // vouches for; a fault there resumes at `3:` with rax and
                // rdx set (see "Why resuming an inline access is sound").
                unsafe {
                    asm!(
                        "xor eax, eax",
                        "2:",
                        $store,
                        "3:",
                        exception_entry!(),
                        base = in(reg) base,
                        offset = in(reg) offset,
                        value = in($class) value,
                        out("rax") fault,
                        out("rdx") address,
                        options(nostack),
                    )
                };
                Outcome {
                    fault,
                    value: address,
                }
            }
            #[cfg(windows)]
            {
                extern "sysv64" {
                    #[link_name = $leaf]
                    fn leaf(dst: *mut u8, value: $ty) -> Outcome;
                }
                // SAFETY: as above; the leaf routine writes only there.
                unsafe { leaf(base.wrapping_add(offset), value) }
            }
        }
    };
}

/// Implements [`Word`] for `$ty`: its load and store instructions (the
/// register class of the stored value), and the leaf routines that stand
/// for them on Windows.
macro_rules! word {
    ($ty:ty, $class:ident, $load:literal, $store:literal, $leaves:literal) => {
        impl Word for $ty {
            inline_load!($load, concat!("safemmap_load_", $leaves));
            inline_store!($ty, $class, $store, concat!("safemmap_store_", $leaves));

            fn from_value(value: usize) -> Self {
                value as $ty
            }
        }
    };
}

word!(
    u8,
    reg_byte,
    "movzx edx, byte ptr [{base} + {offset}]",
    "mov byte ptr [{base} + {offset}], {value}",
    "u8"
);
word!(
    u16,
    reg,
    "movzx edx, word ptr [{base} + {offset}]",
    "mov word ptr [{base} + {offset}], {value:x}",
    "u16"
);
word!(
    u32,
    reg,
    "mov edx, dword ptr [{base} + {offset}]",
    "mov dword ptr [{base} + {offset}], {value:e}",
    "u32"
);
word!(
    u64,
    reg,
    "mov rdx, qword ptr [{base} + {offset}]",
    "mov qword ptr [{base} + {offset}], {value:r}",
    "u64"
);

/// The leaf routines behind the inline accesses on Windows: each one
/// access at `[rdi]`, the value to store in rsi, rax zeroed first.
#[cfg(windows)]
macro_rules! leaf_accesses {
    () => {
        concat!(
            global!("safemmap_load_u8"),
            "\nxor eax, eax\nmovzx edx, byte ptr [rdi]\nret\n",
            global!("safemmap_load_u16"),
            "\nxor eax, eax\nmovzx edx, word ptr [rdi]\nret\n",
            global!("safemmap_load_u32"),
            "\nxor eax, eax\nmov edx, dword ptr [rdi]\nret\n",
            global!("safemmap_load_u64"),
            "\nxor eax, eax\nmov rdx, qword ptr [rdi]\nret\n",
            global!("safemmap_store_u8"),
            "\nxor eax, eax\nmov byte ptr [rdi], sil\nret\n",
            global!("safemmap_store_u16"),
            "\nxor eax, eax\nmov word ptr [rdi], si\nret\n",
            global!("safemmap_store_u32"),
            "\nxor eax, eax\nmov dword ptr [rdi], esi\nret\n",
            global!("safemmap_store_u64"),
            "\nxor eax, eax\nmov qword ptr [rdi], rsi\nret",
        )
    };
}

/// See the Windows version: elsewhere the accesses are inline.
#[cfg(not(windows))]
macro_rules! leaf_accesses {
    () => {
        ""
    };
}

/// The exception table's bounds routine (see `arch`): none on Windows.
#[cfg(windows)]
macro_rules! table_routine {
    () => {
        ""
    };
}

/// See the Windows version: returns the table's start in rax, its end in
/// rdx.
#[cfg(not(windows))]
macro_rules! table_routine {
    () => {
        concat!(
            exception_table!(),
            "\n",
            global!("safemmap_exception_table"),
            "\nlea rax, [rip + ",
            table_bound!(start),
            "]\nlea rdx, [rip + ",
            table_bound!(end),
            "]\nret",
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
    leaf_accesses!(),
    // copy(dst: rdi, src: rsi, len: rdx) -> (rax = 0, rdx = 0), for ranges
    // that do not overlap. Sizes up to 64 use loads of both ends before any
    // store; larger ones a 64-byte SSE loop with an overlapping last block,
    // or `rep movsb` from 32 KiB up. Below that the loop wins where it
    // counts: a pass over a page-cached file in blocks of 4-16 KiB, each
    // copied and then read, ran 1.1-1.3x a slice's pass with it and 1.9x
    // with `rep movsb` (BENCHMARKS.md, sum-field).
    ".p2align 4",
    global!("safemmap_copy"),
    "xor eax, eax",
    "cmp rdx, 16",
    "ja 30f",
    "cmp rdx, 8",
    "jae 18f",
    "cmp rdx, 4",
    "jae 14f",
    "test rdx, rdx",
    "je 99f",
    // 1..=3 bytes: first, middle and last
    "movzx ecx, byte ptr [rsi]",
    "movzx r8d, byte ptr [rsi + rdx - 1]",
    "mov r9, rdx",
    "shr r9, 1",
    "movzx r10d, byte ptr [rsi + r9]",
    "mov byte ptr [rdi], cl",
    "mov byte ptr [rdi + rdx - 1], r8b",
    "mov byte ptr [rdi + r9], r10b",
    "jmp 99f",
    "14:", // 4..=7
    "mov ecx, dword ptr [rsi]",
    "mov r8d, dword ptr [rsi + rdx - 4]",
    "mov dword ptr [rdi], ecx",
    "mov dword ptr [rdi + rdx - 4], r8d",
    "jmp 99f",
    "18:", // 8..=16
    "mov rcx, qword ptr [rsi]",
    "mov r8, qword ptr [rsi + rdx - 8]",
    "mov qword ptr [rdi], rcx",
    "mov qword ptr [rdi + rdx - 8], r8",
    "jmp 99f",
    "30:",
    "cmp rdx, 32",
    "ja 40f",
    // 17..=32
    "movdqu xmm0, xmmword ptr [rsi]",
    "movdqu xmm1, xmmword ptr [rsi + rdx - 16]",
    "movdqu xmmword ptr [rdi], xmm0",
    "movdqu xmmword ptr [rdi + rdx - 16], xmm1",
    "jmp 99f",
    "40:",
    "cmp rdx, 64",
    "ja 50f",
    // 33..=64
    "movdqu xmm0, xmmword ptr [rsi]",
    "movdqu xmm1, xmmword ptr [rsi + 16]",
    "movdqu xmm2, xmmword ptr [rsi + rdx - 32]",
    "movdqu xmm3, xmmword ptr [rsi + rdx - 16]",
    "movdqu xmmword ptr [rdi], xmm0",
    "movdqu xmmword ptr [rdi + 16], xmm1",
    "movdqu xmmword ptr [rdi + rdx - 32], xmm2",
    "movdqu xmmword ptr [rdi + rdx - 16], xmm3",
    "jmp 99f",
    "50:",
    "cmp rdx, 32768",
    "jae 70f",
    // 65..32768: whole 64-byte blocks, then the last 64 bytes again
    "lea rcx, [rsi + rdx - 64]",
    "lea r8, [rdi + rdx - 64]",
    "60:",
    "movdqu xmm0, xmmword ptr [rsi]",
    "movdqu xmm1, xmmword ptr [rsi + 16]",
    "movdqu xmm2, xmmword ptr [rsi + 32]",
    "movdqu xmm3, xmmword ptr [rsi + 48]",
    "movdqu xmmword ptr [rdi], xmm0",
    "movdqu xmmword ptr [rdi + 16], xmm1",
    "movdqu xmmword ptr [rdi + 32], xmm2",
    "movdqu xmmword ptr [rdi + 48], xmm3",
    "add rsi, 64",
    "add rdi, 64",
    "cmp rsi, rcx",
    "jb 60b",
    "movdqu xmm0, xmmword ptr [rcx]",
    "movdqu xmm1, xmmword ptr [rcx + 16]",
    "movdqu xmm2, xmmword ptr [rcx + 32]",
    "movdqu xmm3, xmmword ptr [rcx + 48]",
    "movdqu xmmword ptr [r8], xmm0",
    "movdqu xmmword ptr [r8 + 16], xmm1",
    "movdqu xmmword ptr [r8 + 32], xmm2",
    "movdqu xmmword ptr [r8 + 48], xmm3",
    "jmp 99f",
    "70:",
    "mov rcx, rdx",
    "rep movsb",
    "99:",
    "xor edx, edx",
    "ret",
    // find_byte(hay: rdi, len: rsi, byte: dl) -> (rax = 0, rdx = the index
    // of the first `byte`, or `len`): 16 bytes at a time with SSE2, the last
    // 16 loaded once more, overlapping blocks already searched (which hold
    // no `byte`, so the first match is still the first); every load lies in
    // the range. Ranges of 32 bytes or more start with 32 bytes in one step
    // (a short line ends there: readline's search, 27 -> 20 instructions);
    // ranges under 16 bytes go byte by byte.
    ".p2align 4",
    global!("safemmap_find_byte"),
    "xor eax, eax",
    "movd xmm0, edx",
    "punpcklbw xmm0, xmm0",
    "punpcklwd xmm0, xmm0",
    "pshufd xmm0, xmm0, 0",
    "xor ecx, ecx",
    "cmp rsi, 32",
    "jb 105f",
    "movdqu xmm1, xmmword ptr [rdi]",
    "movdqu xmm2, xmmword ptr [rdi + 16]",
    "pcmpeqb xmm1, xmm0",
    "pcmpeqb xmm2, xmm0",
    "pmovmskb r9d, xmm1",
    "pmovmskb r10d, xmm2",
    "shl r10d, 16",
    "or r9d, r10d",
    "jnz 120f", // rcx = 0: the match's index is its bit's
    "mov ecx, 32",
    "lea r8, [rsi - 16]", // where the last block starts, 16 or more
    "cmp rcx, r8",
    "jb 110f",
    "jmp 115f",
    "105:",
    "cmp rsi, 16",
    "jb 130f",
    "lea r8, [rsi - 16]", // where the last block starts
    "test r8, r8",
    "jz 115f",
    "110:",
    "movdqu xmm1, xmmword ptr [rdi + rcx]",
    "pcmpeqb xmm1, xmm0",
    "pmovmskb r9d, xmm1",
    "test r9d, r9d",
    "jnz 120f",
    "add rcx, 16",
    "cmp rcx, r8",
    "jb 110b",
    "115:",
    "mov rcx, r8",
    "movdqu xmm1, xmmword ptr [rdi + rcx]",
    "pcmpeqb xmm1, xmm0",
    "pmovmskb r9d, xmm1",
    "test r9d, r9d",
    "jz 140f",
    "120:",
    "bsf r9d, r9d",
    "lea rdx, [rcx + r9]",
    "ret",
    "130:",
    "cmp rcx, rsi",
    "jae 140f",
    "cmp byte ptr [rdi + rcx], dl",
    "je 150f",
    "inc rcx",
    "jmp 130b",
    "140:",
    "mov rdx, rsi",
    "ret",
    "150:",
    "mov rdx, rcx",
    "ret",
    global!("safemmap_leaf_end"),
    // The handler has put the signal in rax and the address in rdx; the
    // faulting routines pushed nothing, so the return address is on top.
    ".p2align 4",
    global!("safemmap_access_fault"),
    "ret",
    // guarded_call(function: rdi, context: rsi, sp_slot: rdx) -> (rax, rdx)
    ".p2align 4",
    global!("safemmap_guarded_call"),
    "push rbp",
    "mov rbp, rsp",
    "push rbx",
    "push r12",
    "push r13",
    "push r14",
    "push r15",
    "sub rsp, 8",     // re-align the stack to 16 bytes for the call
    "mov [rdx], rsp", // publish the stack pointer to resume with
    "mov rax, rdi",
    "mov rdi, rsi",
    "mov rcx, rsi",
    "sub rsp, 32",
    "call rax",
    "add rsp, 32",
    "xor eax, eax",
    "xor edx, edx",
    "2:",
    "add rsp, 8",
    "pop r15",
    "pop r14",
    "pop r13",
    "pop r12",
    "pop rbx",
    "pop rbp",
    "ret",
    // The handler has restored rsp to the published value and put the
    // signal in rax and the address in rdx.
    global!("safemmap_guarded_call_fault"),
    "jmp 2b",
    table_routine!(),
);
