#include "http/http_client.h"

#include <poll.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
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

Result<void> send_message(int fd, const ClientRequest& request, const std::string& host, const std::string& where) {
  bhttp::request<bhttp::string_body> message{bhttp::string_to_verb(request.method), request.target, 11};
  message.set(bhttp::field::host, host);
  message.set(bhttp::field::user_agent, "vmhive");
  message.set(bhttp::field::connection, "close");
  if (!request.body.empty()) message.set(bhttp::field::content_type, request.content_type);
  message.body() = request.body;
  message.prepare_payload();
  std::ostringstream text;
  text << message;
  if (auto sent = write_fully(fd, text.str()); !sent.ok()) return with_context("cannot send the request to " + where, sent.error());
  return {};
}

Result<UniqueFd> connect_and_send(const std::string& socket_path, const ClientRequest& request) {
  const sockaddr_un address = VMHIVE_TRY(control::unix_address(socket_path));
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return errno_error("socket failed");
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0)
    return errno_error("cannot connect to", socket_path);
  VMHIVE_CHECK(send_message(fd.get(), request, "localhost", socket_path));
  return fd;
}

// A TCP connection to url's address, made within `timeout`, and the request sent on it.
Result<UniqueFd> connect_and_send(const HttpUrl& url, const ClientRequest& request) {
  const std::string where = url.host + ":" + std::to_string(url.port);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(url.port);
  if (::inet_pton(AF_INET, url.host.c_str(), &address.sin_addr) != 1) return make_error("not an IPv4 address: " + url.host);
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd.valid()) return errno_error("socket failed");
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
    if (errno != EINPROGRESS) return errno_error("cannot connect to", where);
    pollfd wait{fd.get(), POLLOUT, 0};
    const int ready = ::poll(&wait, 1, request.timeout.count() > 0 ? static_cast<int>(request.timeout.count()) : -1);
    if (ready < 0) return errno_error("poll failed");
    if (ready == 0) return make_error("cannot connect to " + where + ": no answer within " +
                                      std::to_string(request.timeout.count()) + " ms");
    int error = 0;
    socklen_t length = sizeof error;
    (void)::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &error, &length);
    if (error != 0) return make_error("cannot connect to " + where + ": " + std::strerror(error));
  }
  const int flags = ::fcntl(fd.get(), F_GETFL);
  if (flags < 0 || ::fcntl(fd.get(), F_SETFL, flags & ~O_NONBLOCK) != 0) return errno_error("fcntl failed");
  VMHIVE_CHECK(send_message(fd.get(), request, where, where));
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

template <typename Where>
Result<ClientResponse> exchange(const Where& where, const std::string& name, const ClientRequest& request) {
  UniqueFd fd = VMHIVE_TRY(connect_and_send(where, request));
  bhttp::response_parser<bhttp::string_body> parser;
  parser.eager(true);
  parser.body_limit(64u << 20);
  std::string pending;
  if (auto fed = feed_until(fd.get(), parser, pending, request.timeout, [&] { return parser.is_done(); }); !fed.ok())
    return with_context(name, fed.error());
  const auto& message = parser.get();
  return ClientResponse{static_cast<int>(message.result_int()), std::string(message[bhttp::field::content_type]),
                        message.body()};
}

}  // namespace

Result<ClientResponse> send_request(const std::string& socket_path, const ClientRequest& request) {
  return exchange(socket_path, socket_path, request);
}

Result<HttpUrl> parse_http_url(std::string_view url) {
  constexpr std::string_view kScheme = "http://";
  const auto bad = [&](const std::string& why) {
    return make_error("\"" + std::string(url.substr(0, 200)) + "\" is not a URL like http://192.0.2.7:8080/alerts: " + why);
  };
  if (url.size() > 2048) return bad("it is longer than 2,048 characters");
  if (url.substr(0, kScheme.size()) != kScheme) return bad("it must start with http://");
  const std::string_view rest = url.substr(kScheme.size());
  const size_t slash = rest.find('/');
  const std::string_view authority = rest.substr(0, slash);
  HttpUrl parsed;
  parsed.target = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
  for (char c : parsed.target)
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) return bad("the path has a space or a control character");
  const size_t colon = authority.find(':');
  parsed.host = std::string(authority.substr(0, colon));
  in_addr ignored{};
  if (::inet_pton(AF_INET, parsed.host.c_str(), &ignored) != 1) return bad("the host must be an IPv4 address");
  if (colon != std::string_view::npos) {
    const std::string_view port = authority.substr(colon + 1);
    unsigned value = 0;
    if (port.empty() || port.size() > 5) return bad("the port must be 1-65535");
    for (char c : port) {
      if (c < '0' || c > '9') return bad("the port must be 1-65535");
      value = value * 10 + static_cast<unsigned>(c - '0');
    }
    if (value == 0 || value > 65535) return bad("the port must be 1-65535");
    parsed.port = static_cast<uint16_t>(value);
  }
  return parsed;
}

Result<ClientResponse> send_request(const HttpUrl& url, ClientRequest request) {
  request.target = url.target;
  return exchange(url, url.host + ":" + std::to_string(url.port), request);
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
