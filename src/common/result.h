// Errors as values at module edges. A small stand-in for std::expected that
// builds with both GCC 12 and Clang 14 (whose libstdc++ <expected> is empty).
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace vmhive {

// What kind of failure, for a caller that answers over a protocol (the
// daemon's HTTP API maps them to 400, 404, 409, 503); most errors are kOther.
enum class ErrorKind { kOther, kInvalid, kNotFound, kConflict, kUnavailable };

// What failed, with what input, and (where it helps) what to do.
struct Error {
  std::string message;
  ErrorKind kind = ErrorKind::kOther;
};

inline Error make_error(std::string message) { return Error{std::move(message)}; }
inline Error make_error(ErrorKind kind, std::string message) { return Error{std::move(message), kind}; }

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : state_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit by design
  Result(Error error) : state_(std::in_place_index<1>, std::move(error)) {}  // NOLINT

  bool ok() const { return state_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<0>(state_); }
  const T& value() const& { return std::get<0>(state_); }
  T&& value() && { return std::get<0>(std::move(state_)); }
  const Error& error() const { return std::get<1>(state_); }

  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<T, Error> state_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), failed_(true) {}  // NOLINT

  bool ok() const { return !failed_; }
  explicit operator bool() const { return ok(); }
  const Error& error() const { return error_; }

 private:
  Error error_;
  bool failed_ = false;
};

// Adds context in front of an error message: "loading kernel: <inner>".
inline Error with_context(const std::string& context, const Error& inner) {
  return Error{context + ": " + inner.message, inner.kind};
}

}  // namespace vmhive

// Propagates an error from an expression that yields a Result; evaluates to
// the value otherwise. Uses a statement expression (GCC and Clang).
#define VMHIVE_TRY(expr)                                   \
  ({                                                       \
    auto vmhive_try_result_ = (expr);                      \
    if (!vmhive_try_result_.ok())                          \
      return ::vmhive::Error(vmhive_try_result_.error());  \
    std::move(vmhive_try_result_).value();                 \
  })

// For Result<void> expressions.
#define VMHIVE_CHECK(expr)                                 \
  do {                                                     \
    auto vmhive_check_result_ = (expr);                    \
    if (!vmhive_check_result_.ok())                        \
      return ::vmhive::Error(vmhive_check_result_.error()); \
  } while (0)
