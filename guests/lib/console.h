/*
 * The serial console (COM1, 16550A at 0x3f8). console_printf() formats a whole
 * line into a buffer and writes it under a lock, so lines from several CPUs never
 * interleave. Formats: %s %c %d %u %x (with l or ll), %%; no width or padding.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

void console_init(void);                 /* 115200 8N1, FIFOs on */
void console_putc(char c);               /* raw byte, no lock */
void console_printf(const char *format, ...) __attribute__((format(printf, 1, 2)));

bool console_has_input(void);            /* LSR.DR */
uint8_t console_getc(void);              /* waits for a byte */
uint64_t console_read_number(void);      /* decimal digits up to the first other byte (consumed) */
