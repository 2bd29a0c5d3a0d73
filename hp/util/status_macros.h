// Early-return helpers for absl::Status / absl::StatusOr. Debian's Abseil
// (20220623) ships none, so hp defines its one pair here.
#ifndef HP_UTIL_STATUS_MACROS_H_
#define HP_UTIL_STATUS_MACROS_H_

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define HP_STATUS_CONCAT_INNER_(a, b) a##b
#define HP_STATUS_CONCAT_(a, b) HP_STATUS_CONCAT_INNER_(a, b)

// Returns from the enclosing function if `expr` yields a non-OK status.
#define HP_RETURN_IF_ERROR(expr)             \
  do {                                       \
    ::absl::Status hp_status_ = (expr);      \
    if (!hp_status_.ok()) return hp_status_; \
  } while (false)

// `HP_ASSIGN_OR_RETURN(auto x, MakeX());` declares or assigns `x` from the
// value of a StatusOr, returning its status from the enclosing function when
// it holds an error.
#define HP_ASSIGN_OR_RETURN(lhs, expr)                                      \
  HP_ASSIGN_OR_RETURN_IMPL_(HP_STATUS_CONCAT_(hp_statusor_, __LINE__), lhs, \
                            expr)

#define HP_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, expr)     \
  auto statusor = (expr);                                  \
  if (!statusor.ok()) return std::move(statusor).status(); \
  lhs = std::move(statusor).value()

#endif  // HP_UTIL_STATUS_MACROS_H_
