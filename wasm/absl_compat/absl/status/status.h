// WebAssembly-only stand-in for absl/status/status.h (see wasm/README.md).
//
// Debian ships Abseil as headers plus native shared libraries, so the wasm
// build cannot link the real absl::Status. This header gives the subset of
// its API that src/core uses, with the same names and semantics:
//
//   absl::Status s = absl::InvalidArgumentError("bad shape");
//   if (!s.ok()) std::puts(s.ToString().c_str());  // "INVALID_ARGUMENT: bad shape"
#ifndef LIBRA_WASM_ABSL_COMPAT_STATUS_STATUS_H_
#define LIBRA_WASM_ABSL_COMPAT_STATUS_STATUS_H_

#include <ostream>
#include <string>
#include <string_view>

#include "absl/strings/string_view.h"
#include <utility>

namespace absl {

enum class StatusCode : int {
  kOk = 0,
  kCancelled = 1,
  kUnknown = 2,
  kInvalidArgument = 3,
  kDeadlineExceeded = 4,
  kNotFound = 5,
  kAlreadyExists = 6,
  kPermissionDenied = 7,
  kResourceExhausted = 8,
  kFailedPrecondition = 9,
  kAborted = 10,
  kOutOfRange = 11,
  kUnimplemented = 12,
  kInternal = 13,
  kUnavailable = 14,
  kDataLoss = 15,
  kUnauthenticated = 16,
};

inline std::string StatusCodeToString(StatusCode code) {
  switch (code) {
    case StatusCode::kOk: return "OK";
    case StatusCode::kCancelled: return "CANCELLED";
    case StatusCode::kUnknown: return "UNKNOWN";
    case StatusCode::kInvalidArgument: return "INVALID_ARGUMENT";
    case StatusCode::kDeadlineExceeded: return "DEADLINE_EXCEEDED";
    case StatusCode::kNotFound: return "NOT_FOUND";
    case StatusCode::kAlreadyExists: return "ALREADY_EXISTS";
    case StatusCode::kPermissionDenied: return "PERMISSION_DENIED";
    case StatusCode::kResourceExhausted: return "RESOURCE_EXHAUSTED";
    case StatusCode::kFailedPrecondition: return "FAILED_PRECONDITION";
    case StatusCode::kAborted: return "ABORTED";
    case StatusCode::kOutOfRange: return "OUT_OF_RANGE";
    case StatusCode::kUnimplemented: return "UNIMPLEMENTED";
    case StatusCode::kInternal: return "INTERNAL";
    case StatusCode::kUnavailable: return "UNAVAILABLE";
    case StatusCode::kDataLoss: return "DATA_LOSS";
    case StatusCode::kUnauthenticated: return "UNAUTHENTICATED";
  }
  return "UNKNOWN";
}

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string_view message)
      : code_(code), message_(code == StatusCode::kOk ? "" : std::string(message)) {}

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  int raw_code() const { return static_cast<int>(code_); }
  std::string_view message() const { return message_; }
  std::string ToString() const {
    if (ok()) return "OK";
    return StatusCodeToString(code_) + ": " + message_;
  }
  void IgnoreError() const {}
  // Keeps the first error, as absl does.
  void Update(const Status& other) {
    if (ok() && !other.ok()) *this = other;
  }
  friend bool operator==(const Status& a, const Status& b) {
    return a.code_ == b.code_ && a.message_ == b.message_;
  }
  friend bool operator!=(const Status& a, const Status& b) { return !(a == b); }

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

inline std::ostream& operator<<(std::ostream& os, const Status& status) {
  return os << status.ToString();
}

inline Status OkStatus() { return Status(); }

#define LIBRA_ABSL_COMPAT_ERROR_(Name, Code)                                      \
  inline Status Name##Error(std::string_view message) {                          \
    return Status(StatusCode::Code, message);                                    \
  }                                                                               \
  inline bool Is##Name(const Status& status) { return status.code() == StatusCode::Code; }

LIBRA_ABSL_COMPAT_ERROR_(Aborted, kAborted)
LIBRA_ABSL_COMPAT_ERROR_(AlreadyExists, kAlreadyExists)
LIBRA_ABSL_COMPAT_ERROR_(Cancelled, kCancelled)
LIBRA_ABSL_COMPAT_ERROR_(DataLoss, kDataLoss)
LIBRA_ABSL_COMPAT_ERROR_(DeadlineExceeded, kDeadlineExceeded)
LIBRA_ABSL_COMPAT_ERROR_(FailedPrecondition, kFailedPrecondition)
LIBRA_ABSL_COMPAT_ERROR_(Internal, kInternal)
LIBRA_ABSL_COMPAT_ERROR_(InvalidArgument, kInvalidArgument)
LIBRA_ABSL_COMPAT_ERROR_(NotFound, kNotFound)
LIBRA_ABSL_COMPAT_ERROR_(OutOfRange, kOutOfRange)
LIBRA_ABSL_COMPAT_ERROR_(PermissionDenied, kPermissionDenied)
LIBRA_ABSL_COMPAT_ERROR_(ResourceExhausted, kResourceExhausted)
LIBRA_ABSL_COMPAT_ERROR_(Unauthenticated, kUnauthenticated)
LIBRA_ABSL_COMPAT_ERROR_(Unavailable, kUnavailable)
LIBRA_ABSL_COMPAT_ERROR_(Unimplemented, kUnimplemented)
LIBRA_ABSL_COMPAT_ERROR_(Unknown, kUnknown)

#undef LIBRA_ABSL_COMPAT_ERROR_

}  // namespace absl

#endif  // LIBRA_WASM_ABSL_COMPAT_STATUS_STATUS_H_
