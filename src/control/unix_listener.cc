#include "control/unix_listener.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "common/errno_error.h"
#include "control/unix_address.h"

namespace vmhive::control {
namespace {

// A path that is taken: a live socket is an error, a stale one is removed,
// anything else (a file, a directory, a link) is never touched.
Result<void> clear_stale_socket(const std::string& path, const sockaddr_un& address) {
  struct stat info {};
  if (::lstat(path.c_str(), &info) != 0) return errno_error("cannot inspect", path);
  if (!S_ISSOCK(info.st_mode))
    return make_error(path + " exists and is not a socket; refusing to replace it (remove it or choose another path)");
  UniqueFd probe(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (::connect(probe.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0)
    return make_error(path + " is in use by another process");
  if (::unlink(path.c_str()) != 0) return errno_error("cannot remove the stale socket", path);
  return {};
}

Result<void> bind_replacing_stale(int fd, const std::string& path, const sockaddr_un& address) {
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0) return {};
  if (errno != EADDRINUSE) return errno_error("cannot bind", path);
  VMHIVE_CHECK(clear_stale_socket(path, address));
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0)
    return errno_error("cannot bind", path);
  return {};
}

}  // namespace

Result<UnixListener> UnixListener::listen(const std::string& path, const ListenOptions& options) {
  const sockaddr_un address = VMHIVE_TRY(unix_address(path));
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd.valid()) return errno_error("cannot create a socket for", path);
  // bind() creates the file with the socket's mode less the umask: 0600 at most.
  if (::fchmod(fd.get(), 0600) != 0) return errno_error("cannot fchmod the socket for", path);
  VMHIVE_CHECK(bind_replacing_stale(fd.get(), path, address));
  // From here the file is ours: the listener removes it, whatever fails next.
  UnixListener listener(std::move(fd), path);
  // lchown: the path was just created by bind, but never follow a link there.
  if (options.owner && ::lchown(path.c_str(), options.owner->first, options.owner->second) != 0)
    return errno_error("cannot chown", path);
  if (::listen(listener.fd(), options.backlog) != 0) return errno_error("cannot listen on", path);
  return listener;
}

UnixListener::~UnixListener() {
  if (fd_.valid()) ::unlink(path_.c_str());
}

UniqueFd UnixListener::accept() const {
  return UniqueFd(::accept4(fd_.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
}

Result<uid_t> peer_uid(int fd) {
  ucred peer{};
  socklen_t length = sizeof peer;
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer, &length) != 0) return errno_error("SO_PEERCRED failed");
  return peer.uid;
}

Result<uid_t> check_peer(int fd, std::span<const uid_t> also_allowed) {
  const uid_t uid = VMHIVE_TRY(peer_uid(fd));
  if (uid == 0 || uid == ::geteuid() || std::find(also_allowed.begin(), also_allowed.end(), uid) != also_allowed.end())
    return uid;
  return make_error("permission denied: uid " + std::to_string(uid) + " may not use this socket");
}

}  // namespace vmhive::control
