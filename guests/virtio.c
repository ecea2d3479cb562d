/*
 * virtio: drives the virtio-rng device with the ring-3 virtio driver in lib/,
 * or, with bad=<case>, first writes one malformed ring of that kind, checks
 * that the device flags DEVICE_NEEDS_RESET instead of using it, resets it,
 * and then reads entropy again (the VMM survived and the device recovered).
 * repeat=N does the bad ring and the reset N times (a guest flooding the
 * VMM's log).
 */
#include "console.h"
#include "guest.h"
#include "power.h"
#include "pvh.h"
#include "virtio.h"
#include "x86.h"

#define ENTROPY_TYPE 4
#define REQUEST_BYTES 64

static struct virtq queue;
static uint8_t buffer[2 * REQUEST_BYTES] __attribute__((aligned(64)));

static uint64_t address_of(const void *p)
{
	return (uint64_t)(uintptr_t)p;
}

static void set_desc(uint16_t index, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	queue.desc[index].addr = addr;
	queue.desc[index].len = len;
	queue.desc[index].flags = flags;
	queue.desc[index].next = next;
}

static bool start_device(struct virtio_device *device, uint64_t descriptors)
{
	if (!virtio_negotiate(device)) {
		console_printf("virtio: feature negotiation refused\n");
		return false;
	}
	virtio_setup_queue(device, 0, &queue, descriptors, 0, 0);
	virtio_driver_ok(device);
	return true;
}

/* Two requests of 64 bytes; both must come back full, non-zero and distinct. */
static bool read_entropy(struct virtio_device *device)
{
	if (!start_device(device, 0))
		return false;
	for (int i = 0; i < 2; i++) {
		uint8_t *part = buffer + i * REQUEST_BYTES;
		for (int j = 0; j < REQUEST_BYTES; j++)
			part[j] = 0;
		set_desc(0, address_of(part), REQUEST_BYTES, VIRTQ_DESC_F_WRITE, 0);
		virtio_submit(device, 0, &queue, 0);
		uint32_t length = 0;
		if (!virtio_wait_used(&queue, &length)) {
			console_printf("virtio: no answer from the rng (status 0x%x)\n", virtio_status(device));
			return false;
		}
		if (length != REQUEST_BYTES) {
			console_printf("virtio: rng wrote %u bytes, asked %u\n", length, REQUEST_BYTES);
			return false;
		}
	}
	int zeros = 0, same = 0;
	for (int j = 0; j < REQUEST_BYTES; j++) {
		zeros += buffer[j] == 0;
		same += buffer[j] == buffer[REQUEST_BYTES + j];
	}
	if (zeros == REQUEST_BYTES || same == REQUEST_BYTES) {
		console_printf("virtio: rng bytes look wrong (%d zero, %d repeated)\n", zeros, same);
		return false;
	}
	console_printf("virtio: rng ok, 2 x %u bytes\n", REQUEST_BYTES);
	return true;
}

/* Writes the malformed ring named by `bad`; false for an unknown name. */
static bool write_bad_ring(struct virtio_device *device, const char *bad, size_t length)
{
	const uint64_t data = address_of(buffer);
	if (word_equals(bad, length, "ring-outside-ram")) {
		return start_device(device, 1ull << 40); /* flagged at DRIVER_OK */
	}
	if (!start_device(device, 0))
		return false;
	uint16_t head = 0;
	if (word_equals(bad, length, "loop")) {
		set_desc(0, data, 16, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
		set_desc(1, data, 16, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 0);
	} else if (word_equals(bad, length, "next-outside-table")) {
		set_desc(0, data, 16, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 0x7fff);
	} else if (word_equals(bad, length, "buffer-outside-ram")) {
		set_desc(0, 1ull << 40, 64, VIRTQ_DESC_F_WRITE, 0);
	} else if (word_equals(bad, length, "zero-length")) {
		set_desc(0, data, 0, VIRTQ_DESC_F_WRITE, 0);
	} else if (word_equals(bad, length, "huge-length")) {
		set_desc(0, data, 0xffffffffu, VIRTQ_DESC_F_WRITE, 0);
	} else if (word_equals(bad, length, "readable-after-writable")) {
		set_desc(0, data, 16, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
		set_desc(1, data + 16, 16, 0, 0);
	} else if (word_equals(bad, length, "indirect-not-negotiated")) {
		set_desc(0, data, 16, VIRTQ_DESC_F_INDIRECT, 0);
	} else if (word_equals(bad, length, "head-outside-table")) {
		head = 200;
	} else if (word_equals(bad, length, "avail-index-ahead")) {
		set_desc(0, data, 16, VIRTQ_DESC_F_WRITE, 0);
		queue.avail_idx = (uint16_t)(queue.avail_idx + 40);
	} else {
		console_printf("virtio: unknown kind of bad ring\n");
		return false;
	}
	virtio_submit(device, 0, &queue, head);
	return true;
}

static bool wait_for_needs_reset(struct virtio_device *device)
{
	for (unsigned spins = 0; spins < 200000000u; spins++) {
		if (virtio_status(device) & VIRTIO_STATUS_NEEDS_RESET)
			return true;
		cpu_relax();
	}
	return false;
}

void guest_main(uint64_t start_info_paddr)
{
	console_init();
	const char *cmdline = pvh_cmdline(pvh_check(start_info_paddr));
	struct virtio_device device;
	if (!virtio_find(ENTROPY_TYPE, &device)) {
		console_printf("virtio: no virtio-rng device\n");
		debug_exit(1);
	}
	console_printf("virtio: rng in slot %u\n", device.slot);

	size_t length = 0;
	const char *bad = cmdline ? cmdline_value(cmdline, "bad", &length) : 0;
	char name[40] = {0}; /* console_printf has no %.*s */
	for (size_t i = 0; bad && i < length && i + 1 < sizeof name; i++)
		name[i] = bad[i];
	const uint64_t repeat = cmdline ? cmdline_number(cmdline, "repeat", 1) : 1;
	for (uint64_t round = 0; bad && round < repeat; round++) {
		if (!write_bad_ring(&device, bad, length))
			debug_exit(2);
		if (!wait_for_needs_reset(&device)) {
			console_printf("virtio: bad=%s was not flagged (status 0x%x, used %u)\n", name,
				       virtio_status(&device), queue.used_idx);
			debug_exit(1);
		}
	}
	if (bad)
		console_printf("virtio: device needs reset after bad=%s (%u times)\n", name, (unsigned)repeat);
	debug_exit(read_entropy(&device) ? 0 : 1);
}
