/*
 * net: drives virtio-net with the ring-3 virtio driver in lib/.
 *   role=receiver count=N   posts receive buffers, prints "net: ready", then counts
 *                           frames of EtherType 0x88b5 carrying "vmhive-net <seq>" until
 *                           it has N distinct sequence numbers
 *   role=sender count=N     broadcasts N such frames, up to 8 in flight (between the
 *                           lines "bench: begin" and "bench: end", which bench/virtio times)
 *     start=input           first prints "net: send on input" and waits for a byte on the
 *                           console: a frame sent before the host's bridge forwards to and
 *                           from both taps is lost, and the sender never resends
 * Frames carry a zero virtio_net_hdr: the guest negotiates no offloads.
 */
#include "console.h"
#include "guest.h"
#include "power.h"
#include "pvh.h"
#include "virtio.h"
#include "x86.h"

#define NET_TYPE 1
#define RX 0
#define TX 1
#define HEADER 12
#define BUFFER 2048
#define ETHERTYPE 0x88b5
#define MAX_COUNT 4096 /* distinct frames a receiver tracks */

static struct virtq rx_queue, tx_queue;
static uint8_t rx_buffers[VIRTIO_QUEUE_SIZE][BUFFER] __attribute__((aligned(4096)));
static uint8_t tx_buffers[VIRTIO_QUEUE_SIZE][BUFFER] __attribute__((aligned(64)));
static uint8_t seen[MAX_COUNT];
static uint8_t mac[6];

static uint64_t address_of(const void *p)
{
	return (uint64_t)(uintptr_t)p;
}

static void post_rx(struct virtio_device *device, uint16_t index)
{
	rx_queue.desc[index] = (struct virtq_desc){address_of(rx_buffers[index]), BUFFER, VIRTQ_DESC_F_WRITE, 0};
	virtio_submit(device, RX, &rx_queue, index);
}

/* The frame's payload: "vmhive-net " and the sequence number in decimal. */
static unsigned build_frame(unsigned seq, uint8_t *frame)
{
	for (int i = 0; i < HEADER; i++)
		frame[i] = 0;
	uint8_t *ethernet = frame + HEADER;
	for (int i = 0; i < 6; i++) {
		ethernet[i] = 0xff;
		ethernet[6 + i] = mac[i];
	}
	ethernet[12] = ETHERTYPE >> 8;
	ethernet[13] = ETHERTYPE & 0xff;
	const char *tag = "vmhive-net ";
	unsigned length = 14;
	for (const char *p = tag; *p; p++)
		ethernet[length++] = (uint8_t)*p;
	char digits[12];
	int count = 0;
	do {
		digits[count++] = (char)('0' + seq % 10);
		seq /= 10;
	} while (seq);
	while (count)
		ethernet[length++] = (uint8_t)digits[--count];
	while (length < 60)
		ethernet[length++] = 0;
	return HEADER + length;
}

/* The sequence number of a frame of ours, or -1. */
static int parse_frame(const uint8_t *frame, uint32_t length)
{
	const uint8_t *ethernet = frame + HEADER;
	if (length < HEADER + 14 + 12 || ethernet[12] != (ETHERTYPE >> 8) || ethernet[13] != (ETHERTYPE & 0xff))
		return -1;
	const char *tag = "vmhive-net ";
	const uint8_t *payload = ethernet + 14;
	for (int i = 0; tag[i]; i++)
		if (payload[i] != (uint8_t)tag[i])
			return -1;
	unsigned value = 0;
	for (const uint8_t *p = payload + 11; *p >= '0' && *p <= '9'; p++)
		value = value * 10 + (unsigned)(*p - '0');
	return (int)value;
}

void guest_main(uint64_t start_info_paddr)
{
	console_init();
	const char *cmdline = pvh_cmdline(pvh_check(start_info_paddr));
	struct virtio_device device;
	if (!virtio_find(NET_TYPE, &device)) {
		console_printf("net: no virtio-net device\n");
		debug_exit(1);
	}
	if (!virtio_negotiate(&device)) {
		console_printf("net: feature negotiation refused\n");
		debug_exit(1);
	}
	virtio_setup_queue(&device, RX, &rx_queue, 0, 0, 0);
	virtio_setup_queue(&device, TX, &tx_queue, 0, 0, 0);
	virtio_driver_ok(&device);
	for (int i = 0; i < 6; i++)
		mac[i] = mmio_read8(device.device_config + i);

	size_t role_length = 0;
	const char *role = cmdline ? cmdline_value(cmdline, "role", &role_length) : 0;
	unsigned count = (unsigned)cmdline_number(cmdline, "count", 10);
	if (count == 0)
		count = 10;
	if (role && word_equals(role, role_length, "receiver") && count > MAX_COUNT)
		count = MAX_COUNT;

	if (role && word_equals(role, role_length, "receiver")) {
		for (uint16_t i = 0; i < VIRTIO_QUEUE_SIZE; i++)
			post_rx(&device, i);
		console_printf("net: ready, mac %x:%x:%x:%x:%x:%x\n", mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
		unsigned distinct = 0;
		while (distinct < count) {
			uint32_t length = 0;
			uint16_t slot = rx_queue.last_used % VIRTIO_QUEUE_SIZE;
			/* A minute without a frame: the sender may start well after "ready". */
			for (int waits = 1; !virtio_wait_used(&rx_queue, &length); waits++) {
				if (waits == 3) {
					console_printf("net: timed out with %u of %u frames\n", distinct, count);
					debug_exit(1);
				}
			}
			uint16_t head = (uint16_t)rx_queue.used_ring[slot].id;
			int seq = parse_frame(rx_buffers[head], length);
			if (seq >= 0 && (unsigned)seq < count && !seen[seq]) {
				seen[seq] = 1;
				distinct++;
			}
			post_rx(&device, head);
		}
		console_printf("net: received %u frames\n", count);
		debug_exit(0);
	}
	if (role && word_equals(role, role_length, "sender")) {
		size_t start_length = 0;
		const char *start = cmdline_value(cmdline, "start", &start_length);
		if (start && word_equals(start, start_length, "input")) {
			console_printf("net: send on input\n");
			(void)console_getc();
		}
		/* Up to a queue's worth of frames in flight, each in its own buffer. */
		console_printf("bench: begin\n");
		unsigned in_flight = 0, next_slot = 0;
		for (unsigned seq = 0; seq < count || in_flight > 0;) {
			if (seq < count && in_flight < VIRTIO_QUEUE_SIZE) {
				uint16_t slot = (uint16_t)(next_slot++ % VIRTIO_QUEUE_SIZE);
				unsigned length = build_frame(seq, tx_buffers[slot]);
				tx_queue.desc[slot] = (struct virtq_desc){address_of(tx_buffers[slot]), length, 0, 0};
				virtio_submit(&device, TX, &tx_queue, slot);
				seq++;
				in_flight++;
				continue;
			}
			if (!virtio_wait_used(&tx_queue, 0)) {
				console_printf("net: frames were not sent (%u in flight)\n", in_flight);
				debug_exit(1);
			}
			in_flight--;
		}
		console_printf("bench: end\n");
		console_printf("net: sent %u frames\n", count);
		debug_exit(0);
	}
	console_printf("net: give role=receiver or role=sender\n");
	debug_exit(2);
}
