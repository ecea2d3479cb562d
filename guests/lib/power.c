#include "power.h"

#include "x86.h"

/* If the VMM ignores the write, there is nothing left to do but spin. */

void debug_exit(uint8_t code)
{
	outb(0xf4, code);
	spin_forever();
}

void acpi_poweroff(void)
{
	outb(0x600, (5 << 2) | 0x20); /* SLP_TYP = 5 (S5), SLP_EN */
	spin_forever();
}

void i8042_reset(void)
{
	outb(0x64, 0xfe);
	spin_forever();
}
