#include "http/http_request_reader.h"

#include <boost/beast/core/string.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/rfc7230.hpp>
#include <boost/beast/http/string_body.hpp>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <optional>

namespace vmhive::http {

namespace beast = boost::beast;
namespace beast_http = boost::beast::http;

struct HttpRequestReader::Parser {
  beast_http::request_parser<beast_http::string_body> parser;
  bool header_checked = false;
};

namespace {

// Beast 1.74 speaks boost::string_view.
std::string to_string(beast::string_view text) { return std::string(text.data(), text.size()); }

std::optional<int> hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return std::nullopt;
}

// application/x-www-form-urlencoded style: %XX escapes, '+' for a space.
std::optional<std::string> percent_decode(std::string_view text) {
  std::string decoded;
  decoded.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '+') {
      decoded += ' ';
    } else if (text[i] != '%') {
      decoded += text[i];
    } else {
      if (i + 2 >= text.size()) return std::nullopt;
      const auto high = hex_value(text[i + 1]), low = hex_value(text[i + 2]);
      if (!high || !low) return std::nullopt;
      decoded += static_cast<char>(*high * 16 + *low);
      i += 2;
    }
  }
  return decoded;
}

// "a=1&b=x%20y&flag" -> {a: 1, b: "x y", flag: ""}; nullopt on a bad escape.
std::optional<std::map<std::string, std::string>> parse_query(std::string_view query) {
  std::map<std::string, std::string> pairs;
  while (!query.empty()) {
    const size_t end = std::min(query.find('&'), query.size());
    const std::string_view pair = query.substr(0, end);
    query.remove_prefix(std::min(end + 1, query.size()));
    if (pair.empty()) continue;
    const size_t equals = std::min(pair.find('='), pair.size());
    auto key = percent_decode(pair.substr(0, equals));
    auto value = percent_decode(pair.substr(std::min(equals + 1, pair.size())));
    if (!key || !value) return std::nullopt;
    pairs[std::move(*key)] = std::move(*value);
  }
  return pairs;
}

int status_for(const beast::error_code& error) {
  if (error == beast_http::error::header_limit) return 431;
  if (error == beast_http::error::body_limit) return 413;
  return 400;
}

ReadOutcome failed(int status, std::string message) {
  ReadOutcome outcome;
  outcome.state = ReadOutcome::State::kFailed;
  outcome.status = status;
  outcome.message = std::move(message);
  return outcome;
}

// Beast frames a body by "chunked" only when it is the last coding and
// ignores the others; a request must not rely on either (RFC 7230 §3.3.1,
// §3.3.3: without a final "chunked" its length is unknowable).
std::optional<ReadOutcome> check_transfer_encoding(const beast_http::request_parser<beast_http::string_body>& parser) {
  const auto& header = parser.get();
  const auto field = header.find(beast_http::field::transfer_encoding);
  if (field == header.end()) return std::nullopt;
  if (!parser.chunked()) return failed(400, "malformed request: a transfer coding without a final \"chunked\"");
  for (const auto coding : beast_http::token_list(field->value()))
    if (!beast::iequals(coding, "chunked"))
      return failed(501,
                    "transfer coding \"" + to_string(coding) + "\" is not supported; send the body as is or chunked");
  return std::nullopt;
}

// The parsed message as a Request; fails for a target that is not a path
// ("*", "http://host/...": nothing here serves those) or a bad query.
ReadOutcome complete(beast_http::request<beast_http::string_body>&& message, size_t consumed) {
  ReadOutcome outcome;
  outcome.state = ReadOutcome::State::kComplete;
  outcome.consumed = consumed;
  Request& request = outcome.request;
  request.method = to_string(message.method_string());
  request.target = to_string(message.target());
  if (request.target.empty() || request.target.front() != '/')
    return failed(400, "malformed request: the target \"" + request.target + "\" is not a path");
  const size_t question = std::min(request.target.find('?'), request.target.size());
  request.path = request.target.substr(0, question);
  auto query = parse_query(std::string_view(request.target).substr(std::min(question + 1, request.target.size())));
  if (!query) return failed(400, "malformed request: a bad %-escape in the query of " + request.target);
  request.query = std::move(*query);
  for (const auto& field : message) {
    std::string name = to_string(field.name_string());
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
    const auto [it, inserted] = request.headers.emplace(std::move(name), to_string(field.value()));
    if (!inserted) it->second += ", " + to_string(field.value());  // RFC 7230 §3.2.2
  }
  request.version = message.version();
  request.keep_alive = message.version() >= 11 && message.keep_alive();
  request.body = std::move(message.body());
  return outcome;
}

}  // namespace

HttpRequestReader::HttpRequestReader(ReaderLimits limits) : limits_(limits) { reset(); }
HttpRequestReader::HttpRequestReader(HttpRequestReader&&) noexcept = default;
HttpRequestReader& HttpRequestReader::operator=(HttpRequestReader&&) noexcept = default;
HttpRequestReader::~HttpRequestReader() = default;

void HttpRequestReader::reset() {
  parser_ = std::make_unique<Parser>();
  auto& parser = parser_->parser;
  parser.eager(true);  // the body as it comes, not just the header
  parser.header_limit(static_cast<std::uint32_t>(std::min<size_t>(limits_.max_header_bytes, UINT32_MAX)));
  parser.body_limit(limits_.max_body_bytes);
  buffered_.clear();
  finished_ = false;
}

bool HttpRequestReader::expects_continue() const {
  if (finished_ || !parser_->parser.is_header_done() || parser_->parser.is_done()) return false;
  const auto& header = parser_->parser.get();
  const auto expect = header.find(beast_http::field::expect);
  return expect != header.end() && beast::iequals(expect->value(), "100-continue");
}

ReadOutcome HttpRequestReader::feed(std::string_view bytes) {
  if (finished_) return failed(400, "internal error: a request reader fed after its request ended");
  auto& parser = parser_->parser;
  // Beast takes a header (and a chunk line) only whole, from one buffer:
  // what it leaves is kept and offered again with the next bytes.
  buffered_.append(bytes);
  size_t taken = 0;
  beast::error_code error;
  while (taken < buffered_.size() && !parser.is_done()) {
    const size_t used =
        parser.put(boost::asio::const_buffer(buffered_.data() + taken, buffered_.size() - taken), error);
    taken += used;
    if (error == beast_http::error::need_more) {
      error = {};
      break;
    }
    if (error || used == 0) break;
  }
  if (error) {
    finished_ = true;
    return failed(status_for(error), "malformed request: " + error.message());
  }
  if (parser.is_header_done() && !parser_->header_checked) {
    parser_->header_checked = true;
    if (auto refused = check_transfer_encoding(parser)) {
      finished_ = true;
      return std::move(*refused);
    }
  }
  if (!parser.is_done()) {
    buffered_.erase(0, taken);
    // Beast bounds the header but not a chunk line or the trailers.
    if (buffered_.size() > limits_.max_header_bytes) {
      finished_ = true;
      return failed(431, "malformed request: a header, chunk line or trailer longer than " +
                             std::to_string(limits_.max_header_bytes) + " bytes");
    }
    ReadOutcome outcome;
    outcome.consumed = bytes.size();
    return outcome;
  }
  finished_ = true;
  // Everything fed before this piece preceded the end of the request.
  const size_t left = buffered_.size() - taken;
  buffered_.clear();
  return complete(parser.release(), bytes.size() - std::min(left, bytes.size()));
}

}  // namespace vmhive::http
