/*
 * actions: ends the VM in the way its command line asks, to test vmhive's
 * exit statuses: action=poweroff | reset | debug-exit:<n> | triple-fault |
 * halt-forever | ring0-int3 | syscall.
 *
 * syscall: ring 0 enables SYSCALL (EFER.SCE, STAR, LSTAR, FMASK) and ring 3
 * then issues one; the ring-0 handler records its code segment and returns
 * with SYSRETQ. This is the path every Linux system call takes.
 */
#include "console.h"
#include "guest.h"
#include "layout.h"
#include "power.h"
#include "string_util.h"
#include "x86.h"

static bool is_ring0_int3(const char *value, size_t length)
{
	return value && word_equals(value, length, "ring0-int3");
}

#define MSR_EFER 0xc0000080u
#define MSR_STAR 0xc0000081u
#define MSR_LSTAR 0xc0000082u
#define MSR_FMASK 0xc0000084u
#define EFER_SCE 0x1u

static inline uint64_t rdmsr(uint32_t msr)
{
	uint32_t low, high;
	__asm__ volatile("rdmsr" : "=a"(low), "=d"(high) : "c"(msr));
	return ((uint64_t)high << 32) | low;
}

static inline void wrmsr(uint32_t msr, uint64_t value)
{
	__asm__ volatile("wrmsr" : : "c"(msr), "a"((uint32_t)value), "d"((uint32_t)(value >> 32)));
}

/*
 * The SYSCALL target is reached through a supervisor-only alias of our image
 * at 4 GiB (as Linux's entry code is in supervisor-only kernel text), and an
 * IDT sends a page fault to pf_entry, which ends the VM with debug-exit 3: a
 * SYSCALL that arrives in ring 3 instead of ring 0 shows up as exactly that.
 */
#define SUPERVISOR_ALIAS 0x100000000ull

volatile uint64_t syscall_handler_cs;
volatile uint64_t syscall_handler_count;
void syscall_entry(void);
void pf_entry(void);
__asm__(".text\n"
	".globl syscall_entry\n"
	"syscall_entry:\n"
	"	swapgs\n"
	"	movq %cs, %rax\n"
	"	movq %rax, syscall_handler_cs(%rip)\n"
	"	incq syscall_handler_count(%rip)\n"
	"	swapgs\n"
	"	sysretq\n"
	".globl pf_entry\n"
	"pf_entry:\n"
	"	movb $3, %al\n"
	"	outb %al, $0xf4\n"
	"1:	hlt\n"
	"	jmp 1b\n");

static struct idt_gate idt[15] __attribute__((aligned(16)));
static uint64_t alias_page_directory[512] __attribute__((aligned(4096)));

static void install_page_fault_handler(void)
{
	uint64_t handler = (uint64_t)(uintptr_t)pf_entry;
	struct idt_gate *gate = &idt[14];
	gate->offset_low = (uint16_t)handler;
	gate->selector = KERNEL_CS;
	gate->type_attributes = 0x8e; /* present, DPL 0, 64-bit interrupt gate */
	gate->offset_middle = (uint16_t)(handler >> 16);
	gate->offset_high = (uint32_t)(handler >> 32);
	struct __attribute__((packed)) {
		uint16_t limit;
		uint64_t base;
	} pointer = {sizeof(idt) - 1, (uint64_t)(uintptr_t)idt};
	__asm__ volatile("lidt %0" : : "m"(pointer));
}

/* pdpt[4] (4-5 GiB) -> the first 2 MiB, present and writable but not user. */
static void map_supervisor_alias(void)
{
	uint64_t cr3;
	__asm__ volatile("mov %%cr3, %0" : "=r"(cr3));
	uint64_t *pml4_table = phys_to_ptr(cr3 & ~0xfffull);
	uint64_t *pdpt_table = phys_to_ptr(pml4_table[0] & ~0xfffull);
	alias_page_directory[0] = 0x83; /* P | RW | PS, physical 0 */
	pdpt_table[4] = (uint64_t)(uintptr_t)alias_page_directory | 0x3;
	__asm__ volatile("mov %0, %%cr3" : : "r"(cr3) : "memory");
}

static void enable_syscall(void)
{
	install_page_fault_handler();
	map_supervisor_alias();
	wrmsr(MSR_EFER, rdmsr(MSR_EFER) | EFER_SCE);
	/* SYSRET loads CS = STAR[63:48] + 16 and SS = STAR[63:48] + 8 (both RPL 3). */
	wrmsr(MSR_STAR, ((uint64_t)(USER_DS - 3 - 8) << 48) | ((uint64_t)KERNEL_CS << 32));
	wrmsr(MSR_LSTAR, SUPERVISOR_ALIAS + (uint64_t)(uintptr_t)syscall_entry);
	wrmsr(MSR_FMASK, 0x200); /* IF */
}

static void issue_syscall(void)
{
	uint64_t rax = 42;
	__asm__ volatile("syscall" : "+a"(rax) : : "rcx", "r11", "memory");
	/* The handler wrote through the alias, which is the same physical page. */
	console_printf("actions: syscall returned %lu, handler cs=0x%lx count=%lu\n", (unsigned long)rax,
		       (unsigned long)syscall_handler_cs, (unsigned long)syscall_handler_count);
	debug_exit(syscall_handler_count == 1 && syscall_handler_cs == KERNEL_CS ? 0 : 1);
}

/* Runs in ring 0 (maybe emulated): ring0-int3 and syscall do something here. */
void ring0_early(uint64_t start_info_paddr)
{
	size_t length;
	const char *value = cmdline_value(pvh_cmdline(pvh_check(start_info_paddr)), "action", &length);
	if (value && word_equals(value, length, "syscall")) {
		enable_syscall();
		return;
	}
	if (!is_ring0_int3(value, length))
		return;
	console_init();
	console_printf("actions: ring0-int3\n");
	/* No IDT: a triple fault on hardware; an emulation failure on KVM-PVM. */
	__asm__ volatile("int3");
	console_printf("actions: still running after int3\n");
	debug_exit(1);
}

static bool starts_with(const char *s, const char *prefix)
{
	size_t n = strlen(prefix);
	return memcmp(s, prefix, n) == 0;
}

void guest_main(uint64_t start_info_paddr)
{
	console_init();
	size_t length = 0;
	const char *value = cmdline_value(pvh_cmdline(pvh_check(start_info_paddr)), "action", &length);
	char action[64] = "(none)";
	if (value) {
		if (length >= sizeof(action))
			length = sizeof(action) - 1;
		memcpy(action, value, length);
		action[length] = '\0';
	}
	console_printf("actions: %s\n", action);

	uint64_t code;
	if (strcmp(action, "poweroff") == 0) {
		acpi_poweroff();
	} else if (strcmp(action, "reset") == 0) {
		i8042_reset();
	} else if (starts_with(action, "debug-exit:") &&
		   parse_u64(action + 11, strlen(action + 11), &code) && code <= 0xff) {
		debug_exit((uint8_t)code);
	} else if (strcmp(action, "triple-fault") == 0) {
		/* #UD with an empty IDT: #GP, then #DF, then shutdown. */
		__asm__ volatile("ud2");
	} else if (strcmp(action, "syscall") == 0) {
		issue_syscall();
	} else if (strcmp(action, "halt-forever") == 0) {
		spin_forever();
	}
	console_printf("actions: unknown action\n");
	debug_exit(1);
}
