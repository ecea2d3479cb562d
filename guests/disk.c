/*
 * disk: drives virtio-blk with the ring-3 virtio driver in lib/.
 *   mode=write seed=N     writes a pattern (from N) over the first 256 sectors in 4 KiB
 *                         requests, flushes, reads it all back and compares; with hold=1
 *                         it stops after the flush and spins (a test then kills the VMM)
 *   mode=verify seed=N    only reads back and compares (data kept across VM runs)
 *   mode=readonly         checks that a write is refused with VIRTIO_BLK_S_IOERR
 *   mode=serve            answers console commands until told to quit (snapshot tests):
 *                         w<seed>x writes and flushes the pattern of <seed>, v<seed>x reads
 *                         it back and compares, p answers "disk: alive", q exits
 *   mode=bench kind=seqread|seqwrite|randread size=KiB count=N
 *                         N requests of `size` KiB one at a time (queue depth 1), between
 *                         the lines "bench: begin" and "bench: end" (bench/virtio times them)
 * Prints the capacity and the disk's ID first.
 */
#include "console.h"
#include "guest.h"
#include "power.h"
#include "pvh.h"
#include "virtio.h"
#include "x86.h"

#define BLOCK_TYPE 2
#define SECTORS 256
#define SECTORS_PER_REQUEST 8

#define T_IN 0
#define T_OUT 1
#define T_FLUSH 4
#define T_GET_ID 8

struct request_header {
	uint32_t type;
	uint32_t reserved;
	uint64_t sector;
};

static struct virtq queue;
static struct request_header header;
static uint8_t data[64 * 1024] __attribute__((aligned(4096)));
static volatile uint8_t status;

static uint64_t address_of(const volatile void *p)
{
	return (uint64_t)(uintptr_t)p;
}

static uint8_t pattern(uint64_t sector, unsigned byte, unsigned seed)
{
	return (uint8_t)(sector * 31 + byte * 7 + seed);
}

/* One request: header, optional data (device-writable for reads), status. */
static int submit(struct virtio_device *device, uint32_t type, uint64_t sector, uint32_t bytes, int device_writes)
{
	header.type = type;
	header.reserved = 0;
	header.sector = sector;
	status = 0xff;
	queue.desc[0] = (struct virtq_desc){address_of(&header), sizeof header, VIRTQ_DESC_F_NEXT, 1};
	uint16_t last = 1;
	if (bytes) {
		queue.desc[1] = (struct virtq_desc){address_of(data), bytes,
						    (uint16_t)(VIRTQ_DESC_F_NEXT | (device_writes ? VIRTQ_DESC_F_WRITE : 0)), 2};
		last = 2;
	}
	queue.desc[last] = (struct virtq_desc){address_of(&status), 1, VIRTQ_DESC_F_WRITE, 0};
	virtio_submit(device, 0, &queue, 0);
	if (!virtio_wait_used(&queue, 0)) {
		console_printf("disk: no answer (device status 0x%x)\n", virtio_status(device));
		debug_exit(1);
	}
	return status;
}

static int verify(struct virtio_device *device, unsigned seed)
{
	for (uint64_t sector = 0; sector < SECTORS; sector += SECTORS_PER_REQUEST) {
		if (submit(device, T_IN, sector, SECTORS_PER_REQUEST * 512, 1) != 0) {
			console_printf("disk: read of sector %lu failed\n", sector);
			return 0;
		}
		for (unsigned i = 0; i < SECTORS_PER_REQUEST * 512; i++) {
			if (data[i] != pattern(sector + i / 512, i % 512, seed)) {
				console_printf("disk: sector %lu byte %u differs\n", sector + i / 512, i % 512);
				return 0;
			}
		}
	}
	return 1;
}

/* Writes the pattern of `seed` over the first SECTORS sectors and flushes. */
static int write_pattern(struct virtio_device *device, unsigned seed)
{
	for (uint64_t sector = 0; sector < SECTORS; sector += SECTORS_PER_REQUEST) {
		for (unsigned i = 0; i < SECTORS_PER_REQUEST * 512; i++)
			data[i] = pattern(sector + i / 512, i % 512, seed);
		if (submit(device, T_OUT, sector, SECTORS_PER_REQUEST * 512, 0) != 0) {
			console_printf("disk: write of sector %lu failed\n", sector);
			return 0;
		}
	}
	if (submit(device, T_FLUSH, 0, 0, 0) != 0) {
		console_printf("disk: flush failed\n");
		return 0;
	}
	return 1;
}

/* mode=serve: the guest waits at the console, so a snapshot can be taken
 * between any two commands and the commands sent to its restores and clones. */
