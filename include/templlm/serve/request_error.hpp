// SPDX-License-Identifier: Apache-2.0
/// \file serve/request_error.hpp
/// The error a route answers with: an HTTP status, a sentence and the request field at fault.
#pragma once
#include <string>

#include "../core/error.hpp"

namespace templlm::serve {

/// A request the server refuses, with its HTTP status and the field at fault (OpenAI's shape).
class RequestError : public InvalidInput {
 public:
  RequestError(int status, std::string message, std::string param = {}, std::string type = "invalid_request_error")
      : InvalidInput(message), status_(status), param_(std::move(param)), type_(std::move(type)) {}
  int status() const { return status_; }
  const std::string& param() const { return param_; }
  const std::string& type() const { return type_; }

 private:
  int status_;
  std::string param_, type_;
};

}  // namespace templlm::serve
