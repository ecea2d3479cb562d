/*
 * Start-up code of the secondary CPUs (the smp guest).
 *
 * ap_trampoline..ap_trampoline_end is position-independent 16-bit code that
 * the boot CPU copies to AP_TRAMPOLINE_ADDR (SIPI vector 0x08: CS=0x0800,
 * IP=0). It goes from real mode straight to long mode (PAE, LME, then PG and
 * PE in one CR0 write) with the boot CPU's page tables and GDT, then IRETQs to
 * ring 3 from a shared, read-only frame. Every AP runs these ~15 ring-0
 * instructions at the same time without touching memory but the GDT's
 * accessed bits; the per-CPU stack is taken in ring 3 with LOCK XADD.
 */
#include "layout.h"

	.section .rodata
	.code16
	.globl ap_trampoline, ap_trampoline_end
ap_trampoline:
	lgdtl	%cs:(ap_gdt_pointer - ap_trampoline)
	movl	$0x20, %eax		/* CR4.PAE */
	movl	%eax, %cr4
	movl	$pml4, %eax
	movl	%eax, %cr3
	movl	$0xc0000080, %ecx	/* IA32_EFER.LME */
	movl	$0x100, %eax
	xorl	%edx, %edx
	wrmsr
	movl	$0x80000011, %eax	/* PG | ET | PE */
	movl	%eax, %cr0
	ljmpl	$KERNEL_CS, $ap_start64
	.p2align 2
ap_gdt_pointer:
	.word gdt_limit
	.long gdt
ap_trampoline_end:

	.text
	.code64
ap_start64:
	movl	$KERNEL_DS, %eax
	movl	%eax, %ds
	movl	%eax, %es
	movl	%eax, %ss
	movl	$ap_iret_frame, %esp
	iretq

/* Ring 3: claim a stack slot, then run ap_main(slot). */
ap_ring3_start:
	movl	$1, %eax
	lock xaddl %eax, ap_slots_taken(%rip)
	cmpl	$MAX_CPUS - 1, %eax
	jae	1f
	movl	%eax, %edi		/* slot 0 .. MAX_CPUS-2 */
	incl	%eax
	imull	$AP_STACK_SIZE, %eax
	leaq	ap_stacks(%rip), %rsp
	addq	%rax, %rsp		/* top of the slot's stack */
	call	ap_main
1:	pause				/* no slot left (or ap_main returned) */
	jmp	1b

	.section .rodata
	.p2align 3
ap_iret_frame:				/* RSP is set by ap_ring3_start */
	.quad ap_ring3_start, USER_CS, USER_RFLAGS, 0, USER_DS

	.bss
	.p2align 2
ap_slots_taken:
	.long 0
	.p2align 12
ap_stacks:
	.skip (MAX_CPUS - 1) * AP_STACK_SIZE

	.section .note.GNU-stack, "", @progbits
