// SPDX-License-Identifier: Apache-2.0
/// \file core/error.hpp
/// The exception hierarchy. Load- and configuration-time failures throw one of these with a
/// message naming the file, tensor or field and what was expected versus found. Constructors are
/// spelled out: `using Error::Error;` with a source_location default crashes nvcc 13's front end.
#pragma once
#include <source_location>
#include <stdexcept>
#include <string>

namespace templlm {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what,
                 std::source_location where = std::source_location::current())
      : std::runtime_error(what), where_(where) {}
  const std::source_location& where() const noexcept { return where_; }

 private:
  std::source_location where_;
};

/// A file cannot be opened, mapped or read.
class IoError : public Error {
 public:
  explicit IoError(const std::string& what,
                   std::source_location where = std::source_location::current())
      : Error(what, where) {}
};

/// A file's content is malformed: bad JSON, bad safetensors header, offsets out of range.
class FormatError : public Error {
 public:
  explicit FormatError(const std::string& what,
                       std::source_location where = std::source_location::current())
      : Error(what, where) {}
};

/// config.json disagrees with the compiled-in model description.
class ConfigMismatch : public Error {
 public:
  explicit ConfigMismatch(const std::string& what,
                          std::source_location where = std::source_location::current())
      : Error(what, where) {}
};

/// A tensor is missing, or has the wrong shape or dtype for the description.
class TensorMismatch : public Error {
 public:
  explicit TensorMismatch(const std::string& what,
                          std::source_location where = std::source_location::current())
      : Error(what, where) {}
};

/// Checkpoint tensors that no component read (and no entry of the description's
/// skipped_tensors excuses): loading on would silently ignore weights the model may need.
class UnusedTensors : public TensorMismatch {
 public:
  explicit UnusedTensors(const std::string& what,
                         std::source_location where = std::source_location::current())
      : TensorMismatch(what, where) {}
};

/// A valid request this build does not support (unknown model, dtype, backend).
class Unsupported : public Error {
 public:
  explicit Unsupported(const std::string& what,
                       std::source_location where = std::source_location::current())
      : Error(what, where) {}
};

/// A caller-supplied value is out of range (token id >= vocab, context exhausted).
class InvalidInput : public Error {
 public:
  explicit InvalidInput(const std::string& what,
                        std::source_location where = std::source_location::current())
      : Error(what, where) {}
};

/// A CUDA runtime or cuBLAS call failed; the message names the call and the error string.
class CudaError : public Error {
 public:
  explicit CudaError(const std::string& what,
                     std::source_location where = std::source_location::current())
      : Error(what, where) {}
};

/// Throws Error(what) unless ok: for internal invariants that a caller can violate.
inline void check(bool ok, const char* what,
                  std::source_location where = std::source_location::current()) {
  if (!ok) [[unlikely]] throw Error(what, where);
}

}  // namespace templlm
