/*
 * smp: counts the CPUs in the ACPI MADT, starts every other one with
 * INIT-SIPI-SIPI (lib/ap_boot.S brings each to ring 3) and waits, at most
 * about ten seconds, until all of them have checked in.
 */
#include "acpi.h"
#include "console.h"
#include "guest.h"
#include "layout.h"
#include "power.h"
#include "rtc.h"
#include "string_util.h"
#include "x86.h"

enum {
	LAPIC_ID = 0x020,       /* bits 31:24 (xAPIC) */
	LAPIC_SVR = 0x0f0,      /* spurious vector; bit 8 = APIC software enable */
	LAPIC_ICR_LOW = 0x300,
	LAPIC_ICR_HIGH = 0x310, /* destination in bits 31:24 */
	ICR_PENDING = 1 << 12,
	ICR_INIT = 0x4500,      /* INIT, assert, edge */
	ICR_STARTUP = 0x4600,   /* start-up IPI; the low byte is the vector */
	TIMEOUT_SECONDS = 10,
};

extern const char ap_trampoline[], ap_trampoline_end[];
void ap_main(uint32_t slot);

static struct madt_cpus cpus;
static uint64_t lapic_base;
static volatile uint32_t aps_checked_in;

static uint32_t lapic_id(void)
{
	return mmio_read32(lapic_base + LAPIC_ID) >> 24;
}

static void delay(uint32_t spins)
{
	for (uint32_t i = 0; i < spins; i++)
		cpu_relax();
}

static void send_ipi(uint32_t apic_id, uint32_t command)
{
	mmio_write32(lapic_base + LAPIC_ICR_HIGH, apic_id << 24);
	mmio_write32(lapic_base + LAPIC_ICR_LOW, command);
	for (uint32_t i = 0; i < 1000000 && (mmio_read32(lapic_base + LAPIC_ICR_LOW) & ICR_PENDING); i++)
		cpu_relax();
}

/* Intel SDM vol. 3 §9.4.4.1: INIT, 10 ms, SIPI, 200 us, SIPI. The delays are
   spin loops: virtual CPUs take the IPIs at once, and a late second SIPI is ignored. */
static void start_cpu(uint32_t apic_id)
{
	uint32_t vector = AP_TRAMPOLINE_ADDR >> 12;
	send_ipi(apic_id, ICR_INIT);
	delay(100000);
	send_ipi(apic_id, ICR_STARTUP | vector);
	delay(10000);
	send_ipi(apic_id, ICR_STARTUP | vector);
}

void ap_main(uint32_t slot)
{
	(void)slot;
	console_printf("smp: cpu %u checked in\n", lapic_id());
	__atomic_fetch_add(&aps_checked_in, 1, __ATOMIC_SEQ_CST);
	spin_forever();
}

/* Waits until `expected` APs checked in or about TIMEOUT_SECONDS passed. */
static bool wait_for_aps(uint32_t expected)
{
	bool have_rtc = rtc_present();
	uint8_t last = have_rtc ? rtc_seconds_raw() : 0;
	uint32_t seconds = 0;
	for (uint64_t polls = 0; aps_checked_in < expected; polls++) {
		if (have_rtc) {
			uint8_t now = rtc_seconds_raw();
			if (now != last) {
				last = now;
				/* The first change may come at once: one more for a full 10 s. */
				if (++seconds > TIMEOUT_SECONDS)
					return false;
			}
		} else if (polls > (1ull << 30)) {
			return false;
		}
		cpu_relax();
	}
	return true;
}

void guest_main(uint64_t start_info_paddr)
{
	console_init();
	uint64_t rsdp = acpi_find_rsdp(pvh_check(start_info_paddr));
	if (!rsdp || !acpi_madt_cpus(rsdp, &cpus) || cpus.count == 0) {
		console_printf("smp: no CPUs in an ACPI MADT\n");
		debug_exit(1);
	}
	console_printf("smp: %u cpus in MADT\n", cpus.count);

	lapic_base = cpus.lapic_address ? cpus.lapic_address : 0xfee00000;
	uint32_t bsp = lapic_id();
	uint32_t listed = cpus.count < 256 ? cpus.count : 256;
	uint32_t expected = 0;
	if (cpus.count > 1) {
		memcpy(phys_to_ptr(AP_TRAMPOLINE_ADDR), ap_trampoline,
		       (size_t)(ap_trampoline_end - ap_trampoline));
		mmio_write32(lapic_base + LAPIC_SVR, mmio_read32(lapic_base + LAPIC_SVR) | 0x1ff);
		for (uint32_t i = 0; i < listed && expected < MAX_CPUS - 1; i++) {
			if (cpus.apic_ids[i] == bsp || cpus.apic_ids[i] > 0xff)
				continue;
			start_cpu(cpus.apic_ids[i]);
			expected++;
		}
	}

	if (wait_for_aps(cpus.count - 1)) {
		console_printf("smp: all %u cpus online\n", cpus.count);
		debug_exit(0);
	}
	console_printf("smp: timeout, %u of %u online\n", aps_checked_in + 1, cpus.count);
	debug_exit(1);
}
