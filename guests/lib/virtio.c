#include "virtio.h"

#include "pci.h"
#include "rtc.h"
#include "x86.h"

/* virtio_pci_common_cfg offsets (virtio 1.2 section 4.1.4.3). */
#define COMMON_DEVICE_FEATURE_SELECT 0x00
#define COMMON_DEVICE_FEATURE 0x04
#define COMMON_DRIVER_FEATURE_SELECT 0x08
#define COMMON_DRIVER_FEATURE 0x0c
#define COMMON_STATUS 0x14
#define COMMON_QUEUE_SELECT 0x16
#define COMMON_QUEUE_SIZE 0x18
#define COMMON_QUEUE_MSIX_VECTOR 0x1a
#define COMMON_QUEUE_ENABLE 0x1c
#define COMMON_QUEUE_NOTIFY_OFF 0x1e
#define COMMON_QUEUE_DESC 0x20
#define COMMON_QUEUE_DRIVER 0x28
#define COMMON_QUEUE_DEVICE 0x30

static void write64(uint64_t address, uint64_t value)
{
	mmio_write32(address, (uint32_t)value);
	mmio_write32(address + 4, (uint32_t)(value >> 32));
}

bool virtio_find(uint16_t type, struct virtio_device *device)
{
	if (!pci_find(0x1af4, (uint16_t)(0x1040 + type), &device->slot))
		return false;
	pci_enable_memory(device->slot);
	device->common = device->notify = device->isr = device->device_config = 0;
	if (!(pci_read16(device->slot, 0x06) & 0x10))
		return false;
	for (uint8_t at = pci_read8(device->slot, 0x34); at != 0; at = pci_read8(device->slot, (uint8_t)(at + 1))) {
		if (pci_read8(device->slot, at) != 0x09)
			continue;
		uint8_t type_of_cap = pci_read8(device->slot, (uint8_t)(at + 3));
		uint8_t bar = pci_read8(device->slot, (uint8_t)(at + 4));
		uint64_t address = pci_bar_address(device->slot, bar) + pci_read32(device->slot, (uint8_t)(at + 8));
		switch (type_of_cap) {
		case 1: device->common = address; break;
		case 2:
			device->notify = address;
			device->notify_multiplier = pci_read32(device->slot, (uint8_t)(at + 16));
			break;
		case 3: device->isr = address; break;
		case 4: device->device_config = address; break;
		}
	}
	return device->common && device->notify && device->isr;
}

uint8_t virtio_status(struct virtio_device *device)
{
	return mmio_read8(device->common + COMMON_STATUS);
}

void virtio_reset(struct virtio_device *device)
{
	mmio_write8(device->common + COMMON_STATUS, 0);
	while (virtio_status(device) != 0)
		cpu_relax();
}

