#include "console.h"

#include <stdarg.h>

#include "spinlock.h"
#include "x86.h"

enum {
	COM1 = 0x3f8,
	UART_THR = 0, /* transmit holding (write), receive buffer (read), DLL when DLAB */
	UART_IER = 1, /* interrupt enable, DLM when DLAB */
	UART_LCR = 3,
	UART_MCR = 4,
	UART_LSR = 5,
	LSR_DATA_READY = 0x01,
	LSR_THR_EMPTY = 0x20,
};

static struct spinlock console_lock;

void console_init(void)
{
	outb(COM1 + UART_IER, 0x00);
	outb(COM1 + UART_LCR, 0x80); /* DLAB: divisor 1 = 115200 baud */
	outb(COM1 + UART_THR, 0x01);
	outb(COM1 + UART_IER, 0x00);
	outb(COM1 + UART_LCR, 0x03); /* 8N1 */
	outb(COM1 + UART_MCR, 0x03); /* DTR, RTS */
	/* FCR stays as it is: turning the FIFOs on or off empties them, and input
	   may already be waiting (the echo guest). */
}

void console_putc(char c)
{
	/* A missing UART reads 0xff, which also ends this wait. */
	while (!(inb(COM1 + UART_LSR) & LSR_THR_EMPTY))
		cpu_relax();
	outb(COM1 + UART_THR, (uint8_t)c);
}

bool console_has_input(void)
{
	return (inb(COM1 + UART_LSR) & LSR_DATA_READY) != 0;
}

uint8_t console_getc(void)
{
	while (!console_has_input())
		cpu_relax();
	return inb(COM1 + UART_THR);
}

struct line {
	char text[256];
	unsigned length;
};

static void line_putc(struct line *line, char c)
{
	if (line->length < sizeof(line->text))
		line->text[line->length++] = c;
}

static void line_puts(struct line *line, const char *s)
{
	while (*s)
		line_putc(line, *s++);
}

static void line_number(struct line *line, uint64_t value, unsigned base)
{
	char digits[20];
	unsigned n = 0;
	do {
		digits[n++] = "0123456789abcdef"[value % base];
		value /= base;
	} while (value);
	while (n)
		line_putc(line, digits[--n]);
}

void console_printf(const char *format, ...)
{
	struct line line;
	line.length = 0;
	va_list args;
	va_start(args, format);
	for (const char *p = format; *p; p++) {
		if (*p != '%') {
			line_putc(&line, *p);
			continue;
		}
		p++;
		unsigned longs = 0;
		while (*p == 'l') {
			longs++;
			p++;
		}
		switch (*p) {
		case 's':
			line_puts(&line, va_arg(args, const char *));
			break;
		case 'c':
			line_putc(&line, (char)va_arg(args, int));
			break;
		case 'd': {
			int64_t v = longs ? va_arg(args, int64_t) : va_arg(args, int);
			if (v < 0) {
				line_putc(&line, '-');
				line_number(&line, 0 - (uint64_t)v, 10);
			} else {
				line_number(&line, (uint64_t)v, 10);
			}
			break;
		}
		case 'u':
		case 'x': {
			uint64_t v = longs ? va_arg(args, uint64_t) : va_arg(args, unsigned);
			line_number(&line, v, *p == 'u' ? 10 : 16);
			break;
		}
		case '%':
			line_putc(&line, '%');
			break;
		default: /* unknown conversion or a trailing '%': stop formatting */
			p--;
			goto done;
		}
	}
done:
	va_end(args);

	spin_lock(&console_lock);
	for (unsigned i = 0; i < line.length; i++)
		console_putc(line.text[i]);
	spin_unlock(&console_lock);
}

uint64_t console_read_number(void)
{
	uint64_t value = 0;
	for (;;) {
		uint8_t c = console_getc();
		if (c < '0' || c > '9')
			return value;
		value = value * 10 + (uint64_t)(c - '0');
	}
}
