// The listening end of a Unix socket that a server in the owner's poll loop
// accepts on (the control socket, the HTTP API), and the check of who is on
// the other end of a connection. Shared so that every socket the VMM serves
// is created, replaced and guarded the same way:
//   - the file is 0600 whatever the umask (fchmod before bind), optionally
//     chowned to a configured owner;
//   - a stale socket (a socket file nobody listens on) is replaced; anything
//     else at the path (a file, a directory, a link, a live socket) is an
//     error and is never unlinked.
#pragma once

#include <sys/types.h>

#include <optional>
#include <span>
#include <string>
#include <utility>

#include "common/result.h"
#include "common/unique_fd.h"

namespace vmhive::control {

struct ListenOptions {
  int backlog = 128;
  std::optional<std::pair<uid_t, gid_t>> owner{};  // chown the socket file to this
};

class UnixListener {
 public:
  static Result<UnixListener> listen(const std::string& path, const ListenOptions& options);
  UnixListener(UnixListener&&) noexcept = default;
  UnixListener& operator=(UnixListener&&) = delete;
  ~UnixListener();  // removes the socket file

  // The next waiting connection (non-blocking, close-on-exec); an invalid fd
  // when nobody is waiting (or accept failed).
  UniqueFd accept() const;

  int fd() const { return fd_.get(); }
  const std::string& path() const { return path_; }

 private:
  UnixListener(UniqueFd fd, std::string path) : fd_(std::move(fd)), path_(std::move(path)) {}
  UniqueFd fd_;
  std::string path_;
};

// The uid of the process on the other end of a connected Unix socket.
Result<uid_t> peer_uid(int fd);

// Whether that peer may use the socket: it runs as root, as this process's
// effective user, or as one of `also_allowed`. The error says which uid was
// refused ("permission denied: uid N ...").
Result<uid_t> check_peer(int fd, std::span<const uid_t> also_allowed = {});

}  // namespace vmhive::control
