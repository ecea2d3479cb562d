// One HTTP/1.1 request read from whatever pieces a socket delivers: bytes
// in, and once the request is whole, the Request and how many of the last
// piece's bytes it took (the rest begin the next, pipelined request). Pure
// (no I/O), so it can be fuzzed. The parsing is Boost.Beast's (RFC 7230);
// this class only sets its limits and turns its verdicts into statuses:
//   400  not HTTP/1.0 or 1.1, a bad chunk, a target that is not a path, a
//        bad %-escape in the query
//   413  a body over the limit (declared or as it arrives)
//   431  a header block (or a chunk line, or trailers) over the limit
//   501  a transfer coding other than "chunked" (RFC 7230 §3.3.1)
// Beast stays out of this header (the parser sits behind a pointer).
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "http/http_message.h"

namespace vmhive::http {

struct ReaderLimits {
  size_t max_header_bytes = 16 * 1024;
  size_t max_body_bytes = 1024 * 1024;
};

// What feed() found.
struct ReadOutcome {
  enum class State { kNeedMore, kComplete, kFailed };
  State state = State::kNeedMore;
  // Bytes of this feed's input taken: all of them unless the request
  // completed (then the rest belong to the next request) or it failed.
  size_t consumed = 0;
  Request request;      // kComplete
  int status = 0;       // kFailed: the status to answer with (400, 413, 431, 501)
  std::string message;  // kFailed: why, for the error body
};

class HttpRequestReader {
 public:
  explicit HttpRequestReader(ReaderLimits limits = {});
  HttpRequestReader(HttpRequestReader&&) noexcept;
  HttpRequestReader& operator=(HttpRequestReader&&) noexcept;
  ~HttpRequestReader();

  // Takes the next bytes. After kComplete or kFailed, call reset() before
  // feeding the next request.
  ReadOutcome feed(std::string_view bytes);
  // Ready for the next request on the same connection.
  void reset();

  // The header is in, it asks for "Expect: 100-continue" and its body has
  // not all arrived: the client waits for a 100 before sending the body.
  bool expects_continue() const;

 private:
  struct Parser;
  ReaderLimits limits_;
  std::unique_ptr<Parser> parser_;
  std::string buffered_;  // bytes Beast has not taken yet (an incomplete header or chunk line)
  bool finished_ = false;
};

}  // namespace vmhive::http
