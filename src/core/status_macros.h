// Status propagation macros for libra's core.
//
// The core returns absl::Status / absl::StatusOr and never throws. These two
// macros keep call sites short:
//
//   absl::StatusOr<Tensor> LoadScaled(const std::string& path) {
//     LIBRA_ASSIGN_OR_RETURN(SafetensorsFile file, SafetensorsFile::Open(path));
//     LIBRA_RETURN_IF_ERROR(file.CheckFinite());
//     ...
//   }
#ifndef LIBRA_CORE_STATUS_MACROS_H_
#define LIBRA_CORE_STATUS_MACROS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define LIBRA_STATUS_CONCAT_INNER_(a, b) a##b
#define LIBRA_STATUS_CONCAT_(a, b) LIBRA_STATUS_CONCAT_INNER_(a, b)

#define LIBRA_RETURN_IF_ERROR(expr)                  \
  do {                                               \
    const ::absl::Status libra_status_ = (expr);     \
    if (!libra_status_.ok()) return libra_status_;   \
  } while (0)

#define LIBRA_ASSIGN_OR_RETURN(lhs, expr) \
  LIBRA_ASSIGN_OR_RETURN_IMPL_(LIBRA_STATUS_CONCAT_(libra_statusor_, __LINE__), lhs, expr)

#define LIBRA_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, expr) \
  auto statusor = (expr);                                 \
  if (!statusor.ok()) return std::move(statusor).status(); \
  lhs = std::move(statusor).value()

#endif  // LIBRA_CORE_STATUS_MACROS_H_
