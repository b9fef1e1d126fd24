// SPDX-License-Identifier: Apache-2.0
/// \file io/detail/json.hpp
/// Strict JSON parsing shared by the safetensors, index.json and config.json readers: rejects
/// duplicate keys (nlohmann silently keeps the last one) and bounds the nesting depth, and turns
/// parser errors into FormatError naming the file and byte position. Internal to io/.
#pragma once
#include <cstddef>
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

/// Parses `text`, the content of `file`, which messages call `what` ("config",
/// "safetensors header"). Any duplicate key is a FormatError; at the top level it is reported
/// as a duplicate `top_key_noun` ("tensor name"). Nesting deeper than `max_depth` objects and
/// arrays is a FormatError too, so hostile input cannot make later (recursive) passes deep.
inline nlohmann::json parse_json_strict(std::string_view text, const std::string& file,
                                        std::string_view what, int max_depth,
                                        std::string_view top_key_noun = "top-level key") {
  struct Frame {
    std::string name;  // the key this container sits under, for messages
    std::unordered_set<std::string> keys;
  };
  std::vector<Frame> stack;
  std::string last_key;
  const auto open = [&] {
    if (static_cast<int>(stack.size()) >= max_depth)
      throw FormatError(file + ": " + std::string(what) + " nests deeper than " +
                        std::to_string(max_depth) + " levels");
    stack.push_back({stack.empty() ? std::string() : last_key, {}});
  };
  const auto callback = [&](int, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
    using E = nlohmann::json::parse_event_t;
    switch (event) {
      case E::object_start:
      case E::array_start: open(); break;
      case E::object_end:
      case E::array_end: stack.pop_back(); break;
      case E::key: {
        last_key = parsed.get<std::string>();
        if (!stack.back().keys.insert(last_key).second) {
          if (stack.size() == 1)
            throw FormatError(file + ": " + std::string(what) + " has a duplicate " +
                              std::string(top_key_noun) + " '" + brief_name(last_key) + "'");
          throw FormatError(file + ": " + std::string(what) + " has a duplicate key '" +
                            brief_name(last_key) + "' inside '" + brief_name(stack.back().name) +
                            "'");
        }
        break;
      }
      case E::value: break;
    }
    return true;
  };
  try {
    return nlohmann::json::parse(text.begin(), text.end(), callback);
  } catch (const nlohmann::json::parse_error& e) {
    throw FormatError(file + ": " + std::string(what) + " is not valid JSON (at byte " +
                      std::to_string(e.byte) + "): " + e.what());
  }
}

}  // namespace templlm::io::detail
