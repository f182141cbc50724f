#include "server/http_message.h"

#include "server/json_writer.h"

namespace kiln::server {

int http_status_for(ErrorCode code) {
  switch (code) {
    case ErrorCode::kOk: return 200;
    case ErrorCode::kInvalidArgument: return 400;
    case ErrorCode::kFailedPrecondition: return 400;
    case ErrorCode::kNotFound: return 404;
    case ErrorCode::kResourceExhausted: return 429;
    case ErrorCode::kUnavailable: return 503;
    case ErrorCode::kUnimplemented: return 501;
    case ErrorCode::kInternal: return 500;
  }
  return 500;
}

HttpResponse error_response(int status, std::string_view message) {
  HttpResponse r;
  r.status = status;
  JsonWriter w;
  w.raw("{\"error\":");
  w.string(message);
  w.raw("}");
  r.body = w.take();
  return r;
}

HttpResponse error_response(const Status& status) {
  return error_response(http_status_for(status.code()), status.message());
}

std::string_view path_of(std::string_view target) {
  const size_t q = target.find('?');
  return q == std::string_view::npos ? target : target.substr(0, q);
}

}  // namespace kiln::server
