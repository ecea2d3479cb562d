#include "common/directories.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "common/errno_error.h"

namespace vmhive {

Result<UniqueFd> open_directory(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.valid()) {
    if (errno == ELOOP || errno == ENOTDIR) {
      struct stat info {};
      if (::lstat(path.c_str(), &info) == 0 && S_ISLNK(info.st_mode))
        return make_error("directory " + path + " is a symbolic link; give the directory itself");
    }
    return errno_error("cannot open directory", path);
  }
  return fd;
}

Result<UniqueFd> ensure_private_directory(const std::string& path) {
  if (::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) return errno_error("cannot create directory", path);
  UniqueFd fd = VMHIVE_TRY(open_directory(path));
  struct stat info {};
  if (::fstat(fd.get(), &info) != 0) return errno_error("directory", path);
  if (info.st_uid != ::geteuid())
    return make_error("directory " + path + " belongs to uid " + std::to_string(info.st_uid) +
                      ", not to this user; give a directory of your own");
  if ((info.st_mode & (S_IWGRP | S_IWOTH)) != 0)
    return make_error("directory " + path + " is writable by other users; make it private (chmod go-w)");
  return fd;
}

}  // namespace vmhive