bool virtio_negotiate(struct virtio_device *device)
{
	virtio_reset(device);
	mmio_write8(device->common + COMMON_STATUS, VIRTIO_STATUS_ACKNOWLEDGE);
	mmio_write8(device->common + COMMON_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	mmio_write32(device->common + COMMON_DEVICE_FEATURE_SELECT, 1);
	if (!(mmio_read32(device->common + COMMON_DEVICE_FEATURE) & 1))
		return false; /* no VERSION_1 */
	mmio_write32(device->common + COMMON_DRIVER_FEATURE_SELECT, 0);
	mmio_write32(device->common + COMMON_DRIVER_FEATURE, 0);
	mmio_write32(device->common + COMMON_DRIVER_FEATURE_SELECT, 1);
	mmio_write32(device->common + COMMON_DRIVER_FEATURE, 1);
	mmio_write8(device->common + COMMON_STATUS,
		    VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK);
	return (virtio_status(device) & VIRTIO_STATUS_FEATURES_OK) != 0;
}

uint16_t virtio_setup_queue(struct virtio_device *device, uint16_t index, struct virtq *queue,
			    uint64_t descriptors, uint64_t available, uint64_t used)
{
	uint8_t *bytes = (uint8_t *)queue;
	for (unsigned i = 0; i < sizeof *queue; i++)
		bytes[i] = 0;
	mmio_write16(device->common + COMMON_QUEUE_SELECT, index);
	uint16_t size = mmio_read16(device->common + COMMON_QUEUE_SIZE);
	if (size > VIRTIO_QUEUE_SIZE)
		size = VIRTIO_QUEUE_SIZE;
	mmio_write16(device->common + COMMON_QUEUE_SIZE, size);
	mmio_write16(device->common + COMMON_QUEUE_MSIX_VECTOR, 0xffff); /* polled */
	write64(device->common + COMMON_QUEUE_DESC, descriptors ? descriptors : (uint64_t)(uintptr_t)queue->desc);
	write64(device->common + COMMON_QUEUE_DRIVER, available ? available : (uint64_t)(uintptr_t)&queue->avail_flags);
	write64(device->common + COMMON_QUEUE_DEVICE, used ? used : (uint64_t)(uintptr_t)&queue->used_flags);
	mmio_write16(device->common + COMMON_QUEUE_ENABLE, 1);
	/* Read once, as Linux does: a notification is then a single write. */
	queue->doorbell = device->notify +
			  (uint64_t)mmio_read16(device->common + COMMON_QUEUE_NOTIFY_OFF) * device->notify_multiplier;
	return size;
}

bool virtio_enable_msix(struct virtio_device *device, uint8_t vector)
{
	for (uint8_t at = pci_read8(device->slot, 0x34); at != 0; at = pci_read8(device->slot, (uint8_t)(at + 1))) {
		if (pci_read8(device->slot, at) != 0x11)
			continue;
		const uint32_t table = pci_read32(device->slot, (uint8_t)(at + 4));
		const uint64_t entry = pci_bar_address(device->slot, table & 7) + (table & ~7u);
		mmio_write32(entry, 0xfee00000); /* message address: the local APIC of ID 0 */
		mmio_write32(entry + 4, 0);
		mmio_write32(entry + 8, vector); /* message data: fixed delivery, edge */
		mmio_write32(entry + 12, 0);     /* unmasked */
		const uint16_t control = pci_read16(device->slot, (uint8_t)(at + 2));
		pci_write16(device->slot, (uint8_t)(at + 2), (uint16_t)((control | 0x8000) & ~0x4000)); /* on, unmasked */
		return true;
	}
	return false;
}

bool virtio_queue_vector(struct virtio_device *device, uint16_t index, uint16_t entry)
{
	mmio_write16(device->common + COMMON_QUEUE_SELECT, index);
	mmio_write16(device->common + COMMON_QUEUE_MSIX_VECTOR, entry);
	return mmio_read16(device->common + COMMON_QUEUE_MSIX_VECTOR) == entry;
}

void virtio_driver_ok(struct virtio_device *device)
{
	mmio_write8(device->common + COMMON_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
							     VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK);
}

void virtio_submit(struct virtio_device *device, uint16_t index, struct virtq *queue, uint16_t head)
{
	queue->avail_ring[queue->avail_idx % VIRTIO_QUEUE_SIZE] = head;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	__atomic_store_n(&queue->avail_idx, (uint16_t)(queue->avail_idx + 1), __ATOMIC_RELEASE);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	(void)device;
	/* VIRTQ_USED_F_NO_NOTIFY: the device is looking at the ring anyway. */
	if (!(__atomic_load_n(&queue->used_flags, __ATOMIC_ACQUIRE) & 1))
		mmio_write16(queue->doorbell, index);
}

bool virtio_wait_used(struct virtq *queue, uint32_t *length)
{
	/* The clock is read only once the wait is long (each read is several
	   port exits, far more than a request takes), then now and then; the
	   seconds are added up between reads, so the minute wrapping is no matter. */
	unsigned waited = 0, last = 0;
	for (unsigned spins = 1; __atomic_load_n(&queue->used_idx, __ATOMIC_ACQUIRE) == queue->last_used; spins++) {
		if (spins % 100000 == 0) {
			const unsigned now = rtc_seconds();
			if (spins > 100000)
				waited += (now + 60 - last) % 60;
			last = now;
			/* Looked at once more: this vCPU may have been off the host's CPU
			   for a while, and the answer may have come meanwhile. */
			if (waited >= VIRTIO_WAIT_SECONDS &&
			    __atomic_load_n(&queue->used_idx, __ATOMIC_ACQUIRE) == queue->last_used)
				return false;
		}
		cpu_relax();
	}
	if (length)
		*length = queue->used_ring[queue->last_used % VIRTIO_QUEUE_SIZE].len;
	queue->last_used++;
	return true;
}
