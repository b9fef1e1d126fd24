// SPDX-License-Identifier: Apache-2.0
/// \file io/detail/json.hpp
/// Strict JSON parsing shared by the safetensors, index.json, config.json and tokenizer.json
/// readers: rejects duplicate keys (nlohmann silently keeps the last one), NUL bytes (nlohmann
/// stops reading at one, so bytes after it would be ignored) and numbers a double cannot hold,
/// bounds the nesting depth, and turns every parser error into a FormatError naming the file and
/// byte position. Linear in the input: nlohmann 3.11's callback parser rescans the enclosing
/// object after each member (10k tensors took 3.4 s, 40k 205 s), so the checks run in a SAX
/// handler in front of nlohmann's own DOM builder instead. Internal to io/ (and tokenizer/).
#pragma once
#include <cstddef>
#include <cstring>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include <nlohmann/json.hpp>

#include "../../core/error.hpp"

namespace templlm::io::detail {

/// A JSON value for a message, cut short so a hostile 100 MB string does not end up in it.
inline std::string brief_json(const nlohmann::json& v) {
  std::string s = v.dump();
  return s.size() <= 48 ? s : s.substr(0, 45) + "...";
}

/// A name for a message, cut short like brief_json.
inline std::string brief_name(std::string_view s) {
  return s.size() <= 200 ? std::string(s) : std::string(s.substr(0, 197)) + "...";
}

/// The SAX events of nlohmann's parser, checked, then passed to its DOM builder.
class StrictJsonSax {
 public:
  using json = nlohmann::json;

  StrictJsonSax(json& root, const std::string& file, std::string_view what, int max_depth,
                std::string_view top_key_noun)
      : dom_(root, true), file_(file), what_(what), max_depth_(max_depth),
        top_key_noun_(top_key_noun) {}

  bool null() { return dom_.null(); }
  bool boolean(bool v) { return dom_.boolean(v); }
  bool number_integer(json::number_integer_t v) { return dom_.number_integer(v); }
  bool number_unsigned(json::number_unsigned_t v) { return dom_.number_unsigned(v); }
  bool number_float(json::number_float_t v, const json::string_t& s) {
    return dom_.number_float(v, s);
  }
  bool string(json::string_t& s) { return dom_.string(s); }
  bool binary(json::binary_t& b) { return dom_.binary(b); }
  bool start_object(std::size_t n) {
    open();
    return dom_.start_object(n);
  }
  bool key(json::string_t& k) {
    Frame& f = stack_.back();
    if (!f.keys.insert(k).second) {
      if (stack_.size() == 1)
        throw FormatError(file_ + ": " + what_ + " has a duplicate " + top_key_noun_ + " '" +
                          brief_name(k) + "'");
      throw FormatError(file_ + ": " + what_ + " has a duplicate key '" + brief_name(k) +
                        "' inside '" + brief_name(f.name) + "'");
    }
    last_key_ = k;
    return dom_.key(k);
  }
  bool end_object() {
    stack_.pop_back();
    return dom_.end_object();
  }
  bool start_array(std::size_t n) {
    open();
    return dom_.start_array(n);
  }
  bool end_array() {
    stack_.pop_back();
    return dom_.end_array();
  }
  template <class Exception>
  bool parse_error(std::size_t byte, const std::string& token, const Exception& e) {
    if (e.id == 406)  // out_of_range.406: a number beyond double, such as 1e400
      throw FormatError(file_ + ": " + what_ + " has the number " + brief_name(token) +
                        " at byte " + std::to_string(byte) +
                        ", which is out of range (expected a finite double)");
    throw FormatError(file_ + ": " + what_ + " is not valid JSON (at byte " +
                      std::to_string(byte) + "): " + e.what());
  }

 private:
  struct Frame {
    std::string name;  // the key this container sits under, for messages
    std::unordered_set<std::string> keys;
  };

  void open() {
    if (static_cast<int>(stack_.size()) >= max_depth_)
      throw FormatError(file_ + ": " + what_ + " nests deeper than " +
                        std::to_string(max_depth_) + " levels");
    stack_.push_back({stack_.empty() ? std::string() : last_key_, {}});
  }

  nlohmann::detail::json_sax_dom_parser<json> dom_;
  const std::string& file_;
  std::string what_;
  int max_depth_;
  std::string top_key_noun_;
  std::vector<Frame> stack_;
  std::string last_key_;
};

/// Parses `text`, the content of `file`, which messages call `what` ("config",
/// "safetensors header"). Any duplicate key is a FormatError; at the top level it is reported
/// as a duplicate `top_key_noun` ("tensor name"). Nesting deeper than `max_depth` objects and
/// arrays is a FormatError too, so hostile input cannot make later (recursive) passes deep.
/// Whitespace may follow the value (the safetensors writer pads with spaces); nothing else may.
inline nlohmann::json parse_json_strict(std::string_view text, const std::string& file,
                                        std::string_view what, int max_depth,
                                        std::string_view top_key_noun = "top-level key") {
  // JSON text never contains a raw NUL (strings must escape it as \u0000). An empty file maps
  // to a null pointer, which memchr must not see (found by fuzz_index).
  if (const void* nul = text.empty() ? nullptr : std::memchr(text.data(), 0, text.size()))
    throw FormatError(file + ": " + std::string(what) + " has a NUL byte at byte " +
                      std::to_string(static_cast<const char*>(nul) - text.data()) +
                      " (JSON may be followed only by whitespace padding)");
  nlohmann::json root;
  StrictJsonSax sax(root, file, what, max_depth, top_key_noun);
  try {
    nlohmann::json::sax_parse(text.begin(), text.end(), &sax);
  } catch (const nlohmann::json::exception& e) {  // not expected: the handler throws first
    throw FormatError(file + ": " + std::string(what) + " is not valid JSON: " + e.what());
  }
  return root;
}

}  // namespace templlm::io::detail
