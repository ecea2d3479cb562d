/*
 * responder: a low-interaction honeypot for the honeyfarm's density runs,
 * with just enough of a network stack on its virtio-net device to look
 * alive: it answers ARP for its address, ICMP echo, a TCP handshake on its
 * open ports with a banner once the handshake completes (an SSH version
 * line on 22, an FTP-style greeting elsewhere), resets for closed ports,
 * and echoes UDP. TCP keeps no state per connection: the initial sequence
 * number is a hash of the connection's addresses and ports (as SYN cookies
 * are), so any number of half-open or open connections cost nothing.
 *
 * Command line: ip=A.B.C.D (default 10.0.0.2), ports=P,P,... (TCP ports
 * that are open; default 22,80), worm=N (optional: once its first TCP
 * connection is set up it behaves like a worm and sends N SYNs to port 22
 * of the addresses after its own and of 192.0.2.1, for containment
 * tests), lookup=NAME (optional: once its first TCP connection is set up
 * it looks NAME up, an A query to 198.51.100.53, and on the answer sends a
 * SYN to port 22 of the address it got: malware calling home, for the
 * farm's DNS sinkhole), crash_port=N (optional: a UDP datagram to port N
 * resets the machine, as an exploited service that takes the kernel down
 * would: for the farm's crash alerts), smash_port=N (optional: a UDP
 * datagram to port N makes it write to its own code, as an exploit
 * patching a kernel would, then look whether the write landed and say so:
 * "responder: text write held" or "... landed"; for write-protected text).
 * It prints "responder: ready ip
 * A.B.C.D" and then serves frames until the VM ends.
 *
 * Between frames it sleeps, as the idle guest does, so a farm's idle
 * clones cost no CPU: its receive queue interrupts through MSI-X (vector
 * 0x31), and when ring 3 finds the queue empty it executes UD2; the #UD
 * handler looks at the used index once more with interrupts off, then does
 * STI; HLT (the STI shadow covers the HLT, so a frame that arrives after
 * the look still wakes it) and returns past the UD2.
 */
#include "console.h"
#include "guest.h"
#include "layout.h"
#include "power.h"
#include "pvh.h"
#include "string_util.h"
#include "virtio.h"
#include "x86.h"

#define NET_TYPE 1
#define RX_VECTOR 0x31
#define WAIT_VECTOR 6 /* #UD */
#define SPURIOUS_VECTOR 0xff
#define LAPIC_BASE 0xfee00000ul
#define RX 0
#define TX 1
#define HEADER 12 /* virtio_net_hdr, all zero: no offloads */
#define BUFFER 2048
#define MAX_PORTS 16

#define ETH_ARP 0x0806
#define ETH_IPV4 0x0800
#define PROTO_ICMP 1
#define PROTO_TCP 6
#define PROTO_UDP 17
#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_PSH 0x08
#define TCP_ACK 0x10

static struct virtq rx_queue, tx_queue;
static uint8_t rx_buffers[VIRTIO_QUEUE_SIZE][BUFFER] __attribute__((aligned(4096)));
static uint8_t tx_buffers[VIRTIO_QUEUE_SIZE][BUFFER] __attribute__((aligned(64)));
static struct virtio_device device;
static unsigned tx_next, tx_in_flight;
static uint8_t mac[6];
static uint32_t my_ip = 0x0a000002;
static uint16_t ports[MAX_PORTS];
static unsigned port_count;
static unsigned worm_probes; /* worm=N; 0 once sent */
static const char *lookup_name; /* lookup=NAME; null once asked */
static size_t lookup_length;
static uint16_t crash_port; /* crash_port=N */
static uint16_t smash_port; /* smash_port=N */

#define RESOLVER 0xc6336435u /* 198.51.100.53 */
#define LOOKUP_PORT 5353     /* the query's source port */

/* For the #UD handler: where the receive queue's used index is, and the last one seen. */
volatile uint16_t *responder_used_index;
volatile uint16_t *responder_last_used;

void responder_rx_interrupt(void);
void responder_wait(void);
void responder_spurious(void);

