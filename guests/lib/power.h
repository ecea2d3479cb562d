/* Ways to end the VM (docs/guest-interface.md, "Exit status of vmhive run"). */
#pragma once

#include <stdint.h>

/* 8-bit write to the debug-exit port 0xf4: vmhive exits 0 for 0, else 5. */
__attribute__((noreturn)) void debug_exit(uint8_t code);

/* ACPI S5 through the sleep control register at 0x600: vmhive exits 0. */
__attribute__((noreturn)) void acpi_poweroff(void);

/* i8042 pulse-reset command: vmhive exits 3. */
__attribute__((noreturn)) void i8042_reset(void);
