#include "acpi.h"

#include "string_util.h"
#include "x86.h"

static bool checksum_ok(const void *data, uint32_t length)
{
	const uint8_t *p = data;
	uint8_t sum = 0;
	for (uint32_t i = 0; i < length; i++)
		sum += p[i];
	return sum == 0;
}

static bool is_rsdp(uint64_t address)
{
	const struct acpi_rsdp *rsdp = phys_to_ptr(address);
	return memcmp(rsdp->signature, "RSD PTR ", 8) == 0 && checksum_ok(rsdp, 20);
}

uint64_t acpi_find_rsdp(const struct hvm_start_info *info)
{
	if (info && info->rsdp_paddr && is_rsdp(info->rsdp_paddr))
		return info->rsdp_paddr;
	/* ACPI 6.5 §5.2.5.1: on a 16-byte boundary in the BIOS area. */
	for (uint64_t address = 0xe0000; address < 0x100000; address += 16)
		if (is_rsdp(address))
			return address;
	return 0;
}

/* Entries of the root table: 8-byte XSDT entries if there is an XSDT, else 4-byte RSDT ones. */
static const struct acpi_header *root_table(uint64_t rsdp_address, uint32_t *entry_size)
{
	const struct acpi_rsdp *rsdp = phys_to_ptr(rsdp_address);
	if (rsdp->revision >= 2 && rsdp->xsdt_address) {
		*entry_size = 8;
		return phys_to_ptr(rsdp->xsdt_address);
	}
	*entry_size = 4;
	return phys_to_ptr(rsdp->rsdt_address);
}

uint32_t acpi_table_count(uint64_t rsdp)
{
	uint32_t entry_size;
	const struct acpi_header *root = root_table(rsdp, &entry_size);
	if (root->length < sizeof(*root))
		return 0;
	return (uint32_t)(root->length - sizeof(*root)) / entry_size;
}

const struct acpi_header *acpi_find_table(uint64_t rsdp, const char *signature)
{
	uint32_t entry_size;
	const struct acpi_header *root = root_table(rsdp, &entry_size);
	const uint8_t *entries = (const uint8_t *)(root + 1);
	uint32_t count = acpi_table_count(rsdp);
	for (uint32_t i = 0; i < count; i++) {
		uint64_t address = 0;
		memcpy(&address, entries + i * entry_size, entry_size); /* may be unaligned */
		const struct acpi_header *table = phys_to_ptr(address);
		if (address && memcmp(table->signature, signature, 4) == 0)
			return table;
	}
	return NULL;
}

enum {
	MADT_LOCAL_APIC = 0,         /* ACPI 6.5 §5.2.12.2 */
	MADT_LAPIC_ADDRESS_OVERRIDE = 5,
	MADT_LOCAL_X2APIC = 9,       /* §5.2.12.12 */
	MADT_ENABLED = 1,
};

bool acpi_madt_cpus(uint64_t rsdp, struct madt_cpus *cpus)
{
	const struct acpi_header *madt = acpi_find_table(rsdp, "APIC");
	if (!madt)
		return false;
	const uint8_t *base = (const uint8_t *)madt;
	uint32_t lapic32;
	memcpy(&lapic32, base + sizeof(*madt), 4);
	cpus->lapic_address = lapic32;
	cpus->count = 0;
	/* Header, local APIC address (4), flags (4), then the entries. */
	for (uint32_t offset = sizeof(*madt) + 8; offset + 2 <= madt->length;) {
		uint8_t type = base[offset], length = base[offset + 1];
		if (length < 2 || offset + length > madt->length)
			break;
		uint32_t apic_id = UINT32_MAX, flags = 0;
		if (type == MADT_LOCAL_APIC && length >= 8) {
			apic_id = base[offset + 3];
			memcpy(&flags, base + offset + 4, 4);
		} else if (type == MADT_LOCAL_X2APIC && length >= 16) {
			memcpy(&apic_id, base + offset + 4, 4);
			memcpy(&flags, base + offset + 8, 4);
		} else if (type == MADT_LAPIC_ADDRESS_OVERRIDE && length >= 12) {
			memcpy(&cpus->lapic_address, base + offset + 4, 8);
		}
		if (apic_id != UINT32_MAX && (flags & MADT_ENABLED)) {
			if (cpus->count < sizeof(cpus->apic_ids) / sizeof(cpus->apic_ids[0]))
				cpus->apic_ids[cpus->count] = apic_id;
			cpus->count++;
		}
		offset += length;
	}
	return true;
}
