/*
 * keyboard: reads the i8042's keyboard the way a driver does, by polling
 * (the guests run with interrupts off): asks the keyboard who it is, then
 * prints every key it is sent and, when Ctrl-Alt-Delete is pressed, says so
 * and resets the machine through the i8042, as a PC does on those keys.
 * The command byte is left as firmware leaves it (translation on), so the
 * keys arrive in scan code set 1.
 */
#include "console.h"
#include "guest.h"
#include "power.h"
#include "x86.h"

#define I8042_DATA 0x60
#define I8042_STATUS 0x64
#define OUTPUT_FULL 0x01
#define INPUT_FULL 0x02

#define SET1_CTRL 0x1d
#define SET1_ALT 0x38
#define SET1_DELETE 0x53 /* after 0xe0 */
#define SET1_BREAK 0x80
#define SET1_EXTENDED 0xe0

static uint8_t read_byte(void)
{
	while ((inb(I8042_STATUS) & OUTPUT_FULL) == 0)
		;
	return inb(I8042_DATA);
}

static void send_to_keyboard(uint8_t byte)
{
	while (inb(I8042_STATUS) & INPUT_FULL)
		;
	outb(I8042_DATA, byte);
}

void guest_main(uint64_t start_info_paddr)
{
	(void)start_info_paddr;
	console_init();
	send_to_keyboard(0xf2); /* identify: an MF2 keyboard answers fa ab 83, translated ab 41 */
	const uint8_t ack = read_byte();
	const uint8_t id0 = read_byte();
	const uint8_t id1 = read_byte();
	console_printf("keyboard: ack %x id %x%x\n", ack, id0, id1);
	console_printf("keyboard: ready\n");
	int ctrl = 0, alt = 0, extended = 0;
	for (;;) {
		const uint8_t byte = read_byte();
		console_printf("keyboard: scan code %x\n", byte);
		if (byte == SET1_EXTENDED) {
			extended = 1;
			continue;
		}
		const int released = (byte & SET1_BREAK) != 0;
		const uint8_t key = byte & (uint8_t)~SET1_BREAK;
		if (key == SET1_CTRL)
			ctrl = !released;
		else if (key == SET1_ALT)
			alt = !released;
		else if (extended && key == SET1_DELETE && !released && ctrl && alt) {
			console_printf("keyboard: ctrl-alt-del\n");
			outb(I8042_STATUS, 0xfe); /* pulse the reset line */
		}
		extended = 0;
	}
}
