/* Selectors and sizes shared by the boot assembly and the C code of the test guests. */
#pragma once

/* Our GDT (lib/boot.S). The order matters only to us: nothing uses SYSCALL/SYSRET. */
#define KERNEL_CS 0x08 /* 64-bit code, DPL 0 */
#define KERNEL_DS 0x10 /* data, DPL 0 */
#define USER_DS 0x1b   /* data, DPL 3 (selector 0x18 | RPL 3) */
#define USER_CS 0x23   /* 64-bit code, DPL 3 (selector 0x20 | RPL 3) */
#define TSS_SEL 0x28   /* 64-bit TSS, 16-byte descriptor */

/* RFLAGS for ring 3: IOPL=3 so ring 3 may use in/out; IF=0; bit 1 is always set. */
#define USER_RFLAGS 0x3002

#define BOOT_STACK_SIZE 16384 /* the boot CPU's ring-3 stack */
#define RING0_STACK_SIZE 4096 /* ring-0 stack: ring0_early() and TSS.rsp0 */
#define AP_STACK_SIZE 8192    /* each secondary CPU's ring-3 stack */
#define MAX_CPUS 64           /* the smp guest starts at most this many */

/* Where the smp guest copies its real-mode start-up code (SIPI vector 0x08). */
#define AP_TRAMPOLINE_ADDR 0x8000
