#include "pci.h"

#include "x86.h"

static void select_register(uint8_t device, uint8_t offset)
{
	outl(0xcf8, 0x80000000u | ((uint32_t)device << 11) | (offset & 0xfc));
}

uint32_t pci_read32(uint8_t device, uint8_t offset)
{
	select_register(device, offset);
	return inl(0xcfc);
}

uint16_t pci_read16(uint8_t device, uint8_t offset)
{
	select_register(device, offset);
	return inw((uint16_t)(0xcfc + (offset & 2)));
}

uint8_t pci_read8(uint8_t device, uint8_t offset)
{
	select_register(device, offset);
	return inb((uint16_t)(0xcfc + (offset & 3)));
}

void pci_write32(uint8_t device, uint8_t offset, uint32_t value)
{
	select_register(device, offset);
	outl(0xcfc, value);
}

void pci_write16(uint8_t device, uint8_t offset, uint16_t value)
{
	select_register(device, offset);
	outw((uint16_t)(0xcfc + (offset & 2)), value);
}

bool pci_find(uint16_t vendor, uint16_t device_id, uint8_t *slot)
{
	for (uint8_t device = 0; device < 32; device++) {
		uint32_t id = pci_read32(device, 0);
		if ((id & 0xffff) == vendor && (id >> 16) == device_id) {
			*slot = device;
			return true;
		}
	}
	return false;
}

uint64_t pci_bar_address(uint8_t device, unsigned bar)
{
	uint8_t offset = (uint8_t)(0x10 + 4 * bar);
	uint32_t low = pci_read32(device, offset);
	uint64_t address = low & ~0xfu;
	if ((low & 0x6) == 0x4)
		address |= (uint64_t)pci_read32(device, (uint8_t)(offset + 4)) << 32;
	return address;
}

void pci_enable_memory(uint8_t device)
{
	pci_write16(device, 0x04, (uint16_t)(pci_read16(device, 0x04) | 0x6));
}
