/* CMOS real-time clock (MC146818): ports 0x70 (index) and 0x71 (data). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

/* The seconds register in binary (0-59), waiting out an update in progress. */
unsigned rtc_seconds(void);

/* The raw seconds register, one index write and one data read: for hot loops
   that only watch for a change. */
uint8_t rtc_seconds_raw(void);

/* False when nothing answers at 0x70/0x71 (reads as 0xff). */
bool rtc_present(void);
