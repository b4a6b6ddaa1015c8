// WebAssembly-only stand-in for absl/status/statusor.h (see wasm/README.md).
//
//   absl::StatusOr<int> Parse(std::string_view s);
//   auto n = Parse("3");
//   if (n.ok()) use(*n); else report(n.status());
#ifndef LIBRA_WASM_ABSL_COMPAT_STATUS_STATUSOR_H_
#define LIBRA_WASM_ABSL_COMPAT_STATUS_STATUSOR_H_

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <type_traits>
#include <utility>

#include "absl/status/status.h"

namespace absl {

template <typename T>
class [[nodiscard]] StatusOr {
 public:
  StatusOr() : status_(StatusCode::kUnknown, "") {}
  StatusOr(const Status& status) : status_(status) { CheckNotOk(); }
  StatusOr(Status&& status) : status_(std::move(status)) { CheckNotOk(); }
  StatusOr(const T& value) : value_(value) {}
  StatusOr(T&& value) : value_(std::move(value)) {}
  template <typename U,
            typename = std::enable_if_t<std::is_constructible_v<T, U&&> &&
                                        !std::is_same_v<std::decay_t<U>, T> &&
                                        !std::is_same_v<std::decay_t<U>, Status> &&
                                        !std::is_same_v<std::decay_t<U>, StatusOr<T>>>>
  StatusOr(U&& value) : value_(T(std::forward<U>(value))) {}
  template <typename U, typename = std::enable_if_t<!std::is_same_v<U, T> &&
                                                    std::is_constructible_v<T, const U&>>>
  StatusOr(const StatusOr<U>& other)
      : status_(other.status()) {
    if (other.ok()) value_.emplace(*other);
  }
  template <typename U, typename = std::enable_if_t<!std::is_same_v<U, T> &&
                                                    std::is_constructible_v<T, U&&>>>
  StatusOr(StatusOr<U>&& other) : status_(other.status()) {
    if (other.ok()) value_.emplace(std::move(*other));
  }

  StatusOr(const StatusOr&) = default;
  StatusOr(StatusOr&&) = default;
  StatusOr& operator=(const StatusOr&) = default;
  StatusOr& operator=(StatusOr&&) = default;

  bool ok() const { return status_.ok(); }
  const Status& status() const& { return status_; }
  Status status() && { return std::move(status_); }

  const T& value() const& { CheckOk(); return *value_; }
  T& value() & { CheckOk(); return *value_; }
  T&& value() && { CheckOk(); return std::move(*value_); }
  const T& operator*() const& { return value(); }
  T& operator*() & { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  const T* operator->() const { return &value(); }
  T* operator->() { return &value(); }
  template <typename U>
  T value_or(U&& fallback) const& {
    return ok() ? *value_ : static_cast<T>(std::forward<U>(fallback));
  }
  void IgnoreError() const {}

 private:
  void CheckNotOk() {
    if (status_.ok()) status_ = Status(StatusCode::kInternal, "OK status assigned to StatusOr");
  }
  void CheckOk() const {
    if (!ok()) {
      std::fprintf(stderr, "StatusOr::value() on error: %s\n", status_.ToString().c_str());
      std::abort();
    }
  }

  Status status_;
  std::optional<T> value_;
};

}  // namespace absl

#endif  // LIBRA_WASM_ABSL_COMPAT_STATUS_STATUSOR_H_
