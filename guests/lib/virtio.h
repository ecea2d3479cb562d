/*
 * A small virtio 1.x driver over PCI for ring-3 test guests: finds a device's
 * capabilities, negotiates VERSION_1, sets up split virtqueues in guest
 * memory and polls their used rings (no interrupts: ring 3 runs with them off).
 * It can also write malformed rings on purpose (see the virtio guest).
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#define VIRTIO_QUEUE_SIZE 8

#define VIRTQ_DESC_F_NEXT 1
#define VIRTQ_DESC_F_WRITE 2
#define VIRTQ_DESC_F_INDIRECT 4

#define VIRTIO_STATUS_ACKNOWLEDGE 1
#define VIRTIO_STATUS_DRIVER 2
#define VIRTIO_STATUS_DRIVER_OK 4
#define VIRTIO_STATUS_FEATURES_OK 8
#define VIRTIO_STATUS_NEEDS_RESET 64

struct virtq_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

/* One queue's three areas, page-aligned in the guest image. */
struct virtq {
	struct virtq_desc desc[VIRTIO_QUEUE_SIZE];
	uint16_t avail_flags;
	uint16_t avail_idx;
	uint16_t avail_ring[VIRTIO_QUEUE_SIZE];
	uint16_t used_event;
	uint8_t pad[4096 - 16 * VIRTIO_QUEUE_SIZE - 6 - 2 * VIRTIO_QUEUE_SIZE];
	uint16_t used_flags;
	uint16_t used_idx;
	struct {
		uint32_t id;
		uint32_t len;
	} used_ring[VIRTIO_QUEUE_SIZE];
	uint16_t avail_event;
	uint16_t last_used; /* driver's own: the used index it has seen */
	uint64_t doorbell;  /* driver's own: where to notify this queue */
} __attribute__((aligned(4096)));

struct virtio_device {
	uint8_t slot;
	uint64_t common;      /* virtio_pci_common_cfg */
	uint64_t notify;      /* notification area */
	uint32_t notify_multiplier;
	uint64_t isr;
	uint64_t device_config;
};

/* Finds the modern virtio device of `type` (1 net, 2 block, 4 entropy). */
bool virtio_find(uint16_t type, struct virtio_device *device);

/* Reset, ACKNOWLEDGE, DRIVER, VERSION_1, FEATURES_OK. False if refused. */
bool virtio_negotiate(struct virtio_device *device);

/*
 * Sets up queue `index` on `queue` (areas at the given addresses; pass 0 to
 * use `queue`'s own) and returns the queue size the device allows.
 */
uint16_t virtio_setup_queue(struct virtio_device *device, uint16_t index, struct virtq *queue,
			    uint64_t descriptors, uint64_t available, uint64_t used);

void virtio_driver_ok(struct virtio_device *device);

/*
 * MSI-X, for a guest that sleeps until its device has something: table
 * entry 0 sends `vector` to the local APIC of ID 0, and MSI-X is enabled.
 * False if the device has no MSI-X capability.
 */
bool virtio_enable_msix(struct virtio_device *device, uint8_t vector);
/* Queue `index` interrupts through MSI-X table entry `entry` (0xffff: never); false if the device refused it. */
bool virtio_queue_vector(struct virtio_device *device, uint16_t index, uint16_t entry);
uint8_t virtio_status(struct virtio_device *device);
void virtio_reset(struct virtio_device *device);

/* Makes descriptor `head` available and rings queue `index`'s doorbell. */
void virtio_submit(struct virtio_device *device, uint16_t index, struct virtq *queue, uint16_t head);

/*
 * Waits for the next used entry; false if none came in VIRTIO_WAIT_SECONDS.
 * The limit is there to catch a request the device lost, so it is long: on a
 * busy host the vCPU or the device thread can be without a CPU for seconds,
 * and a guest that gave up then would report a loss that never happened.
 */
#define VIRTIO_WAIT_SECONDS 20
bool virtio_wait_used(struct virtq *queue, uint32_t *length);
