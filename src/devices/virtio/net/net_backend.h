// A Linux tap interface opened for a virtio-net backend: frames in and out
// with a 12-byte virtio_net_hdr in front (IFF_VNET_HDR), non-blocking.
#pragma once

#include <string>

#include "common/result.h"
#include "common/unique_fd.h"

namespace vmhive::virtio {

class Tap {
 public:
  // Opens (creating it if needed, which takes CAP_NET_ADMIN) the tap `name`.
  static Result<Tap> open(const std::string& name);

  // Offloads the tap may hand us (TUN_F_* bits): only what the guest took.
  Result<void> set_offloads(unsigned tun_flags);
  // Which TUN_F_* offloads this tap accepts, probed once at open.
  unsigned supported_offloads() const { return supported_offloads_; }

  int fd() const { return fd_.get(); }
  const std::string& name() const { return name_; }

 private:
  Tap(UniqueFd fd, std::string name, unsigned supported) : fd_(std::move(fd)), name_(std::move(name)),
                                                           supported_offloads_(supported) {}

  UniqueFd fd_;
  std::string name_;
  unsigned supported_offloads_;
};

}  // namespace vmhive::virtio
