// Where a virtio-net device's frames go: a Linux tap, or a Unix datagram or
// seqpacket socket the VM process was handed (its peer, say a honeyfarm's
// gateway or another VM, is the wire: no tap and no CAP_NET_ADMIN needed).
// Either way one read is one frame and one write sends one, each with the
// 12-byte virtio_net_hdr in front, non-blocking.
#pragma once

#include <string>

#include "common/result.h"
#include "common/unique_fd.h"

namespace vmhive::virtio {

// A link as the command line names it (--net tap=NAME or fd=N).
struct NetLinkSpec {
  std::string tap;     // a tap interface's name, or empty
  int socket_fd = -1;  // an inherited socket's descriptor, or -1
  std::string describe() const { return tap.empty() ? "fd=" + std::to_string(socket_fd) : "tap=" + tap; }
};

class NetBackend {
 public:
  // Opens (creating it if needed, which takes CAP_NET_ADMIN) the tap `name`.
  static Result<NetBackend> open_tap(const std::string& name);
  // Takes over `fd`, which must be a Unix SOCK_DGRAM or SOCK_SEQPACKET
  // socket (a socketpair end): each message one frame with its header.
  static Result<NetBackend> adopt_socket(int fd);
  static Result<NetBackend> open(const NetLinkSpec& link);

  // Offloads the tap may hand us (TUN_F_* bits): only what the guest took.
  Result<void> set_offloads(unsigned tun_flags);
  // Which TUN_F_* offloads the link can hand the guest (none on a socket).
  unsigned supported_offloads() const { return supported_offloads_; }
  // Whether the far side completes what a guest leaves to the host: partial
  // checksums and TSO frames. A tap's kernel does; a socket's peer is not
  // asked to, so the guest is not offered them.
  bool finishes_offloads() const { return is_tap_; }

  int fd() const { return fd_.get(); }
  const std::string& name() const { return name_; }  // "tap NAME" or "socket fd N", for messages

 private:
  NetBackend(UniqueFd fd, std::string name, unsigned supported, bool is_tap)
      : fd_(std::move(fd)), name_(std::move(name)), supported_offloads_(supported), is_tap_(is_tap) {}

  UniqueFd fd_;
  std::string name_;
  unsigned supported_offloads_;
  bool is_tap_;
};

}  // namespace vmhive::virtio
