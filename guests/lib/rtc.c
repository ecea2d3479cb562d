#include "rtc.h"

#include "x86.h"

enum {
	RTC_INDEX = 0x70,
	RTC_DATA = 0x71,
	RTC_SECONDS = 0x00,
	RTC_STATUS_A = 0x0a, /* bit 7: update in progress */
	RTC_STATUS_B = 0x0b, /* bit 2: binary (else BCD) */
};

static uint8_t rtc_read(uint8_t reg)
{
	outb(RTC_INDEX, reg);
	return inb(RTC_DATA);
}

uint8_t rtc_seconds_raw(void)
{
	return rtc_read(RTC_SECONDS);
}

unsigned rtc_seconds(void)
{
	for (unsigned tries = 0; tries < 100000 && (rtc_read(RTC_STATUS_A) & 0x80); tries++)
		cpu_relax();
	uint8_t value = rtc_read(RTC_SECONDS);
	if (!(rtc_read(RTC_STATUS_B) & 0x04))
		value = (uint8_t)((value >> 4) * 10 + (value & 0x0f));
	return value;
}

bool rtc_present(void)
{
	return rtc_read(RTC_STATUS_B) != 0xff;
}
