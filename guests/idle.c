/*
 * idle: a guest that sleeps until its console has input, for density runs
 * (thousands of idle clones must cost the host no CPU) and snapshot tests.
 * The other test guests busy-poll their console in ring 3; this one halts:
 * ring 3 asks ring 0 to wait (UD2: the #UD handler is the way in, since
 * KVM-PVM does not deliver INT n from ring 3 to an emulated ring 0), ring 0 checks
 * the UART once more with interrupts off and then does STI; HLT, and the
 * UART's receive interrupt (IRQ 4 through the IOAPIC, vector 0x30) wakes it.
 * Ring 0 runs about a dozen instructions per wake-up (they may be emulated).
 *
 * Console commands:
 *   p        prints "idle: alive wakeups=W mark=M" (W: returns from the wait)
 *   m<n>x    sets the mark to n (in guest memory) and prints it
 *   q        exits
 */
#include "console.h"
#include "guest.h"
#include "layout.h"
#include "power.h"
#include "x86.h"

#define UART_VECTOR 0x30
#define WAIT_VECTOR 6 /* #UD */
#define SPURIOUS_VECTOR 0xff
#define IOAPIC_BASE 0xfec00000ul
#define LAPIC_BASE 0xfee00000ul
#define COM1 0x3f8

void idle_uart_interrupt(void);
void idle_wait(void);
void idle_spurious(void);

/* Ring 0. The UART's interrupt only has to end: ring 3 reads the byte. */
__asm__(".text\n"
	".globl idle_uart_interrupt, idle_wait, idle_spurious\n"
	"idle_uart_interrupt:\n"
	"	pushq %rax\n"
	"	movl $0xfee000b0, %eax\n" /* local APIC EOI */
	"	movl $0, (%rax)\n"
	"	popq %rax\n"
	"	iretq\n"
	/* #UD from the UD2 in ring 3: halt unless input is already there, then
	   return past the UD2. Interrupts are off from the gate until STI, whose
	   one-instruction shadow covers HLT, so a byte that arrives after the
	   check still wakes the HLT. */
	"idle_wait:\n"
	"	pushq %rax\n"
	"	pushq %rdx\n"
	"	addq $2, 16(%rsp)\n" /* the saved RIP: past UD2 */
	"	movw $0x3fd, %dx\n" /* LSR */
	"	inb %dx, %al\n"
	"	testb $1, %al\n"
	"	jnz 1f\n"
	"	sti\n"
	"	hlt\n"
	"	cli\n"
	"1:	popq %rdx\n"
	"	popq %rax\n"
	"	iretq\n"
	"idle_spurious:\n"
	"	iretq\n");

static struct idt_gate idt[256] __attribute__((aligned(16)));
static volatile uint64_t wakeups;
static volatile uint64_t mark;

static void set_gate(unsigned vector, void (*handler)(void), unsigned dpl)
{
	uint64_t address = (uint64_t)(uintptr_t)handler;
	idt[vector] = (struct idt_gate){(uint16_t)address, KERNEL_CS, 0, (uint8_t)(0x8e | dpl << 5),
					(uint16_t)(address >> 16), (uint32_t)(address >> 32), 0};
}

/* Ring 0, before ring 3 starts: the three gates and LIDT. */
void ring0_early(uint64_t start_info_paddr)
{
	(void)start_info_paddr;
	set_gate(UART_VECTOR, idle_uart_interrupt, 0);
	set_gate(WAIT_VECTOR, idle_wait, 0);
	set_gate(SPURIOUS_VECTOR, idle_spurious, 0);
	struct __attribute__((packed)) {
		uint16_t limit;
		uint64_t base;
	} pointer = {sizeof(idt) - 1, (uint64_t)(uintptr_t)idt};
	__asm__ volatile("lidt %0" : : "m"(pointer));
}

/* Ring 3: the UART's receive interrupt to vector 0x30 on this CPU. */
static void route_console_interrupt(void)
{
	outb(0x21, 0xff); /* both PICs masked: nothing comes through LINT0 */
	outb(0xa1, 0xff);
	mmio_write32(LAPIC_BASE + 0x80, 0);                           /* TPR: accept every class */
	mmio_write32(LAPIC_BASE + 0xf0, 0x100 | SPURIOUS_VECTOR);     /* SVR: APIC on */
	mmio_write32(IOAPIC_BASE, 0x10 + 2 * 4 + 1);                  /* pin 4, high dword */
	mmio_write32(IOAPIC_BASE + 0x10, 0);                          /* to APIC ID 0 */
	mmio_write32(IOAPIC_BASE, 0x10 + 2 * 4);                      /* pin 4, low dword */
	mmio_write32(IOAPIC_BASE + 0x10, UART_VECTOR);                /* fixed, edge, high, unmasked */
	outb(COM1 + 1, 0x01);                                       /* IER: received data */
}

void guest_main(uint64_t start_info_paddr)
{
	(void)start_info_paddr;
	console_init();
	route_console_interrupt();
	console_printf("idle: ready\n");
	for (;;) {
		while (!console_has_input()) {
			__asm__ volatile("ud2" ::: "memory");
			wakeups = wakeups + 1;
		}
		uint8_t command = console_getc();
		if (command == 'p') {
			console_printf("idle: alive wakeups=%llu mark=%llu\n", (unsigned long long)wakeups,
				       (unsigned long long)mark);
		} else if (command == 'm') {
			mark = console_read_number();
			console_printf("idle: mark set to %llu\n", (unsigned long long)mark);
		} else if (command == 'q') {
			console_printf("idle: bye\n");
			debug_exit(0);
		}
	}
}
