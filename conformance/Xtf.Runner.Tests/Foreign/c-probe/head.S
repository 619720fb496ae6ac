/*
 * c-probe: entry point, hypercall page and Xen ELF notes.
 *
 * Xen's PV dom0 builder starts us in 64-bit kernel mode at the ELF entry point with
 * %rsi = virtual address of start_info, %rsp = a small boot stack that Xen placed after
 * its page tables, and every other general-purpose register zero. We switch to our own
 * stack and hand start_info to the C code as its first argument.
 */

#define XEN_NOTE_XEN_VERSION     5
#define XEN_NOTE_HYPERCALL_PAGE  2
#define XEN_NOTE_GUEST_OS        6
#define XEN_NOTE_GUEST_VERSION   7
#define XEN_NOTE_LOADER          8
#define XEN_NOTE_PAE_MODE        9
#define XEN_NOTE_FEATURES       10

#define HYPERCALL_sched_op      29
#define SCHEDOP_shutdown         2

        .section .text.head, "ax", @progbits
        .code64
        .globl  _start
        .type   _start, @function
_start:
        lea     boot_stack_top(%rip), %rsp      /* 16-byte aligned before the call */
        mov     %rsi, %rdi                      /* kernel_main(start_info) */
        call    kernel_main

        /* kernel_main shuts the domain down itself; reaching here is a bug: crash. */
        mov     $SCHEDOP_shutdown, %edi
        lea     crash_reason(%rip), %rsi
        call    hypercall_page + HYPERCALL_sched_op * 32
1:      jmp     1b
        .size   _start, . - _start

/*
 * One page that Xen overwrites with 32-byte hypercall stubs. It starts out full of int3 so
 * that a call through it before Xen filled it traps instead of running off into zeros.
 */
        .balign 4096
        .globl  hypercall_page
        .type   hypercall_page, @object
hypercall_page:
        .fill   4096, 1, 0xcc
        .size   hypercall_page, . - hypercall_page

        .section .rodata, "a", @progbits
        .balign 4
crash_reason:
        .long   3                               /* SHUTDOWN_crash */

        .section .bss.stack, "aw", @nobits
        .balign 16
boot_stack:
        .skip   16384
boot_stack_top:

/*
 * ELF notes read by Xen's domain builder. Layout of one note: namesz, descsz, type (32-bit
 * words), then the owner name and the descriptor, each padded to 4 bytes.
 */
        .macro  xen_note_begin type
        .balign 4
        .long   8f - 7f         /* namesz: "Xen" and its NUL */
        .long   6f - 9f         /* descsz */
        .long   \type
7:      .asciz  "Xen"
8:      .balign 4
9:
        .endm

        .macro  xen_note_end
6:      .balign 4
        .endm

        .section .note.Xen, "a", @note

        xen_note_begin XEN_NOTE_GUEST_OS
        .asciz  "C-probe"
        xen_note_end

        xen_note_begin XEN_NOTE_GUEST_VERSION
        .asciz  "1.0"
        xen_note_end

        xen_note_begin XEN_NOTE_LOADER
        .asciz  "generic"
        xen_note_end

        xen_note_begin XEN_NOTE_XEN_VERSION
        .asciz  "xen-3.0"
        xen_note_end

        xen_note_begin XEN_NOTE_FEATURES
        .asciz  "!writable_page_tables|pae_pgdir_above_4gb"
        xen_note_end

        xen_note_begin XEN_NOTE_PAE_MODE
        .asciz  "yes"
        xen_note_end

        xen_note_begin XEN_NOTE_HYPERCALL_PAGE
        .quad   hypercall_page
        xen_note_end

        .section .note.GNU-stack, "", @progbits
