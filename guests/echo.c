/* echo: sends back every byte the serial port receives until 'q' or Ctrl-D. */
#include "console.h"
#include "guest.h"
#include "power.h"

void guest_main(uint64_t start_info_paddr)
{
	(void)start_info_paddr;
	console_init();
	console_printf("echo: ready\n");
	for (;;) {
		uint8_t c = console_getc();
		if (c == 'q' || c == 0x04)
			break;
		console_putc((char)c);
	}
	console_printf("\necho: bye\n");
	debug_exit(0);
}
