/*
 * counter: counts for ever, so that snapshots, restores and clones can be
 * checked from outside. It answers on the serial port:
 *   p        prints "counter: tick=<ticks> mark=<mark>"
 *   m<n>\n   sets mark to the decimal n (a value in guest memory) and prints
 *            "counter: mark set to <n>"
 *   q        exits (debug-exit 0)
 * A tick is 2^22 turns of the loop; the port is polled every 2^16 turns.
 */
#include "console.h"
#include "guest.h"
#include "power.h"

static volatile uint64_t ticks;
static volatile uint64_t mark;

static void answer(uint8_t command)
{
	switch (command) {
	case 'p':
		console_printf("counter: tick=%llu mark=%llu\n", (unsigned long long)ticks, (unsigned long long)mark);
		break;
	case 'm':
		mark = console_read_number();
		console_printf("counter: mark set to %llu\n", (unsigned long long)mark);
		break;
	case 'q':
		console_printf("counter: bye\n");
		debug_exit(0);
		break;
	default:
		break;
	}
}

void guest_main(uint64_t start_info_paddr)
{
	(void)start_info_paddr;
	console_init();
	console_printf("counter: ready\n");
	for (uint64_t turn = 1;; ++turn) {
		if ((turn & ((1u << 16) - 1)) == 0 && console_has_input())
			answer(console_getc());
		if ((turn & ((1u << 22) - 1)) == 0)
			ticks = ticks + 1;
	}
}
