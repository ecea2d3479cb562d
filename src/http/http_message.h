// A request as the HTTP server hands it to its owner, and the response the
// owner gives back: plain data, no parser or socket types (those stay in
// the .cc files), so every module that serves an API can include it.
#pragma once

#include <sys/types.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

namespace vmhive::http {

struct Request {
  std::string method;                          // "GET", "PUT", ... (as sent: methods are case-sensitive)
  std::string target;                          // as sent: "/vms/web-1?follow=1"
  std::string path;                            // the target without its query: "/vms/web-1" (not decoded)
  std::map<std::string, std::string> query;    // "follow" -> "1" (percent-decoded; a repeated key keeps the last)
  std::map<std::string, std::string> headers;  // names lower-cased; repeated fields joined with ", "
  std::string body;                            // de-chunked
  unsigned version = 11;                       // 10 for HTTP/1.0, 11 for HTTP/1.1
  // Whether the connection may carry another request after this one's reply
  // (HTTP/1.1 without "Connection: close"; never for HTTP/1.0).
  bool keep_alive = true;
  uid_t peer_uid = 0;  // filled in by the server (SO_PEERCRED)
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body{};
  std::vector<std::pair<std::string, std::string>> headers{};  // extra ones
  // A streamed response: the headers go out at once (chunked), then the
  // owner sends chunks with HttpServer::send_chunk(connection id) until it
  // ends the stream or the client goes away. `body`, if any, is the first
  // chunk. The connection closes when the stream ends.
  bool stream = false;
  // The answer comes later: the owner calls HttpServer::respond(connection
  // id) when it has it (a VM that has to answer first, say). Meanwhile the
  // connection waits without a deadline of its own and reads nothing more
  // (a client that went away is found when the answer is written); a
  // respond() for a connection that is gone is ignored.
  bool deferred = false;
};

}  // namespace vmhive::http