/* Ring 0. The interrupt only has to end: ring 3 reads the queue. */
__asm__(".text\n"
	".globl responder_rx_interrupt, responder_wait, responder_spurious\n"
	"responder_rx_interrupt:\n"
	"	pushq %rax\n"
	"	movl $0xfee000b0, %eax\n" /* local APIC EOI */
	"	movl $0, (%rax)\n"
	"	popq %rax\n"
	"	iretq\n"
	"responder_wait:\n"
	"	pushq %rax\n"
	"	pushq %rdx\n"
	"	addq $2, 16(%rsp)\n" /* the saved RIP: past UD2 */
	"	movq responder_used_index(%rip), %rax\n"
	"	movzwl (%rax), %eax\n"
	"	movq responder_last_used(%rip), %rdx\n"
	"	cmpw (%rdx), %ax\n"
	"	jne 1f\n"
	"	sti\n"
	"	hlt\n"
	"	cli\n"
	"1:	popq %rdx\n"
	"	popq %rax\n"
	"	iretq\n"
	"responder_spurious:\n"
	"	iretq\n");

static struct idt_gate idt[256] __attribute__((aligned(16)));

static void set_gate(unsigned vector, void (*handler)(void))
{
	uint64_t address = (uint64_t)(uintptr_t)handler;
	idt[vector] = (struct idt_gate){(uint16_t)address, KERNEL_CS, 0, 0x8e, (uint16_t)(address >> 16),
					(uint32_t)(address >> 32), 0};
}

/* Ring 0, before ring 3 starts: the three gates and LIDT. */
void ring0_early(uint64_t start_info_paddr)
{
	(void)start_info_paddr;
	set_gate(RX_VECTOR, responder_rx_interrupt);
	set_gate(WAIT_VECTOR, responder_wait);
	set_gate(SPURIOUS_VECTOR, responder_spurious);
	struct __attribute__((packed)) {
		uint16_t limit;
		uint64_t base;
	} pointer = {sizeof(idt) - 1, (uint64_t)(uintptr_t)idt};
	__asm__ volatile("lidt %0" : : "m"(pointer));
}

static const char ssh_banner[] = "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n";
static const char other_banner[] = "220 ready\r\n";

static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t get32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }
static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}
static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (24 - 8 * i));
}

