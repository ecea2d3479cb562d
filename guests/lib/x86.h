/* Tiny x86 helpers for ring-3 code with IOPL=3 (and for the few ring-0 lines). */
#pragma once

#include <stdint.h>

static inline void outb(uint16_t port, uint8_t value)
{
	__asm__ volatile("outb %0, %1" : : "a"(value), "Nd"(port) : "memory");
}

static inline uint8_t inb(uint16_t port)
{
	uint8_t value;
	__asm__ volatile("inb %1, %0" : "=a"(value) : "Nd"(port) : "memory");
	return value;
}

static inline void outw(uint16_t port, uint16_t value)
{
	__asm__ volatile("outw %0, %1" : : "a"(value), "Nd"(port) : "memory");
}

static inline uint16_t inw(uint16_t port)
{
	uint16_t value;
	__asm__ volatile("inw %1, %0" : "=a"(value) : "Nd"(port) : "memory");
	return value;
}

static inline void outl(uint16_t port, uint32_t value)
{
	__asm__ volatile("outl %0, %1" : : "a"(value), "Nd"(port) : "memory");
}

static inline uint32_t inl(uint16_t port)
{
	uint32_t value;
	__asm__ volatile("inl %1, %0" : "=a"(value) : "Nd"(port) : "memory");
	return value;
}

static inline void cpu_relax(void)
{
	__asm__ volatile("pause" : : : "memory");
}

static inline void cpuid(uint32_t leaf, uint32_t subleaf, uint32_t regs[4])
{
	__asm__ volatile("cpuid"
			 : "=a"(regs[0]), "=b"(regs[1]), "=c"(regs[2]), "=d"(regs[3])
			 : "a"(leaf), "c"(subleaf));
}

/* Identity-mapped physical memory (all of the first 4 GiB is user-accessible). */
static inline void *phys_to_ptr(uint64_t address)
{
	return (void *)(uintptr_t)address;
}

static inline uint32_t mmio_read32(uint64_t address)
{
	return *(volatile uint32_t *)phys_to_ptr(address);
}

static inline void mmio_write32(uint64_t address, uint32_t value)
{
	*(volatile uint32_t *)phys_to_ptr(address) = value;
}

static inline uint8_t mmio_read8(uint64_t address)
{
	return *(volatile uint8_t *)phys_to_ptr(address);
}

static inline void mmio_write8(uint64_t address, uint8_t value)
{
	*(volatile uint8_t *)phys_to_ptr(address) = value;
}

static inline uint16_t mmio_read16(uint64_t address)
{
	return *(volatile uint16_t *)phys_to_ptr(address);
}

static inline void mmio_write16(uint64_t address, uint16_t value)
{
	*(volatile uint16_t *)phys_to_ptr(address) = value;
}

/* Spin forever without leaving ring 3 (ring 3 cannot HLT). */
static inline __attribute__((noreturn)) void spin_forever(void)
{
	for (;;)
		cpu_relax();
}

/* A 64-bit IDT gate (SDM vol. 3A §6.14.1); type_attributes 0x8e is a present
   DPL-0 interrupt gate, 0xee the same with DPL 3. */
struct idt_gate {
	uint16_t offset_low;
	uint16_t selector;
	uint8_t ist;
	uint8_t type_attributes;
	uint16_t offset_middle;
	uint32_t offset_high;
	uint32_t reserved;
};
