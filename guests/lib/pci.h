/* PCI configuration mechanism #1 (ports 0xCF8/0xCFC) on bus 0, from ring 3. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

uint32_t pci_read32(uint8_t device, uint8_t offset);
uint16_t pci_read16(uint8_t device, uint8_t offset);
uint8_t pci_read8(uint8_t device, uint8_t offset);
void pci_write32(uint8_t device, uint8_t offset, uint32_t value);
void pci_write16(uint8_t device, uint8_t offset, uint16_t value);

/* The first device on bus 0 with this vendor and device ID; false if none. */
bool pci_find(uint16_t vendor, uint16_t device_id, uint8_t *slot);

/* Memory BAR `bar` (32- or 64-bit), flag bits removed. */
uint64_t pci_bar_address(uint8_t device, unsigned bar);

/* Turns on memory decoding and bus mastering. */
void pci_enable_memory(uint8_t device);