static uint32_t sum_words(const uint8_t *p, unsigned length, uint32_t sum)
{
	for (unsigned i = 0; i + 1 < length; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (length & 1)
		sum += (uint32_t)p[length - 1] << 8;
	return sum;
}

static uint16_t finish(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* The checksum of a TCP or UDP segment with its pseudo-header. */
static uint16_t transport_checksum(uint32_t source, uint32_t destination, uint8_t protocol, const uint8_t *segment,
				   unsigned length)
{
	uint8_t pseudo[12];
	put32(pseudo, source);
	put32(pseudo + 4, destination);
	pseudo[8] = 0;
	pseudo[9] = protocol;
	put16(pseudo + 10, (uint16_t)length);
	return finish(sum_words(segment, length, sum_words(pseudo, 12, 0)));
}

static void post_rx(uint16_t index)
{
	rx_queue.desc[index] = (struct virtq_desc){(uint64_t)(uintptr_t)rx_buffers[index], BUFFER, VIRTQ_DESC_F_WRITE, 0};
	virtio_submit(&device, RX, &rx_queue, index);
}

/* A transmit buffer whose last frame has gone. */
static uint8_t *tx_buffer(uint16_t *slot)
{
	if (tx_in_flight == VIRTIO_QUEUE_SIZE) {
		if (!virtio_wait_used(&tx_queue, 0)) {
			console_printf("responder: a frame was not sent\n");
			debug_exit(1);
		}
		tx_in_flight--;
	}
	*slot = (uint16_t)(tx_next++ % VIRTIO_QUEUE_SIZE);
	memset(tx_buffers[*slot], 0, HEADER);
	return tx_buffers[*slot] + HEADER;
}

static void send(uint16_t slot, unsigned length)
{
	if (length < 60)
		length = 60; /* Ethernet's minimum; the padding was zeroed by the caller */
	tx_queue.desc[slot] = (struct virtq_desc){(uint64_t)(uintptr_t)tx_buffers[slot], HEADER + length, 0, 0};
	virtio_submit(&device, TX, &tx_queue, slot);
	tx_in_flight++;
}

/* An Ethernet + IPv4 header back to the sender of `in`, for `payload` bytes of `protocol`. */
static uint8_t *reply_ipv4(const uint8_t *in, uint8_t *out, uint8_t protocol, unsigned payload)
{
	memcpy(out, in + 6, 6);
	memcpy(out + 6, mac, 6);
	put16(out + 12, ETH_IPV4);
	uint8_t *ip = out + 14;
	memset(ip, 0, 20);
	ip[0] = 0x45;
	put16(ip + 2, (uint16_t)(20 + payload));
	put16(ip + 6, 0x4000);
	ip[8] = 64;
	ip[9] = protocol;
	put32(ip + 12, my_ip);
	memcpy(ip + 16, in + 14 + 12, 4);
	put16(ip + 10, finish(sum_words(ip, 20, 0)));
	return ip + 20;
}

static void answer_arp(const uint8_t *in, unsigned length)
{
	if (length < 42 || get16(in + 14) != 1 || get16(in + 16) != ETH_IPV4 || get16(in + 20) != 1 ||
	    get32(in + 38) != my_ip)
		return;
	uint16_t slot;
	uint8_t *out = tx_buffer(&slot);
	memset(out, 0, 60);
	memcpy(out, in + 6, 6);
	memcpy(out + 6, mac, 6);
	put16(out + 12, ETH_ARP);
	memcpy(out + 14, in + 14, 6); /* Ethernet, IPv4, 6, 4 */
	put16(out + 20, 2);
	memcpy(out + 22, mac, 6);
	put32(out + 28, my_ip);
	memcpy(out + 32, in + 22, 10); /* the asker's MAC and address */
	send(slot, 42);
}

static void answer_icmp(const uint8_t *in, const uint8_t *icmp, unsigned length)
{
	if (length < 8 || icmp[0] != 8 || length > BUFFER - HEADER - 34)
		return; /* only echo requests */
	uint16_t slot;
	uint8_t *out = tx_buffer(&slot);
	memset(out, 0, 60);
	uint8_t *reply = reply_ipv4(in, out, PROTO_ICMP, length);
	memcpy(reply, icmp, length);
	reply[0] = 0; /* echo reply */
	put16(reply + 2, 0);
	put16(reply + 2, finish(sum_words(reply, length, 0)));
	send(slot, 34 + length);
}

static void answer_udp(const uint8_t *in, const uint8_t *udp, unsigned length)
{
	if (length < 8 || get16(udp + 4) < 8 || get16(udp + 4) > length || length > BUFFER - HEADER - 34)
		return;
	length = get16(udp + 4);
	uint16_t slot;
	uint8_t *out = tx_buffer(&slot);
	memset(out, 0, 60);
	uint8_t *reply = reply_ipv4(in, out, PROTO_UDP, length);
	memcpy(reply, udp, length);
	put16(reply, get16(udp + 2));
	put16(reply + 2, get16(udp));
	put16(reply + 6, 0);
	uint16_t checksum = transport_checksum(my_ip, get32(in + 26), PROTO_UDP, reply, length);
	put16(reply + 6, checksum == 0 ? 0xffff : checksum);
	send(slot, 34 + length);
}

static bool port_open(uint16_t port)
{
	for (unsigned i = 0; i < port_count; i++)
		if (ports[i] == port)
			return true;
	return false;
}

/* The sequence number this side starts a connection with: a hash of it. */
static uint32_t initial_sequence(uint32_t peer, uint16_t peer_port, uint16_t port)
{
	uint32_t h = 2166136261u;
	const uint32_t words[3] = {peer, peer_port, port};
	for (int i = 0; i < 3; i++) {
		h ^= words[i];
		h *= 16777619u;
		h ^= h >> 15;
	}
	return h;
}

static void send_tcp(const uint8_t *in, uint16_t from_port, uint16_t to_port, uint32_t seq, uint32_t ack, uint8_t flags,
		     const char *data, unsigned data_length)
{
	uint16_t slot;
	uint8_t *out = tx_buffer(&slot);
	memset(out, 0, 60);
	uint8_t *tcp = reply_ipv4(in, out, PROTO_TCP, 20 + data_length);
	put16(tcp, from_port);
	put16(tcp + 2, to_port);
	put32(tcp + 4, seq);
	put32(tcp + 8, ack);
	tcp[12] = 5 << 4;
	tcp[13] = flags;
	put16(tcp + 14, 65535);
	put16(tcp + 16, 0);
	put16(tcp + 18, 0);
	memcpy(tcp + 20, data, data_length);
	put16(tcp + 16, transport_checksum(my_ip, get32(in + 26), PROTO_TCP, tcp, 20 + data_length));
	send(slot, 54 + data_length);
}

/* A worm's next hops: SYNs from this guest to port 22 of the addresses
   after its own, and one outside the farm, through the neighbour that
   reached it (whose MAC `in` carries). Each frame is built on `in`'s
   Ethernet and IPv4 layout, its destination replaced. */
static void spread(const uint8_t *in)
{
	uint8_t probe[54];
	memcpy(probe, in, 34);
	const unsigned count = worm_probes;
	worm_probes = 0;
	for (unsigned i = 0; i <= count; i++) {
		const uint32_t target = i < count ? my_ip + 1 + i : 0xc0000201; /* 192.0.2.1: beyond the farm */
		put32(probe + 14 + 12, target); /* reply_ipv4 answers to the source: the target goes there */
		uint16_t slot;
		uint8_t *out = tx_buffer(&slot);
		memset(out, 0, 60);
		uint8_t *tcp = reply_ipv4(probe, out, PROTO_TCP, 20);
		put16(tcp, (uint16_t)(40000 + i));
		put16(tcp + 2, 22);
		put32(tcp + 4, initial_sequence(target, 22, (uint16_t)(40000 + i)));
		put32(tcp + 8, 0);
		tcp[12] = 5 << 4;
		tcp[13] = TCP_SYN;
		put16(tcp + 14, 65535);
		put16(tcp + 16, transport_checksum(my_ip, target, PROTO_TCP, tcp, 20));
		send(slot, 54);
	}
	console_printf("responder: worm sent %u probes\n", count + 1);
}

/* A SYN to port 22 of `target`, from `from_port`, through the neighbour
   that sent `in`. */
static void send_syn(const uint8_t *in, uint32_t target, uint16_t from_port)
{
	uint8_t probe[54];
	memcpy(probe, in, 34);
	put32(probe + 14 + 12, target);
	send_tcp(probe, from_port, 22, initial_sequence(target, 22, from_port), 0, TCP_SYN, 0, 0);
}

/* Malware calling home: an A query for lookup=NAME to the resolver. */
static void look_up(const uint8_t *in)
{
	uint8_t query[34];
	memcpy(query, in, 34);
	put32(query + 14 + 12, RESOLVER);
	uint16_t slot;
	uint8_t *out = tx_buffer(&slot);
	memset(out, 0, 60);
	uint8_t dns[12 + 256 + 4];
	memset(dns, 0, 12);
	put16(dns, 0x4d57);
	put16(dns + 2, 0x0100); /* recursion desired */
	put16(dns + 4, 1);
	unsigned at = 12, label = 12;
	dns[at++] = 0;
	for (size_t i = 0; i < lookup_length && at < 12 + 250; i++) {
		if (lookup_name[i] == '.') {
			label = at;
			dns[at++] = 0;
			continue;
		}
		dns[at++] = (uint8_t)lookup_name[i];
		dns[label]++;
	}
	dns[at++] = 0;
	put16(dns + at, 1); /* A */
	put16(dns + at + 2, 1); /* IN */
	at += 4;
	lookup_name = 0;
	uint8_t *udp = reply_ipv4(query, out, PROTO_UDP, 8 + at);
	put16(udp, LOOKUP_PORT);
	put16(udp + 2, 53);
	put16(udp + 4, (uint16_t)(8 + at));
	put16(udp + 6, 0);
	memcpy(udp + 8, dns, at);
	uint16_t checksum = transport_checksum(my_ip, RESOLVER, PROTO_UDP, udp, 8 + at);
	put16(udp + 6, checksum == 0 ? 0xffff : checksum);
	send(slot, 42 + at);
}

/* The resolver's answer: the first A record's address gets a SYN. */
static void take_answer(const uint8_t *in, const uint8_t *dns, unsigned length)
{
	if (length < 12 || get16(dns) != 0x4d57 || get16(dns + 6) == 0)
		return;
	unsigned at = 12;
	while (at < length && dns[at] != 0)
		at += 1u + dns[at];
	at += 5; /* the root label, type and class */
	if (at + 16 > length || get16(dns + at + 2) != 1 || get16(dns + at + 10) != 4)
		return;
	const uint32_t address = get32(dns + at + 12);
	console_printf("responder: the name is at %u.%u.%u.%u\n", address >> 24, (address >> 16) & 255,
		       (address >> 8) & 255, address & 255);
	send_syn(in, address, 41000);
}

static void answer_tcp(const uint8_t *in, const uint8_t *tcp, unsigned length)
{
	if (length < 20 || (tcp[12] >> 4) * 4u < 20 || (tcp[12] >> 4) * 4u > length)
		return;
	const unsigned data_length = length - (tcp[12] >> 4) * 4u;
	const uint16_t peer_port = get16(tcp), port = get16(tcp + 2);
	const uint32_t seq = get32(tcp + 4), ack = get32(tcp + 8);
	const uint8_t flags = tcp[13];
	const uint32_t isn = initial_sequence(get32(in + 26), peer_port, port);
	if (flags & TCP_RST)
		return;
	if (!port_open(port)) {
		if (flags & TCP_ACK)
			send_tcp(in, port, peer_port, ack, 0, TCP_RST, 0, 0);
		else
			send_tcp(in, port, peer_port, 0, seq + data_length + ((flags & TCP_SYN) ? 1 : 0), TCP_RST | TCP_ACK, 0, 0);
		return;
	}
	if (flags & TCP_SYN) {
		send_tcp(in, port, peer_port, isn, seq + 1, TCP_SYN | TCP_ACK, 0, 0);
		return;
	}
	if (!(flags & TCP_ACK))
		return;
	const char *banner = port == 22 ? ssh_banner : other_banner;
	const unsigned banner_length = (unsigned)strlen(banner);
	if (flags & TCP_FIN) {
		send_tcp(in, port, peer_port, ack, seq + data_length + 1, TCP_FIN | TCP_ACK, 0, 0);
		return;
	}
	if (ack == isn + 1 && data_length == 0) {
		/* The handshake's last ACK: the banner, as a server speaks first. */
		send_tcp(in, port, peer_port, isn + 1, seq, TCP_PSH | TCP_ACK, banner, banner_length);
		if (worm_probes > 0)
			spread(in);
		if (lookup_name)
			look_up(in);
		return;
	}
	if (data_length > 0) /* taken, and nothing said: a server that waits */
		send_tcp(in, port, peer_port, ack, seq + data_length, TCP_ACK, 0, 0);
}

static void serve(const uint8_t *frame, unsigned length)
{
	if (length < 14)
		return;
	const uint16_t type = get16(frame + 12);
	if (type == ETH_ARP) {
		answer_arp(frame, length);
		return;
	}
	if (type != ETH_IPV4 || length < 34 || frame[14] != 0x45 || get32(frame + 30) != my_ip)
		return; /* only plain 20-byte IPv4 headers to this address */
	const unsigned total = get16(frame + 16);
	if (total < 20 || 14 + total > length || (get16(frame + 20) & 0x3fff) != 0)
		return; /* bad lengths and fragments */
	if (finish(sum_words(frame + 14, 20, 0)) != 0)
		return;
	const uint8_t *payload = frame + 34;
	const unsigned payload_length = total - 20;
	switch (frame[23]) {
	case PROTO_ICMP: answer_icmp(frame, payload, payload_length); break;
	case PROTO_UDP:
		if (payload_length >= 8 && crash_port != 0 && get16(payload + 2) == crash_port) {
			console_printf("responder: crashing, as asked on port %u\n", crash_port);
			i8042_reset();
		}
		if (payload_length >= 8 && smash_port != 0 && get16(payload + 2) == smash_port) {
			/* The first byte of a function not running now: flipped, looked at, put back. */
			volatile uint8_t *code = (volatile uint8_t *)(uintptr_t)&answer_icmp;
			const uint8_t before = *code;
			*code = (uint8_t)(before ^ 0xff);
			const bool landed = *code != before;
			*code = before;
			console_printf("responder: text write %s\n", landed ? "landed" : "held");
			break;
		}
		if (payload_length >= 8 && get16(payload) == 53 && get16(payload + 2) == LOOKUP_PORT) {
			take_answer(frame, payload + 8, payload_length - 8);
			break;
		}
		answer_udp(frame, payload, payload_length);
		break;
	case PROTO_TCP: answer_tcp(frame, payload, payload_length); break;
	}
}

/* "a.b.c.d" into a host-order address; false if it is not one. */
static bool parse_ip(const char *text, size_t length, uint32_t *address)
{
	uint32_t value = 0;
	size_t start = 0;
	for (int part = 0; part < 4; part++) {
		size_t end = start;
		while (end < length && text[end] != '.')
			end++;
		uint64_t byte;
		if (end == start || !parse_u64(text + start, end - start, &byte) || byte > 255)
			return false;
		value = value << 8 | (uint32_t)byte;
		if (part < 3 && end >= length)
			return false;
		start = end + 1;
	}
	*address = value;
	return start >= length;
}

static void parse_ports(const char *text, size_t length)
{
	size_t start = 0;
	while (start < length && port_count < MAX_PORTS) {
		size_t end = start;
		while (end < length && text[end] != ',')
			end++;
		uint64_t port;
		if (end > start && parse_u64(text + start, end - start, &port) && port > 0 && port < 65536)
			ports[port_count++] = (uint16_t)port;
		start = end + 1;
	}
}

void guest_main(uint64_t start_info_paddr)
{
	console_init();
	const char *cmdline = pvh_cmdline(pvh_check(start_info_paddr));
	size_t length = 0;
	const char *value = cmdline ? cmdline_value(cmdline, "ip", &length) : 0;
	if (value && !parse_ip(value, length, &my_ip)) {
		console_printf("responder: ip= is not an IPv4 address\n");
		debug_exit(2);
	}
	worm_probes = (unsigned)cmdline_number(cmdline, "worm", 0);
	if (worm_probes > 64)
		worm_probes = 64;
	lookup_name = cmdline ? cmdline_value(cmdline, "lookup", &lookup_length) : 0;
	crash_port = (uint16_t)cmdline_number(cmdline, "crash_port", 0);
	smash_port = (uint16_t)cmdline_number(cmdline, "smash_port", 0);
	value = cmdline ? cmdline_value(cmdline, "ports", &length) : 0;
	if (value)
		parse_ports(value, length);
	else
		parse_ports("22,80", 5);
	if (!virtio_find(NET_TYPE, &device) || !virtio_negotiate(&device)) {
		console_printf("responder: no usable virtio-net device\n");
		debug_exit(1);
	}
	virtio_setup_queue(&device, RX, &rx_queue, 0, 0, 0);
	virtio_setup_queue(&device, TX, &tx_queue, 0, 0, 0);
	/* The receive queue wakes the guest; transmissions are taken back as it goes. */
	outb(0x21, 0xff); /* both PICs masked: nothing comes through LINT0 */
	outb(0xa1, 0xff);
	mmio_write32(LAPIC_BASE + 0x80, 0);                       /* TPR: accept every class */
	mmio_write32(LAPIC_BASE + 0xf0, 0x100 | SPURIOUS_VECTOR); /* SVR: APIC on */
	const bool sleeps = virtio_enable_msix(&device, RX_VECTOR) && virtio_queue_vector(&device, RX, 0);
	responder_used_index = &rx_queue.used_idx;
	responder_last_used = &rx_queue.last_used;
	virtio_driver_ok(&device);
	for (int i = 0; i < 6; i++)
		mac[i] = mmio_read8(device.device_config + i);
	for (uint16_t i = 0; i < VIRTIO_QUEUE_SIZE; i++)
		post_rx(i);
	console_printf("responder: ready ip %u.%u.%u.%u, %u open ports%s\n", my_ip >> 24, (my_ip >> 16) & 255,
		       (my_ip >> 8) & 255, my_ip & 255, port_count, sleeps ? "" : " (polling: no MSI-X)");
	for (;;) {
		/* Completed transmissions are taken back as they come, so the ring never fills with them. */
		while (tx_in_flight > 0 && __atomic_load_n(&tx_queue.used_idx, __ATOMIC_ACQUIRE) != tx_queue.last_used) {
			tx_queue.last_used++;
			tx_in_flight--;
		}
		if (__atomic_load_n(&rx_queue.used_idx, __ATOMIC_ACQUIRE) == rx_queue.last_used) {
			if (sleeps)
				__asm__ volatile("ud2" ::: "memory"); /* sleep until a frame comes */
			else
				cpu_relax();
			continue;
		}
		const uint16_t slot = rx_queue.last_used % VIRTIO_QUEUE_SIZE;
		const uint16_t head = (uint16_t)rx_queue.used_ring[slot].id;
		const uint32_t used = rx_queue.used_ring[slot].len;
		rx_queue.last_used++;
		if (head < VIRTIO_QUEUE_SIZE && used > HEADER && used <= BUFFER)
			serve(rx_buffers[head] + HEADER, used - HEADER);
		post_rx(head % VIRTIO_QUEUE_SIZE);
	}
}
