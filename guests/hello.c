/* hello: the smallest guest; proves the PVH entry, ring 3 and the serial port. */
#include "console.h"
#include "guest.h"
#include "power.h"

void guest_main(uint64_t start_info_paddr)
{
	(void)start_info_paddr;
	console_init();
	console_printf("hello from vmhive test guest\n");
	debug_exit(0);
}
