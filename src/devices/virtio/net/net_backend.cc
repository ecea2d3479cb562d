#include "devices/virtio/net/net_backend.h"

#include "common/errno_error.h"

#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>

namespace vmhive::virtio {
namespace {

constexpr int kVnetHeaderSize = 12;  // virtio_net_hdr_v1, the virtio 1.x layout

}  // namespace

Result<NetBackend> NetBackend::open_tap(const std::string& name) {
  const std::string what = "tap " + name;
  if (name.empty() || name.size() >= IFNAMSIZ) return make_error(what + ": not a valid interface name");
  UniqueFd fd(::open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC));
  if (!fd.valid()) return errno_error(what + ": cannot open /dev/net/tun");
  ifreq request{};
  std::strncpy(request.ifr_name, name.c_str(), IFNAMSIZ - 1);
  request.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
  if (::ioctl(fd.get(), TUNSETIFF, &request) < 0) {
    const int error = errno;
    Error failed = error_from_code(error, what);
    failed.message += error == EBUSY ? " (in use by another process?)" : error == EPERM ? " (needs CAP_NET_ADMIN)" : "";
    return failed;
  }
  int header_size = kVnetHeaderSize;
  if (::ioctl(fd.get(), TUNSETVNETHDRSZ, &header_size) < 0) {
    return errno_error(what + ": cannot set the virtio header size");
  }
  // Probe the offloads once; each may be missing on an old kernel.
  unsigned supported = 0;
  for (unsigned flag : {TUN_F_CSUM, TUN_F_TSO4, TUN_F_TSO6, TUN_F_TSO_ECN}) {
    const unsigned trial = supported | flag | ((flag == TUN_F_CSUM) ? 0u : TUN_F_CSUM);
    if (::ioctl(fd.get(), TUNSETOFFLOAD, trial) == 0) supported = trial;
  }
  (void)::ioctl(fd.get(), TUNSETOFFLOAD, 0u);
  return NetBackend(std::move(fd), what, supported, true);
}

Result<NetBackend> NetBackend::adopt_socket(int fd) {
  const std::string what = "socket fd " + std::to_string(fd);
  if (fd < 3) return make_error(what + ": give a descriptor the process inherited, 3 or above");
  struct stat info {};
  if (::fstat(fd, &info) != 0) return errno_error(what + ": not an open descriptor");
  if (!S_ISSOCK(info.st_mode)) return make_error(what + ": not a socket");
  int domain = 0, type = 0;
  socklen_t length = sizeof domain;
  if (::getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &length) != 0 || domain != AF_UNIX)
    return make_error(what + ": not a Unix socket");
  length = sizeof type;
  if (::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &length) != 0 || (type != SOCK_DGRAM && type != SOCK_SEQPACKET))
    return make_error(what + ": a datagram or seqpacket socket is needed (one message per frame)");
  UniqueFd owned(fd);
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0 || ::fcntl(fd, F_SETFD, FD_CLOEXEC) != 0)
    return errno_error(what + ": cannot make it non-blocking");
  return NetBackend(std::move(owned), what, 0, false);
}

Result<NetBackend> NetBackend::open(const NetLinkSpec& link) {
  if (!link.tap.empty()) return open_tap(link.tap);
  return adopt_socket(link.socket_fd);
}

Result<void> NetBackend::set_offloads(unsigned tun_flags) {
  if (!is_tap_) return {};  // a socket hands over frames as they are
  if (::ioctl(fd_.get(), TUNSETOFFLOAD, tun_flags & supported_offloads_) < 0) {
    return errno_error(name_ + ": TUNSETOFFLOAD failed");
  }
  return {};
}

}  // namespace vmhive::virtio
