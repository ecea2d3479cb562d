/* The PVH start-of-day structure (Xen public header arch-x86/hvm/start_info.h). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HVM_START_MAGIC 0x336ec578

struct hvm_start_info {
	uint32_t magic;
	uint32_t version;
	uint32_t flags;
	uint32_t nr_modules;
	uint64_t modlist_paddr;
	uint64_t cmdline_paddr;  /* NUL-terminated, 0 if none */
	uint64_t rsdp_paddr;     /* 0 if not given */
	uint64_t memmap_paddr;   /* version >= 1 */
	uint32_t memmap_entries;
	uint32_t reserved;
};

struct hvm_memmap_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type; /* 1 RAM, 2 reserved, 3 ACPI, 4 NVS, ... (e820 types) */
	uint32_t reserved;
};

#define E820_RAM 1

/* The start_info if %ebx pointed at a valid one, else NULL. */
const struct hvm_start_info *pvh_check(uint64_t start_info_paddr);

/* The command line, "" if none. */
const char *pvh_cmdline(const struct hvm_start_info *info);

/* The memory map; *count = 0 if the loader gave none. */
const struct hvm_memmap_entry *pvh_memmap(const struct hvm_start_info *info, uint32_t *count);

/*
 * Finds "key=value" among the space-separated words of a command line.
 * Returns the value (not NUL-terminated; it ends at a space or NUL) and its
 * length, or NULL when the key is absent.
 */
const char *cmdline_value(const char *cmdline, const char *key, size_t *length);

/* True when [value, value+length) equals the NUL-terminated string s. */
bool word_equals(const char *value, size_t length, const char *s);

/* The decimal value of key=N on the command line; `fallback` when the key is
   missing or the value is not a number. */
uint64_t cmdline_number(const char *cmdline, const char *key, uint64_t fallback);
