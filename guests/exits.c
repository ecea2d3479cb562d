/*
 * exits: how many cheap I/O exits per second the VMM handles. Counts 8-bit
 * writes to port 0x80 between changes of the CMOS RTC seconds register,
 * checking the clock after every 1000 writes. Only the port-0x80 writes are
 * counted; the two clock accesses per 1000 writes (0.2% more exits) are not.
 */
#include "console.h"
#include "guest.h"
#include "power.h"
#include "rtc.h"
#include "string_util.h"
#include "x86.h"

enum { BATCH = 1000, DEFAULT_SECONDS = 2, MAX_SECONDS = 3600 };

static uint64_t outs_until_next_second(uint8_t *seconds)
{
	uint64_t count = 0;
	uint8_t now;
	do {
		for (unsigned i = 0; i < BATCH; i++)
			outb(0x80, 0);
		count += BATCH;
		now = rtc_seconds_raw();
	} while (now == *seconds);
	*seconds = now;
	return count;
}

void guest_main(uint64_t start_info_paddr)
{
	console_init();
	const char *cmdline = pvh_cmdline(pvh_check(start_info_paddr));
	uint64_t seconds = DEFAULT_SECONDS;
	size_t length;
	const char *value = cmdline_value(cmdline, "seconds", &length);
	if (value && (!parse_u64(value, length, &seconds) || seconds == 0 || seconds > MAX_SECONDS)) {
		console_printf("exits: bad seconds= value (want 1-%u)\n", MAX_SECONDS);
		debug_exit(1);
	}
	if (!rtc_present()) {
		console_printf("exits: no CMOS RTC\n");
		debug_exit(1);
	}

	/* Start on a seconds edge. */
	uint8_t start = rtc_seconds_raw(), now;
	do
		now = rtc_seconds_raw();
	while (now == start);

	uint64_t total = 0;
	for (uint64_t s = 0; s < seconds; s++) {
		uint64_t count = outs_until_next_second(&now);
		total += count;
		console_printf("exits: %lu exits/s\n", count);
	}
	console_printf("exits: average %lu exits/s\n", total / seconds);
	debug_exit(0);
}
