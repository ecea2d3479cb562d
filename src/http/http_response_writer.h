// Responses as the bytes that go on the wire, written by Boost.Beast (which
// stays out of this header). The server decides the framing (Content-Length,
// chunked, Connection); a handler's extra headers cannot override it, and a
// header with a line break or NUL in it is dropped, not sent.
#pragma once

#include <string>
#include <string_view>

#include "http/http_message.h"

namespace vmhive::http {

// A whole reply: status line, Content-Type, Content-Length, the extra
// headers, "Connection: close" unless `keep_alive`, and the body unless
// `head_only` (the reply to a HEAD request: every header, no body). A status
// outside 200-599 is a handler's bug: it goes out as 500.
std::string write_response(const Response& response, bool keep_alive, bool head_only = false);

// A streamed reply: its header now ("Transfer-Encoding: chunked" when
// `chunked`, else the body runs until the close: HTTP/1.0), then each piece
// framed by frame_chunk, then end_of_stream. The connection closes after it.
std::string write_stream_header(const Response& response, bool chunked);
std::string frame_chunk(std::string_view data, bool chunked);  // empty data: empty (a 0 chunk would end it)
std::string_view end_of_stream(bool chunked);

}  // namespace vmhive::http
