/* memsize: prints the PVH memory map, the RAM it adds up to, and the ACPI RSDP. */
#include "acpi.h"
#include "console.h"
#include "guest.h"
#include "power.h"

void guest_main(uint64_t start_info_paddr)
{
	console_init();
	const struct hvm_start_info *info = pvh_check(start_info_paddr);
	uint32_t count;
	const struct hvm_memmap_entry *map = pvh_memmap(info, &count);
	if (!map) {
		console_printf("memsize: no PVH memory map\n");
		debug_exit(1);
	}

	uint64_t ram = 0, top = 0;
	for (uint32_t i = 0; i < count; i++) {
		uint64_t end = map[i].addr + map[i].size;
		console_printf("e820: 0x%lx-0x%lx type %u\n", map[i].addr, end, map[i].type);
		if (map[i].type == E820_RAM) {
			ram += map[i].size;
			if (end > top)
				top = end;
		}
	}
	console_printf("memsize: ram %lu KiB, top 0x%lx\n", ram >> 10, top);

	uint64_t rsdp = acpi_find_rsdp(info);
	if (!rsdp) {
		console_printf("memsize: no acpi rsdp\n");
		debug_exit(1);
	}
	console_printf("memsize: acpi rsdp at 0x%lx, %u tables\n", rsdp, acpi_table_count(rsdp));
	debug_exit(0);
}