__attribute__((noreturn)) static void serve(struct virtio_device *device)
{
	console_printf("disk: serving\n");
	for (;;) {
		uint8_t command = console_getc();
		if (command == 'p') {
			console_printf("disk: alive\n");
		} else if (command == 'w') {
			unsigned seed = (unsigned)console_read_number();
			if (write_pattern(device, seed))
				console_printf("disk: wrote seed %u\n", seed);
		} else if (command == 'v') {
			unsigned seed = (unsigned)console_read_number();
			if (verify(device, seed))
				console_printf("disk: verified seed %u\n", seed);
		} else if (command == 'q') {
			console_printf("disk: bye\n");
			debug_exit(0);
		}
	}
}

/* xorshift: the random offsets of a random-read run, the same in every VMM. */
static uint64_t next_random(uint64_t *state)
{
	*state ^= *state << 13;
	*state ^= *state >> 7;
	*state ^= *state << 17;
	return *state;
}

__attribute__((noreturn)) static void bench(struct virtio_device *device, const char *cmdline, uint64_t capacity)
{
	size_t kind_length = 0;
	const char *kind = cmdline_value(cmdline, "kind", &kind_length);
	uint64_t size_kib = cmdline_number(cmdline, "size", 4);
	uint64_t count = cmdline_number(cmdline, "count", 1000);
	if (!kind || size_kib == 0 || size_kib > 64 || count == 0) {
		console_printf("disk: bench needs kind=seqread|seqwrite|randread, size=1..64 (KiB), count=N\n");
		debug_exit(2);
	}
	const int write = word_equals(kind, kind_length, "seqwrite");
	const int random = word_equals(kind, kind_length, "randread");
	const uint64_t sectors = size_kib * 2;
	const uint64_t span = capacity - capacity % sectors; /* whole requests only */
	uint64_t state = 88172645463325252ull, sector = 0;
	for (unsigned i = 0; i < sizeof data; i++)
		data[i] = (uint8_t)i;
	console_printf("bench: begin\n");
	for (uint64_t i = 0; i < count; i++) {
		if (random)
			sector = next_random(&state) % (span / sectors) * sectors;
		if (submit(device, write ? T_OUT : T_IN, sector, (uint32_t)(size_kib * 1024), !write) != 0) {
			console_printf("disk: bench request %lu failed\n", i);
			debug_exit(1);
		}
		if (!random)
			sector = (sector + sectors) % span;
	}
	console_printf("bench: end\n");
	debug_exit(0);
}

void guest_main(uint64_t start_info_paddr)
{
	console_init();
	const char *cmdline = pvh_cmdline(pvh_check(start_info_paddr));
	struct virtio_device device;
	if (!virtio_find(BLOCK_TYPE, &device)) {
		console_printf("disk: no virtio-blk device\n");
		debug_exit(1);
	}
	if (!virtio_negotiate(&device)) {
		console_printf("disk: feature negotiation refused\n");
		debug_exit(1);
	}
	virtio_setup_queue(&device, 0, &queue, 0, 0, 0);
	virtio_driver_ok(&device);
	uint64_t capacity = mmio_read32(device.device_config) | (uint64_t)mmio_read32(device.device_config + 4) << 32;
	console_printf("disk: %lu sectors\n", capacity);
	for (unsigned i = 0; i < 21; i++)
		data[i] = 0;
	if (submit(&device, T_GET_ID, 0, 20, 1) == 0)
		console_printf("disk: id %s\n", (const char *)data);

	size_t length = 0;
	const char *mode = cmdline ? cmdline_value(cmdline, "mode", &length) : 0;
	unsigned seed = (unsigned)cmdline_number(cmdline, "seed", 0);

	if (mode && word_equals(mode, length, "write")) {
		if (!write_pattern(&device, seed))
			debug_exit(1);
		size_t hold_length = 0;
		if (cmdline && cmdline_value(cmdline, "hold", &hold_length)) {
			/* For a test that kills the VMM now: everything is flushed. */
			console_printf("disk: flushed, holding\n");
			spin_forever();
		}
		if (!verify(&device, seed))
			debug_exit(1);
		console_printf("disk: wrote and verified %u sectors\n", SECTORS);
		debug_exit(0);
	}
	if (mode && word_equals(mode, length, "verify")) {
		if (!verify(&device, seed))
			debug_exit(1);
		console_printf("disk: verified %u sectors\n", SECTORS);
		debug_exit(0);
	}
	if (mode && word_equals(mode, length, "readonly")) {
		int result = submit(&device, T_OUT, 0, 512, 0);
		console_printf(result == 1 ? "disk: write refused\n" : "disk: write not refused (status %d)\n", result);
		debug_exit(result == 1 ? 0 : 1);
	}
	if (mode && word_equals(mode, length, "bench"))
		bench(&device, cmdline, capacity);
	if (mode && word_equals(mode, length, "serve"))
		serve(&device);
	console_printf("disk: give mode=write, verify, readonly, bench or serve\n");
	debug_exit(2);
}
