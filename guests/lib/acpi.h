/* Just enough ACPI (6.5 §5.2) to count tables and find the CPUs in the MADT. */
#pragma once

#include <stdint.h>

#include "pvh.h"

struct acpi_rsdp {
	char signature[8]; /* "RSD PTR " */
	uint8_t checksum;
	char oem_id[6];
	uint8_t revision; /* 0: ACPI 1.0 (RSDT only), 2: XSDT */
	uint32_t rsdt_address;
	uint32_t length;
	uint64_t xsdt_address;
	uint8_t extended_checksum;
	uint8_t reserved[3];
} __attribute__((packed));

struct acpi_header {
	char signature[4];
	uint32_t length;
	uint8_t revision;
	uint8_t checksum;
	char oem_id[6];
	char oem_table_id[8];
	uint32_t oem_revision;
	uint32_t creator_id;
	uint32_t creator_revision;
} __attribute__((packed));

/* The RSDP from start_info, else found by scanning 0xe0000-0xfffff; 0 if none. */
uint64_t acpi_find_rsdp(const struct hvm_start_info *info);

/* The number of tables the XSDT (or, for ACPI 1.0, the RSDT) lists. */
uint32_t acpi_table_count(uint64_t rsdp);

/* The first table with this 4-character signature, or NULL. */
const struct acpi_header *acpi_find_table(uint64_t rsdp, const char *signature);

struct madt_cpus {
	uint64_t lapic_address;
	uint32_t count;               /* enabled local APICs, all of them */
	uint32_t apic_ids[256];       /* the first 256 of them */
};

/* Fills *cpus from the MADT ("APIC"); false if there is no MADT. */
bool acpi_madt_cpus(uint64_t rsdp, struct madt_cpus *cpus);
