/*
 * actions: ends the VM in the way its command line asks, to test vmhive's
 * exit statuses: action=poweroff | reset | debug-exit:<n> | triple-fault |
 * halt-forever | ring0-int3.
 */
#include "console.h"
#include "guest.h"
#include "power.h"
#include "string_util.h"
#include "x86.h"

static bool is_ring0_int3(const char *value, size_t length)
{
	return value && word_equals(value, length, "ring0-int3");
}

/* Runs in ring 0 (maybe emulated): only the ring0-int3 action does anything here. */
void ring0_early(uint64_t start_info_paddr)
{
	size_t length;
	const char *value = cmdline_value(pvh_cmdline(pvh_check(start_info_paddr)), "action", &length);
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
	} else if (strcmp(action, "halt-forever") == 0) {
		spin_forever();
	}
	console_printf("actions: unknown action\n");
	debug_exit(1);
}
