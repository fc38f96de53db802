//! x86-64 (System V ABI: Linux, macOS). `Outcome` comes back in rax:rdx.

use super::symbol;

std::arch::global_asm!(
    ".text",
    // load_byte(src: rdi) -> (rax = 0, rdx = byte)
    ".p2align 4",
    concat!(".globl ", symbol!("safemmap_load_byte")),
    concat!(symbol!("safemmap_load_byte"), ":"),
    "xor eax, eax",
    concat!(".globl ", symbol!("safemmap_load_byte_access")),
    concat!(symbol!("safemmap_load_byte_access"), ":"),
    "movzx edx, byte ptr [rdi]",
    "ret",
    // store_byte(dst: rdi, value: sil) -> (rax = 0, rdx = 0)
    ".p2align 4",
    concat!(".globl ", symbol!("safemmap_store_byte")),
    concat!(symbol!("safemmap_store_byte"), ":"),
    "xor eax, eax",
    "xor edx, edx",
    concat!(".globl ", symbol!("safemmap_store_byte_access")),
    concat!(symbol!("safemmap_store_byte_access"), ":"),
    "mov byte ptr [rdi], sil",
    "ret",
    // The handler has put the signal in rax and the address in rdx; the
    // faulting routines pushed nothing, so the return address is on top.
    ".p2align 4",
    concat!(".globl ", symbol!("safemmap_access_fault")),
    concat!(symbol!("safemmap_access_fault"), ":"),
    "ret",
    // guarded_call(function: rdi, context: rsi, sp_slot: rdx) -> (rax, rdx)
    ".p2align 4",
    concat!(".globl ", symbol!("safemmap_guarded_call")),
    concat!(symbol!("safemmap_guarded_call"), ":"),
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
    "call rax",
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
    concat!(".globl ", symbol!("safemmap_guarded_call_fault")),
    concat!(symbol!("safemmap_guarded_call_fault"), ":"),
    "jmp 2b",
);
