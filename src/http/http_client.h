// The client side of an HTTP API on a Unix socket (the CLI talking to
// vmhived), or over TCP to a URL (a webhook): one request per connection, through Boost.Beast, with a
// deadline; or a streamed response handed over piece by piece.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "common/result.h"

namespace vmhive::http {

struct ClientResponse {
  int status = 0;
  std::string content_type;
  std::string body;
};

struct ClientRequest {
  std::string method = "GET";
  std::string target = "/";
  std::string body;
  std::string content_type = "application/json";
  std::chrono::milliseconds timeout{30000};  // for each read and write; 0: none (streams)
};

Result<ClientResponse> send_request(const std::string& socket_path, const ClientRequest& request);

// An http:// URL with an IPv4 address for its host (no name is looked up):
// where a webhook is sent.
struct HttpUrl {
  std::string host;     // dotted IPv4
  uint16_t port = 80;
  std::string target = "/";
};
Result<HttpUrl> parse_http_url(std::string_view url);
// The request (its target replaced by the URL's) over TCP; the connection
// too is made within request.timeout.
Result<ClientResponse> send_request(const HttpUrl& url, ClientRequest request);

// For a streamed response: `on_data` gets each piece of the body as it
// arrives, until the server ends it or `on_data` returns false. A status
// other than 2xx reads the whole (error) body into the returned response.
Result<ClientResponse> follow_stream(const std::string& socket_path, const ClientRequest& request,
                                     const std::function<bool(std::string_view)>& on_data);

}  // namespace vmhive::http
