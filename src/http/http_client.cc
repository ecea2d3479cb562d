#include "http/http_client.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <sstream>

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include "common/errno_error.h"
#include "common/fd_io.h"
#include "common/unique_fd.h"
#include "control/unix_address.h"

namespace vmhive::http {
namespace {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;

Result<UniqueFd> connect_and_send(const std::string& socket_path, const ClientRequest& request) {
  const sockaddr_un address = VMHIVE_TRY(control::unix_address(socket_path));
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return errno_error("socket failed");
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0)
    return errno_error("cannot connect to", socket_path);
  bhttp::request<bhttp::string_body> message{bhttp::string_to_verb(request.method), request.target, 11};
  message.set(bhttp::field::host, "localhost");
  message.set(bhttp::field::user_agent, "vmhive");
  message.set(bhttp::field::connection, "close");
  if (!request.body.empty()) message.set(bhttp::field::content_type, request.content_type);
  message.body() = request.body;
  message.prepare_payload();
  std::ostringstream text;
  text << message;
  if (auto sent = write_fully(fd.get(), text.str()); !sent.ok())
    return with_context("cannot send the request to " + socket_path, sent.error());
  return fd;
}

// Reads what has come, waiting at most `timeout` (0: for ever); 0 bytes at the end.
Result<size_t> read_some(int fd, char* buffer, size_t size, std::chrono::milliseconds timeout) {
  pollfd wait{fd, POLLIN, 0};
  for (;;) {
    const int ready = ::poll(&wait, 1, timeout.count() > 0 ? static_cast<int>(timeout.count()) : -1);
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) return errno_error("poll failed");
    if (ready == 0) return make_error("no answer within " + std::to_string(timeout.count()) + " ms");
    const ssize_t count = ::read(fd, buffer, size);
    if (count < 0 && errno == EINTR) continue;
    if (count < 0) return errno_error("read failed");
    return static_cast<size_t>(count);
  }
}

// Feeds bytes to a Beast parser until `done` says so; `pending` keeps what
// the parser has not taken yet.
template <typename Parser, typename Done>
Result<void> feed_until(int fd, Parser& parser, std::string& pending, std::chrono::milliseconds timeout, Done done) {
  char buffer[16384];
  while (!done()) {
    if (!pending.empty()) {
      beast::error_code error;
      const size_t used = parser.put(boost::asio::buffer(pending.data(), pending.size()), error);
      pending.erase(0, used);
      if (error == bhttp::error::need_more) error = {};
      else if (error == bhttp::error::need_buffer) return {};
      if (error) return make_error("a malformed answer: " + error.message());
      if (used > 0) continue;
    }
    const size_t count = VMHIVE_TRY(read_some(fd, buffer, sizeof buffer, timeout));
    if (count == 0) {
      beast::error_code error;
      parser.put_eof(error);
      if (error) return make_error("the answer was cut short: " + error.message());
      return {};
    }
    pending.append(buffer, count);
  }
  return {};
}

}  // namespace

Result<ClientResponse> send_request(const std::string& socket_path, const ClientRequest& request) {
  UniqueFd fd = VMHIVE_TRY(connect_and_send(socket_path, request));
  bhttp::response_parser<bhttp::string_body> parser;
  parser.eager(true);
  parser.body_limit(64u << 20);
  std::string pending;
  if (auto fed = feed_until(fd.get(), parser, pending, request.timeout, [&] { return parser.is_done(); }); !fed.ok())
    return with_context(socket_path, fed.error());
  const auto& message = parser.get();
  return ClientResponse{static_cast<int>(message.result_int()), std::string(message[bhttp::field::content_type]),
                        message.body()};
}

Result<ClientResponse> follow_stream(const std::string& socket_path, const ClientRequest& request,
                                     const std::function<bool(std::string_view)>& on_data) {
  UniqueFd fd = VMHIVE_TRY(connect_and_send(socket_path, request));
  bhttp::response_parser<bhttp::buffer_body> parser;
  parser.body_limit(boost::none);
  std::string pending;
  if (auto fed = feed_until(fd.get(), parser, pending, request.timeout, [&] { return parser.is_header_done(); });
      !fed.ok())
    return with_context(socket_path, fed.error());
  ClientResponse response{static_cast<int>(parser.get().result_int()),
                          std::string(parser.get()[bhttp::field::content_type]), {}};
  const bool success = response.status >= 200 && response.status < 300;
  char piece[16384];
  while (!parser.is_done()) {
    parser.get().body().data = piece;
    parser.get().body().size = sizeof piece;
    parser.get().body().more = true;
    auto fed = feed_until(fd.get(), parser, pending, std::chrono::milliseconds(0),
                          [&] { return parser.get().body().size < sizeof piece || parser.is_done(); });
    if (!fed.ok()) return with_context(socket_path, fed.error());
    const bool progressed = parser.get().body().size < sizeof piece;
    const std::string_view data(piece, sizeof piece - parser.get().body().size);
    if (!success) {
      response.body.append(data);
    } else if (!data.empty() && !on_data(data)) {
      break;
    }
    if (!progressed && !parser.is_done()) break;  // the server closed the connection
  }
  return response;
}

}  // namespace vmhive::http
