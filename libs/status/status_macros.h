// Early-return helpers for absl::Status / absl::StatusOr. Debian's Abseil
// (20220623) predates ABSL_RETURN_IF_ERROR, so the project keeps this one
// header instead of copies.
//
//   OMNICX_RETURN_IF_ERROR(client.Ping());
//   OMNICX_ASSIGN_OR_RETURN(redis::Reply reply, client.Command({"GET", key}));
#ifndef OMNICX_LIBS_STATUS_STATUS_MACROS_H_
#define OMNICX_LIBS_STATUS_STATUS_MACROS_H_

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define OMNICX_RETURN_IF_ERROR(expr)                 \
  do {                                               \
    ::absl::Status omnicx_status_ = (expr);          \
    if (!omnicx_status_.ok()) return omnicx_status_; \
  } while (0)

#define OMNICX_STATUS_CONCAT_INNER_(a, b) a##b
#define OMNICX_STATUS_CONCAT_(a, b) OMNICX_STATUS_CONCAT_INNER_(a, b)

#define OMNICX_ASSIGN_OR_RETURN(lhs, expr) \
  OMNICX_ASSIGN_OR_RETURN_IMPL_(           \
      OMNICX_STATUS_CONCAT_(omnicx_statusor_, __LINE__), lhs, expr)

#define OMNICX_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, expr) \
  auto statusor = (expr);                                  \
  if (!statusor.ok()) return std::move(statusor).status(); \
  lhs = std::move(statusor).value()

#endif  // OMNICX_LIBS_STATUS_STATUS_MACROS_H_
