// The HTTP request reader on bytes alone: what it makes of whole, split,
// pipelined, oversized and malformed requests.
#include "http/http_request_reader.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace vmhive::http {
namespace {

using State = ReadOutcome::State;

ReadOutcome read_all(std::string_view bytes, ReaderLimits limits = {}) {
  HttpRequestReader reader(limits);
  return reader.feed(bytes);
}

TEST(HttpRequestReader, ASimpleGet) {
  const std::string bytes = "GET /vms/web-1 HTTP/1.1\r\nHost: x\r\nX-Trace-ID: abc\r\n\r\n";
  const ReadOutcome outcome = read_all(bytes);
  ASSERT_EQ(outcome.state, State::kComplete) << outcome.message;
  EXPECT_EQ(outcome.consumed, bytes.size());
  EXPECT_EQ(outcome.request.method, "GET");
  EXPECT_EQ(outcome.request.target, "/vms/web-1");
  EXPECT_EQ(outcome.request.path, "/vms/web-1");
  EXPECT_TRUE(outcome.request.query.empty());
  EXPECT_EQ(outcome.request.headers.at("host"), "x");
  EXPECT_EQ(outcome.request.headers.at("x-trace-id"), "abc") << "names are lower-cased, values are not";
  EXPECT_EQ(outcome.request.body, "");
  EXPECT_EQ(outcome.request.version, 11u);
  EXPECT_TRUE(outcome.request.keep_alive);
}

TEST(HttpRequestReader, ABodyByContentLength) {
  const ReadOutcome outcome = read_all("PUT /machine-config HTTP/1.1\r\nContent-Length: 11\r\n\r\n{\"vcpus\":2}");
  ASSERT_EQ(outcome.state, State::kComplete) << outcome.message;
  EXPECT_EQ(outcome.request.method, "PUT");
  EXPECT_EQ(outcome.request.body, "{\"vcpus\":2}");
}

TEST(HttpRequestReader, AChunkedBody) {
  const ReadOutcome outcome =
      read_all("POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\n");
  ASSERT_EQ(outcome.state, State::kComplete) << outcome.message;
  EXPECT_EQ(outcome.request.body, "hello world");
}

TEST(HttpRequestReader, PipelinedRequestsAreReadOneAfterTheOther) {
  const std::string first = "GET /a HTTP/1.1\r\n\r\n";
  const std::string second = "POST /b HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi";
  const std::string bytes = first + second;
  HttpRequestReader reader;
  ReadOutcome outcome = reader.feed(bytes);
  ASSERT_EQ(outcome.state, State::kComplete);
  EXPECT_EQ(outcome.request.path, "/a");
  EXPECT_EQ(outcome.consumed, first.size());
  reader.reset();
  outcome = reader.feed(std::string_view(bytes).substr(first.size()));
  ASSERT_EQ(outcome.state, State::kComplete);
  EXPECT_EQ(outcome.request.path, "/b");
  EXPECT_EQ(outcome.request.body, "hi");
  EXPECT_EQ(outcome.consumed, second.size());
}

TEST(HttpRequestReader, TheQueryIsSplitAndDecoded) {
  const ReadOutcome outcome = read_all("GET /logs?follow=1&name=web%2D1+a&empty=&flag&&x=%7e HTTP/1.1\r\n\r\n");
  ASSERT_EQ(outcome.state, State::kComplete) << outcome.message;
  EXPECT_EQ(outcome.request.path, "/logs");
  EXPECT_EQ(outcome.request.target, "/logs?follow=1&name=web%2D1+a&empty=&flag&&x=%7e");
  const std::map<std::string, std::string> expected{
      {"follow", "1"}, {"name", "web-1 a"}, {"empty", ""}, {"flag", ""}, {"x", "~"}};
  EXPECT_EQ(outcome.request.query, expected);
  EXPECT_EQ(read_all("GET /?a=%zz HTTP/1.1\r\n\r\n").status, 400);
  EXPECT_EQ(read_all("GET /?a=%4 HTTP/1.1\r\n\r\n").status, 400);
}

TEST(HttpRequestReader, KeepAliveFollowsHttp11) {
  EXPECT_FALSE(read_all("GET / HTTP/1.1\r\nConnection: close\r\n\r\n").request.keep_alive);
  EXPECT_FALSE(read_all("GET / HTTP/1.0\r\n\r\n").request.keep_alive);
  EXPECT_FALSE(read_all("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").request.keep_alive);
  EXPECT_EQ(read_all("GET / HTTP/1.0\r\n\r\n").request.version, 10u);
}

TEST(HttpRequestReader, RepeatedHeadersAreJoined) {
  const ReadOutcome outcome = read_all("GET / HTTP/1.1\r\nAccept: a\r\naccept: b\r\n\r\n");
  ASSERT_EQ(outcome.state, State::kComplete);
  EXPECT_EQ(outcome.request.headers.at("accept"), "a, b");
}

TEST(HttpRequestReader, AHeaderBlockOverTheLimitIs431) {
  const ReaderLimits limits{.max_header_bytes = 256, .max_body_bytes = 1024};
  const ReadOutcome outcome = read_all("GET / HTTP/1.1\r\nX-Big: " + std::string(300, 'a') + "\r\n\r\n", limits);
  EXPECT_EQ(outcome.state, State::kFailed);
  EXPECT_EQ(outcome.status, 431);
  // Arriving a byte at a time, it fails as soon as it is too long, before its end.
  HttpRequestReader reader(limits);
  const std::string endless = "GET / HTTP/1.1\r\nX-Big: " + std::string(1000, 'a');
  size_t fed = 0;
  ReadOutcome piecewise;
  while (fed < endless.size() && piecewise.state == State::kNeedMore) piecewise = reader.feed(endless.substr(fed++, 1));
  EXPECT_EQ(piecewise.status, 431);
  EXPECT_LE(fed, 260u);
  // So does an endless chunk line, which Beast does not bound itself.
  HttpRequestReader chunks(limits);
  const ReadOutcome chunk_line =
      chunks.feed("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5;" + std::string(400, 'e'));
  EXPECT_EQ(chunk_line.status, 431);
}

TEST(HttpRequestReader, ABodyOverTheLimitIs413) {
  const ReaderLimits limits{.max_header_bytes = 1024, .max_body_bytes = 10};
  EXPECT_EQ(read_all("PUT / HTTP/1.1\r\nContent-Length: 11\r\n\r\n", limits).status, 413)
      << "refused on its declared length, before the body arrives";
  EXPECT_EQ(
      read_all("PUT / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nabcdef\r\n6\r\nabcdef\r\n", limits).status,
      413);
  EXPECT_EQ(read_all("PUT / HTTP/1.1\r\nContent-Length: 10\r\n\r\n0123456789", limits).state, State::kComplete);
}

TEST(HttpRequestReader, WhatIsNotHttpIs400) {
  for (const std::string bytes :
       {"hello\r\n\r\n", "GET / HTTP/2.0\r\n\r\n", "GET / HTTP/1.2\r\n\r\n", "GET / HTTP/1.1\r\nNo colon\r\n\r\n",
        "GET * HTTP/1.1\r\n\r\n", "GET http://host/ HTTP/1.1\r\n\r\n",
        "PUT / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
        "PUT / HTTP/1.1\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n",
        "PUT / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
        "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"}) {
    const ReadOutcome outcome = read_all(bytes);
    EXPECT_EQ(outcome.state, State::kFailed) << bytes;
    EXPECT_EQ(outcome.status, 400) << bytes << ": " << outcome.message;
    EXPECT_FALSE(outcome.message.empty());
  }
}

TEST(HttpRequestReader, ATransferCodingOtherThanChunkedIs501) {
  const ReadOutcome outcome = read_all("PUT / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n");
  EXPECT_EQ(outcome.state, State::kFailed);
  EXPECT_EQ(outcome.status, 501);
}

TEST(HttpRequestReader, ExpectContinueIsReportedWhileTheBodyIsAwaited) {
  HttpRequestReader reader;
  EXPECT_EQ(reader.feed("PUT / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n").state, State::kNeedMore);
  EXPECT_TRUE(reader.expects_continue());
  EXPECT_EQ(reader.feed("abc").state, State::kComplete);
  EXPECT_FALSE(reader.expects_continue());
}

// Every split of a request into two pieces, and a byte at a time, gives
// the same request as the whole, and the same count of bytes taken.
TEST(HttpRequestReader, EverySplitGivesTheSameRequest) {
  const std::vector<std::string> requests{
      "GET /a?b=c%20d HTTP/1.1\r\nHost: x\r\n\r\n",
      "PUT /machine-config HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{\"vcpus\":2}",
      "POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\nTrailer: t\r\n\r\n",
  };
  const std::string next = "GET /next HTTP/1.1\r\n\r\n";
  for (const std::string& request : requests) {
    const ReadOutcome whole = read_all(request);
    ASSERT_EQ(whole.state, State::kComplete) << request;
    const std::string bytes = request + next;
    for (size_t split = 0; split <= request.size(); ++split) {
      HttpRequestReader reader;
      ReadOutcome first = reader.feed(std::string_view(bytes).substr(0, split));
      size_t taken = first.consumed;
      ReadOutcome outcome = first;
      if (first.state == State::kNeedMore) {
        outcome = reader.feed(std::string_view(bytes).substr(split));
        taken += outcome.consumed;
      }
      ASSERT_EQ(outcome.state, State::kComplete) << request << " split at " << split;
      EXPECT_EQ(taken, request.size()) << "split at " << split;
      EXPECT_EQ(outcome.request.body, whole.request.body) << "split at " << split;
      EXPECT_EQ(outcome.request.headers, whole.request.headers) << "split at " << split;
      EXPECT_EQ(outcome.request.query, whole.request.query) << "split at " << split;
      EXPECT_EQ(outcome.request.target, whole.request.target) << "split at " << split;
    }
    HttpRequestReader bytewise;
    ReadOutcome outcome;
    size_t fed = 0;
    while (outcome.state == State::kNeedMore && fed < bytes.size()) outcome = bytewise.feed(bytes.substr(fed++, 1));
    ASSERT_EQ(outcome.state, State::kComplete);
    EXPECT_EQ(fed, request.size());
    EXPECT_EQ(outcome.request.body, whole.request.body);
    EXPECT_EQ(outcome.request.headers, whole.request.headers);
  }
}

}  // namespace
}  // namespace vmhive::http
