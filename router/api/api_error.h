// API errors: absl::Status at every module boundary, mapped 1:1 onto HTTP statuses and OpenAI
// error bodies at the edge.
//
// A validation error names the request field at fault ("param" in the OpenAI body); it travels
// as a payload of the Status (WithParam/ParamOf), so that pure functions can keep returning
// plain absl::Status.
#ifndef MOESERVE_ROUTER_API_API_ERROR_H_
#define MOESERVE_ROUTER_API_API_ERROR_H_

#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace moeserve::router::api {

// InvalidArgument naming `param`.
absl::Status InvalidParam(std::string_view param, std::string_view message);
// `status` with `param` attached.
absl::Status WithParam(absl::Status status, std::string_view param);
// The attached param, empty when none.
std::string ParamOf(const absl::Status& status);

// The HTTP status for a Status code: InvalidArgument/FailedPrecondition/OutOfRange 400,
// NotFound 404, ResourceExhausted 429, Unavailable 503, Unimplemented 501, Cancelled 499,
// DeadlineExceeded 504, PermissionDenied 403, Unauthenticated 401, AlreadyExists 409, other 500.
int HttpStatusOf(const absl::Status& status);

// The OpenAI error "type" for an HTTP status: "invalid_request_error" for 4xx except 429
// ("rate_limit_error"), "server_error" for 5xx.
std::string_view ErrorTypeOf(int http_status);

// {"error":{"message":..,"type":..,"param":..|null,"code":null}}.
std::string ErrorBody(int http_status, std::string_view message, std::string_view param = {});
// The body for a non-OK status (its message and param).
std::string ErrorBody(const absl::Status& status);

}  // namespace moeserve::router::api

#endif  // MOESERVE_ROUTER_API_API_ERROR_H_
