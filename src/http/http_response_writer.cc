#include "http/http_response_writer.h"

#include <boost/beast/core/buffers_range.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/serializer.hpp>
#include <boost/beast/http/string_body.hpp>

#include <cstdio>

namespace vmhive::http {

namespace beast = boost::beast;
namespace beast_http = boost::beast::http;
using Message = beast_http::response<beast_http::string_body>;

namespace {

bool safe_in_a_header(std::string_view text) { return text.find_first_of(std::string_view("\r\n\0", 3)) == text.npos; }

// The server frames the body and the connection; the handler does not.
bool framing_field(std::string_view name) {
  for (const char* framing : {"content-length", "transfer-encoding", "connection"})
    if (beast::iequals(beast::string_view(name.data(), name.size()), framing)) return true;
  return false;
}

Message header_of(const Response& response) {
  const int status = response.status >= 200 && response.status <= 599 ? response.status : 500;
  Message message(static_cast<beast_http::status>(status), 11);
  if (!response.content_type.empty() && safe_in_a_header(response.content_type))
    message.set(beast_http::field::content_type, response.content_type);
  for (const auto& [name, value] : response.headers) {
    if (name.empty() || !safe_in_a_header(name) || name.find(':') != name.npos || !safe_in_a_header(value) ||
        framing_field(name))
      continue;
    message.insert(beast::string_view(name), value);
  }
  return message;
}

std::string serialize(Message& message, bool header_only) {
  beast_http::serializer<false, beast_http::string_body> serializer(message);
  serializer.split(header_only);
  std::string out;
  beast::error_code error;
  while (!error && !(header_only ? serializer.is_header_done() : serializer.is_done())) {
    serializer.next(error, [&](beast::error_code& ec, const auto& buffers) {
      ec = {};
      size_t size = 0;
      for (const auto buffer : beast::buffers_range_ref(buffers)) {
        out.append(static_cast<const char*>(buffer.data()), buffer.size());
        size += buffer.size();
      }
      serializer.consume(size);
    });
  }
  return out;
}

}  // namespace

std::string write_response(const Response& response, bool keep_alive, bool head_only) {
  Message message = header_of(response);
  message.keep_alive(keep_alive);
  // 204 and 304 carry no body and no length (RFC 7230 §3.3.2); Beast's
  // prepare_payload would throw for them.
  if (message.result() == beast_http::status::no_content || message.result() == beast_http::status::not_modified) {
    return serialize(message, true);
  }
  message.body() = response.body;
  message.prepare_payload();
  return serialize(message, head_only);
}

std::string write_stream_header(const Response& response, bool chunked) {
  Message message = header_of(response);
  message.keep_alive(false);
  if (chunked) message.chunked(true);
  return serialize(message, true);
}

std::string frame_chunk(std::string_view data, bool chunked) {
  if (data.empty() || !chunked) return std::string(data);
  char size[24];
  const int length = std::snprintf(size, sizeof size, "%zx\r\n", data.size());
  std::string framed;
  framed.reserve(static_cast<size_t>(length) + data.size() + 2);
  framed.append(size, static_cast<size_t>(length)).append(data).append("\r\n");
  return framed;
}

std::string_view end_of_stream(bool chunked) { return chunked ? "0\r\n\r\n" : ""; }

}  // namespace vmhive::http
