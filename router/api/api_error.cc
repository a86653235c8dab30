#include "router/api/api_error.h"

#include "absl/strings/cord.h"
#include "nlohmann/json.hpp"

namespace moeserve::router::api {
namespace {

constexpr absl::string_view kParamPayload = "moeserve.param";

absl::string_view Absl(std::string_view s) { return absl::string_view(s.data(), s.size()); }

}  // namespace

absl::Status InvalidParam(std::string_view param, std::string_view message) {
  return WithParam(absl::InvalidArgumentError(Absl(message)), param);
}

absl::Status WithParam(absl::Status status, std::string_view param) {
  if (!status.ok() && !param.empty()) status.SetPayload(kParamPayload, absl::Cord(Absl(param)));
  return status;
}

std::string ParamOf(const absl::Status& status) {
  const auto payload = status.GetPayload(kParamPayload);
  return payload.has_value() ? std::string(*payload) : std::string();
}

int HttpStatusOf(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kOk:
      return 200;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kOutOfRange:
      return 400;
    case absl::StatusCode::kUnauthenticated:
      return 401;
    case absl::StatusCode::kPermissionDenied:
      return 403;
    case absl::StatusCode::kNotFound:
      return 404;
    case absl::StatusCode::kAlreadyExists:
      return 409;
    case absl::StatusCode::kResourceExhausted:
      return 429;
    case absl::StatusCode::kCancelled:
      return 499;
    case absl::StatusCode::kUnimplemented:
      return 501;
    case absl::StatusCode::kUnavailable:
      return 503;
    case absl::StatusCode::kDeadlineExceeded:
      return 504;
    default:
      return 500;
  }
}

std::string_view ErrorTypeOf(int http_status) {
  if (http_status == 429) return "rate_limit_error";
  if (http_status >= 500) return "server_error";
  return "invalid_request_error";
}

std::string ErrorBody(int http_status, std::string_view message, std::string_view param) {
  nlohmann::json error = {
      {"message", std::string(message)},
      {"type", std::string(ErrorTypeOf(http_status))},
      {"param", param.empty() ? nlohmann::json(nullptr) : nlohmann::json(std::string(param))},
      {"code", nullptr},
  };
  return nlohmann::json{{"error", std::move(error)}}.dump(-1, ' ', false,
                                                          nlohmann::json::error_handler_t::replace);
}

std::string ErrorBody(const absl::Status& status) {
  return ErrorBody(HttpStatusOf(status),
                   std::string_view(status.message().data(), status.message().size()),
                   ParamOf(status));
}

}  // namespace moeserve::router::api
