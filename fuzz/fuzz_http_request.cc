// An API connection's bytes, as a hostile local client sends them in any
// pieces: the first byte of each piece is its length. The requests
// (pipelined, one after another) are read by the real request reader and
// echoed back through the real response writer; nothing may crash, a body
// never exceeds its limit, a reader never takes bytes it was not given, a
// failure is always one of the statuses the server answers, and what a
// request puts into a reply's headers cannot add lines to them.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "http/http_request_reader.h"
#include "http/http_response_writer.h"

namespace {

constexpr vmhive::http::ReaderLimits kLimits{.max_header_bytes = 1024, .max_body_bytes = 4096};

void echo(const vmhive::http::Request& request) {
  if (request.body.size() > kLimits.max_body_bytes) __builtin_trap();
  if (request.path.empty() || request.path.front() != '/') __builtin_trap();
  vmhive::http::Response response{
      .content_type = request.headers.contains("accept") ? request.headers.at("accept") : "", .body = request.body};
  for (const auto& [name, value] : request.headers) response.headers.emplace_back(name, value);
  for (const auto& [name, value] : request.query) response.headers.emplace_back(name, value);
  const std::string reply = vmhive::http::write_response(response, request.keep_alive, request.method == "HEAD");
  if (reply.rfind("HTTP/1.1 200 OK\r\n", 0) != 0) __builtin_trap();
  // What a handler adds cannot split the reply: the header block is lines
  // ending in CRLF, with no bare CR, LF or NUL, and HEAD gets no body.
  const size_t end = reply.find("\r\n\r\n");
  if (end == std::string::npos) __builtin_trap();
  const std::string_view head(reply.data(), end + 2);
  for (size_t i = 0; i < head.size(); ++i) {
    if (head[i] == '\0') __builtin_trap();
    if (head[i] == '\r' && head[i + 1] != '\n') __builtin_trap();
    if (head[i] == '\n' && head[i - 1] != '\r') __builtin_trap();
  }
  if (request.method == "HEAD" && reply.size() != end + 4) __builtin_trap();
  (void)vmhive::http::frame_chunk(request.body, true);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  vmhive::http::HttpRequestReader reader(kLimits);
  size_t at = 0;
  while (at < size) {
    const size_t length = std::min<size_t>(data[at], size - at - 1);
    ++at;
    std::string_view piece(reinterpret_cast<const char*>(data + at), length);
    at += length;
    // A piece may hold the end of one request and the start of the next.
    for (;;) {
      const vmhive::http::ReadOutcome outcome = reader.feed(piece);
      if (outcome.consumed > piece.size()) __builtin_trap();
      if (outcome.state == vmhive::http::ReadOutcome::State::kFailed) {
        const int status = outcome.status;
        if (status != 400 && status != 413 && status != 431 && status != 501) __builtin_trap();
        return 0;
      }
      if (outcome.state == vmhive::http::ReadOutcome::State::kNeedMore) {
        if (outcome.consumed != piece.size()) __builtin_trap();
        break;
      }
      echo(outcome.request);
      reader.reset();
      piece.remove_prefix(outcome.consumed);
      if (piece.empty()) break;
    }
  }
  return 0;
}
