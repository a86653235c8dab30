// Status helpers shared by every module.
//
// Debian 12's Abseil (20220623) predates ABSL_RETURN_IF_ERROR, so the two propagation macros
// are defined here, once. Errors cross module boundaries as absl::Status / absl::StatusOr.
#ifndef MOESERVE_COMMON_STATUS_H_
#define MOESERVE_COMMON_STATUS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define MOESERVE_STATUS_CONCAT_INNER_(a, b) a##b
#define MOESERVE_STATUS_CONCAT_(a, b) MOESERVE_STATUS_CONCAT_INNER_(a, b)

// Returns from the enclosing function if `expr` (an absl::Status) is not OK.
#define RETURN_IF_ERROR(expr)                                 \
  do {                                                        \
    ::absl::Status _moeserve_status = (expr);                 \
    if (!_moeserve_status.ok()) return _moeserve_status;      \
  } while (0)

// `ASSIGN_OR_RETURN(auto x, MaybeX());` declares x from an absl::StatusOr or returns its error.
#define ASSIGN_OR_RETURN(lhs, expr) \
  MOESERVE_ASSIGN_OR_RETURN_IMPL_(MOESERVE_STATUS_CONCAT_(_moeserve_statusor_, __LINE__), lhs, expr)
#define MOESERVE_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                    \
  if (!tmp.ok()) return std::move(tmp).status();        \
  lhs = std::move(tmp).value()

#endif  // MOESERVE_COMMON_STATUS_H_
