/*
 * PVH entry of every test guest: from 32-bit protected mode to 64-bit ring 3.
 *
 * Ring-0 code may be emulated one instruction at a time (KVM-PVM runs guest
 * supervisor code through the host's instruction emulator, ~4 us each), so
 * this path is a straight line of 25 instructions: the page tables,
 * GDT, TSS and the IRET frame are all built at link time; there is no loop,
 * no stack push and no string instruction before we are in ring 3.
 *
 * Entry state (PVH, docs/guest-interface.md): 32-bit flat segments, paging
 * off, interrupts off, no stack, %ebx = physical address of hvm_start_info.
 */
#include "layout.h"

/* Xen ELF note XEN_ELFNOTE_PHYS32_ENTRY (type 18): the 32-bit physical entry. */
	.section .note.Xen, "a", @note
	.p2align 2
	.long 4			/* namesz: "Xen\0" */
	.long 4			/* descsz */
	.long 18		/* XEN_ELFNOTE_PHYS32_ENTRY */
	.asciz "Xen"
	.long pvh_start32

	.section .text.boot, "ax", @progbits
	.code32
	.globl pvh_start32
pvh_start32:
	lgdt	gdt_pointer
	movl	$0x20, %eax		/* CR4.PAE */
	movl	%eax, %cr4
	movl	$pml4, %eax
	movl	%eax, %cr3
	movl	$0xc0000080, %ecx	/* IA32_EFER */
	movl	$0x100, %eax		/* LME; NX and SYSCALL stay off */
	xorl	%edx, %edx
	wrmsr
	movl	$0x80000011, %eax	/* PG | ET | PE (and caches on: CD=NW=0) */
	movl	%eax, %cr0
	ljmp	$KERNEL_CS, $start64

	.code64
start64:
	movl	$KERNEL_DS, %eax
	movl	%eax, %ds
	movl	%eax, %es
	movl	%eax, %ss
	movl	%ebx, %ebx		/* upper halves are undefined after the mode switch */
	lidt	idt_pointer		/* empty: any exception ends in a triple fault */
	movl	$TSS_SEL, %eax
	ltr	%ax
	/* A guest may do a little in ring 0 first (actions: ring0-int3). */
	movl	$ring0_stack_top, %esp
	movl	%ebx, %edi
	call	ring0_early
	movl	$boot_iret_frame, %esp
	iretq

/* Default hook: nothing to do in ring 0. */
	.weak ring0_early
ring0_early:
	ret

/* First ring-3 instruction of the boot CPU: %rbx still holds start_info. */
	.text
ring3_start:
	movq	%rbx, %rdi
	call	guest_main
	ud2				/* guest_main does not return */

	.data
	.p2align 4
/* 64-bit GDT; APs (lib/ap_boot.S) use it too. Writable: LTR sets the TSS busy bit. */
	.globl gdt
gdt:
	.quad 0				/* 0x00 null */
	.quad 0x00af9a000000ffff	/* 0x08 code, 64-bit, DPL 0 */
	.quad 0x00cf92000000ffff	/* 0x10 data, DPL 0 */
	.quad 0x00cff2000000ffff	/* 0x18 data, DPL 3 */
	.quad 0x00affa000000ffff	/* 0x20 code, 64-bit, DPL 3 */
	/* 0x28 64-bit available TSS; the linker script splits the base into the fields. */
	.quad TSS_DESCRIPTOR_LOW
	.quad 0				/* base 63:32 (we live below 4 GiB) */
gdt_end:
	.globl gdt_limit
	.set gdt_limit, gdt_end - gdt - 1

	.p2align 3
	.globl gdt_pointer
	.word 0				/* align the base on 8 bytes */
gdt_pointer:
	.word gdt_limit
	.long gdt
	.word 0
idt_pointer:
	.word 0				/* limit 0: no vectors */
	.quad 0

/* Popped by IRETQ: RIP, CS, RFLAGS, RSP, SS. */
	.p2align 3
boot_iret_frame:
	.quad ring3_start, USER_CS, USER_RFLAGS, boot_stack_top, USER_DS

/*
 * Identity map of the first 4 GiB with 2 MiB pages, every entry present,
 * writable and user-accessible (ring 3 pokes the local APIC and low memory).
 * The 3-4 GiB MMIO hole is mapped uncached (PCD|PWT). Prebuilt so that ring 0
 * never loops; 1 GiB pages would save 16 KiB of image but need a CPUID check.
 */
	.p2align 12
	.globl pml4
pml4:
	.quad pdpt + 0x7		/* P | RW | US */
	.fill 511, 8, 0
pdpt:
	.quad page_directories + 0x0000 + 0x7
	.quad page_directories + 0x1000 + 0x7
	.quad page_directories + 0x2000 + 0x7
	.quad page_directories + 0x3000 + 0x7
	.fill 508, 8, 0
page_directories:
	.set page, 0
	.rept 1536
	.quad (page << 21) | 0x87	/* P | RW | US | PS */
	.set page, page + 1
	.endr
	.rept 512
	.quad (page << 21) | 0x9f	/* P | RW | US | PWT | PCD | PS */
	.set page, page + 1
	.endr

/*
 * 64-bit TSS: rsp0, and an I/O permission bitmap that allows every port.
 * IOPL=3 alone lets ring 3 use in/out on hardware and under TCG, but KVM-PVM
 * runs ring 3 with the real IOPL at 0 and emulates the faulting in/out, and
 * its emulator then consults this bitmap (SDM vol. 1 §19.5.2).
 */
	.p2align 4
	.globl tss, tss_end
tss:
	.long 0
	.quad ring0_stack_top		/* rsp0 */
	.fill 11, 8, 0			/* rsp1, rsp2, reserved, ist1-7, reserved */
	.word 0
	.word io_bitmap - tss		/* I/O map base */
io_bitmap:
	.fill 8192, 1, 0		/* one bit per port, 0 = allowed */
	.byte 0xff			/* required terminator */
tss_end:

	.bss
	.p2align 12
ring0_stack:
	.skip RING0_STACK_SIZE
ring0_stack_top:
boot_stack:
	.skip BOOT_STACK_SIZE
boot_stack_top:

	.section .note.GNU-stack, "", @progbits
