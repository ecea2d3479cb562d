#include "devices/virtio/net/tap.h"
#include "common/errno_error.h"

#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <sys/ioctl.h>

#include <cerrno>
#include <cstring>

namespace vmhive::virtio {
namespace {

constexpr int kVnetHeaderSize = 12;  // virtio_net_hdr_v1, the virtio 1.x layout

}  // namespace

Result<Tap> Tap::open(const std::string& name) {
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
  return Tap(std::move(fd), name, supported);
}

Result<void> Tap::set_offloads(unsigned tun_flags) {
  if (::ioctl(fd_.get(), TUNSETOFFLOAD, tun_flags & supported_offloads_) < 0) {
    return errno_error("tap " + name_ + ": TUNSETOFFLOAD failed");
  }
  return {};
}

}  // namespace vmhive::virtio
