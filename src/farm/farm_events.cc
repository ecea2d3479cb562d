#include "farm/farm_events.h"

#include <sys/socket.h>
#include <sys/un.h>

#include <chrono>

#include "common/errno_error.h"
#include "common/fd_io.h"
#include "common/unique_fd.h"
#include "control/unix_address.h"

namespace vmhive::farm {
namespace {

constexpr auto kDeliveryTimeout = std::chrono::milliseconds(2000);
constexpr size_t kMaxQueued = 1024;  // alerts waiting beyond this are dropped (and counted)

}  // namespace

FarmEvents::FarmEvents(AlertTargets targets, std::FILE* out) : targets_(std::move(targets)), out_(out) {
  if (!targets_.unix_socket.empty() || targets_.webhook)
    thread_ = std::jthread([this](std::stop_token stop) { deliver(stop); });
}

FarmEvents::~FarmEvents() {
  if (thread_.joinable()) {
    thread_.request_stop();
    queued_.notify_all();
    thread_.join();
  }
}

void FarmEvents::write_line(const std::string& line) {
  std::lock_guard lock(out_mutex_);
  std::fputs(line.c_str(), out_);
  std::fflush(out_);
}

void FarmEvents::emit(const nlohmann::ordered_json& event) {
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  nlohmann::ordered_json line{{"time_ms", std::chrono::duration_cast<std::chrono::milliseconds>(now).count()}};
  line.update(event);
  write_line(line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");  // a clone's bytes may be any
}

void FarmEvents::alert(const nlohmann::ordered_json& event) {
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  nlohmann::ordered_json line{{"time_ms", std::chrono::duration_cast<std::chrono::milliseconds>(now).count()}};
  line.update(event);
  std::string text = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  write_line(text);
  if (!thread_.joinable()) return;
  {
    std::lock_guard lock(queue_mutex_);
    if (queue_.size() >= kMaxQueued) {
      ++undelivered_;
      return;
    }
    queue_.push_back(std::move(text));
  }
  queued_.notify_one();
}

uint64_t FarmEvents::alerts_undelivered() const {
  std::lock_guard lock(queue_mutex_);
  return undelivered_;
}

std::optional<std::string> FarmEvents::send_to_socket(const std::string& line) const {
  auto address = control::unix_address(targets_.unix_socket);
  if (!address.ok()) return address.error().message;
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return errno_error("socket failed").message;
  const timeval timeout{0, 500'000};
  (void)::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&*address), sizeof *address) != 0)
    return errno_error("cannot connect to", targets_.unix_socket).message;
  if (auto sent = write_fully(fd.get(), line); !sent.ok()) return sent.error().message;
  return std::nullopt;
}

std::optional<std::string> FarmEvents::send_to_webhook(const std::string& line) const {
  http::ClientRequest request{.method = "POST", .body = line, .timeout = kDeliveryTimeout};
  auto response = http::send_request(*targets_.webhook, request);
  if (!response.ok()) return response.error().message;
  if (response->status < 200 || response->status >= 300)
    return "the webhook answered " + std::to_string(response->status);
  return std::nullopt;
}

void FarmEvents::deliver(std::stop_token stop) {
  for (;;) {
    std::string line;
    {
      std::unique_lock lock(queue_mutex_);
      queued_.wait(lock, [&] { return !queue_.empty() || stop.stop_requested(); });
      if (queue_.empty()) return;
      // Stopping: what is queued is counted as undelivered, so a dead receiver cannot hold the
      // farm's exit for a timeout per alert (each alert is on stdout all the same).
      if (stop.stop_requested()) {
        undelivered_ += queue_.size();
        queue_.clear();
        return;
      }
      line = std::move(queue_.front());
      queue_.pop_front();
    }
    const auto fail = [&](const char* target, const std::string& error) {
      {
        std::lock_guard lock(queue_mutex_);
        ++undelivered_;
      }
      emit({{"event", "alert_undelivered"}, {"to", target}, {"error", error}});
    };
    if (!targets_.unix_socket.empty())
      if (auto error = send_to_socket(line)) fail("alert_socket", *error);
    if (targets_.webhook)
      if (auto error = send_to_webhook(line)) fail("alert_webhook", *error);
  }
}

}  // namespace vmhive::farm
