/* What every test guest provides and gets. */
#pragma once

#include <stdint.h>

#include "pvh.h"

/*
 * The guest's body, run in ring 3 (IOPL=3, interrupts off) on the boot CPU
 * with a 16 KiB stack. start_info_paddr is what %ebx held at the PVH entry.
 */
__attribute__((noreturn)) void guest_main(uint64_t start_info_paddr);

/*
 * Optional hook run in 64-bit ring 0 before the drop to ring 3 (lib/boot.S
 * has an empty default). Every instruction here may be emulated: keep it tiny.
 */
void ring0_early(uint64_t start_info_paddr);
