// SPDX-License-Identifier: Apache-2.0
/// \file io/hf_config.hpp
/// A HF config.json, read strictly, with key lookup (alternatives, nesting, Llama 4's
/// text_config) and a field-by-field comparison against the `cfg::HfField` list a model
/// description pins. Depends on core/ and nlohmann-json; host-only.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "../core/config.hpp"
#include "../core/error.hpp"
#include "detail/json.hpp"
#include "mapped_file.hpp"

namespace templlm::io {

/// One pinned field whose config.json value differs from the description.
struct FieldDiff {
  std::string key;       // as the description spells it, alternatives included
  std::string expected;  // "8", "true", "\"mixtral\"", "null or absent"
  std::string found;     // the JSON value, "missing", or "absent (default ...)"

  bool operator==(const FieldDiff&) const = default;
};

namespace detail {

/// Relative tolerance: descriptions store some values as float (rms_norm_eps = 1e-6f) that
/// config.json spells as the nearest double.
inline bool numbers_match(double a, double b) {
  if (a == b) return true;
  if (!std::isfinite(a) || !std::isfinite(b)) return false;
  return std::abs(a - b) <= 1e-6 * std::max(std::abs(a), std::abs(b));
}

/// Integers without a fraction ("1000000"), else 7 significant digits: enough to show any
/// difference numbers_match reports, and float(1e-6) prints as "1e-06".
inline std::string format_number(double v) {
  if (std::isfinite(v) && v == std::floor(v) && std::abs(v) < 1e15)
    return std::to_string(static_cast<long long>(v));
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.7g", v);
  return buf;
}

/// "[1, 1, 1, 0, 1, 1, 1, 0, ...] (48 entries)": long per-layer lists stay readable in errors.
inline std::string format_int_list(const std::vector<int>& list) {
  constexpr std::size_t shown = 8;
  std::string out = "[";
  for (std::size_t i = 0; i < std::min(list.size(), shown); ++i)
    out += (i ? ", " : "") + std::to_string(list[i]);
  out += list.size() > shown ? ", ...] (" + std::to_string(list.size()) + " entries)" : "]";
  return out;
}

/// Splits on `sep`, keeping empty pieces.
inline std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  for (std::size_t start = 0;;) {
    const std::size_t at = s.find(sep, start);
    out.push_back(s.substr(start, at == std::string_view::npos ? std::string_view::npos
                                                               : at - start));
    if (at == std::string_view::npos) return out;
    start = at + 1;
  }
}

/// Follows a '.'-separated path through nested objects; nullptr when any step is absent.
inline const nlohmann::json* resolve(const nlohmann::json& root, std::string_view dotted) {
  const nlohmann::json* at = &root;
  for (std::string_view part : split(dotted, '.')) {
    if (!at->is_object()) return nullptr;
    const auto it = at->find(part);
    if (it == at->end()) return nullptr;
    at = &*it;
  }
  return at;
}

}  // namespace detail

/// A parsed config.json.
///
///   auto hf = HfConfig::load(dir);
///   hf.check(M::hf_fields(), M::name);                 // ConfigMismatch listing every diff
///   const nlohmann::json* theta = hf.lookup("rope_theta|rope_parameters.rope_theta");
class HfConfig {
 public:
  /// Reads `dir_or_file`, or `dir_or_file/config.json` when it is a directory. IoError when the
  /// file cannot be read; FormatError (with the parser's message and byte position) when it is
  /// not JSON, has a duplicate key, or is not an object.
  static HfConfig load(const std::filesystem::path& dir_or_file) {
    std::error_code ec;
    const std::filesystem::path path = std::filesystem::is_directory(dir_or_file, ec)
                                           ? dir_or_file / "config.json"
                                           : dir_or_file;
    const MappedFile file = MappedFile::open(path);
    return parse(std::string_view(reinterpret_cast<const char*>(file.bytes().data()),
                                  file.bytes().size()),
                 path);
  }

  /// Parses config text; `path` names it in messages.
  static HfConfig parse(std::string_view text, const std::filesystem::path& path) {
    HfConfig out;
    out.path_ = path;
    out.json_ = detail::parse_json_strict(text, path.string(), "config", 64);
    if (!out.json_.is_object())
      throw FormatError(path.string() + ": config is a JSON " +
                        std::string(out.json_.type_name()) + ", expected an object");
    return out;
  }

  const nlohmann::json& json() const noexcept { return json_; }
  const std::filesystem::path& path() const noexcept { return path_; }

  /// The first entry of "architectures" ("Qwen3MoeForCausalLM"), or "" when there is none.
  std::string architecture() const {
    const auto it = json_.find("architectures");
    if (it == json_.end() || !it->is_array() || it->empty() || !(*it)[0].is_string()) return "";
    return (*it)[0].get<std::string>();
  }

  /// max_position_embeddings: the most positions the model was made for, or 0 when it is absent
  /// or not a positive integer (capped at 2^40). Engines refuse prompts beyond it.
  std::int64_t context_limit() const {
    const nlohmann::json* v = lookup("max_position_embeddings");
    if (v == nullptr || !v->is_number_unsigned() || v->get<std::uint64_t>() == 0) return 0;
    return std::int64_t(std::min<std::uint64_t>(v->get<std::uint64_t>(), std::uint64_t(1) << 40));
  }

  /// The value for `key`, or nullptr. `key` may list alternatives separated by '|' (the first
  /// present wins) and nest with '.'. A key absent at the top level is also looked up inside a
  /// "text_config" object (Llama 4 nests its text model there). An explicit null counts as
  /// absent while another alternative remains; otherwise a null is returned as found.
  const nlohmann::json* lookup(std::string_view key) const {
    const nlohmann::json* null_seen = nullptr;
    const auto text_config = json_.find("text_config");
    for (std::string_view alt : detail::split(key, '|')) {
      const nlohmann::json* v = detail::resolve(json_, alt);
      if ((v == nullptr || v->is_null()) && text_config != json_.end() &&
          text_config->is_object()) {
        if (const nlohmann::json* nested = detail::resolve(*text_config, alt)) v = nested;
      }
      if (v == nullptr) continue;
      if (!v->is_null()) return v;
      if (null_seen == nullptr) null_seen = v;
    }
    return null_seen;
  }

  /// Every pinned field whose value differs, in `fields` order. Absent keys are "missing",
  /// except those transformers fills in (see default_number / default_flag).
  std::vector<FieldDiff> diff(std::span<const cfg::HfField> fields) const {
    using Kind = cfg::HfField::Kind;
    std::vector<FieldDiff> out;
    for (const cfg::HfField& f : fields) {
      const nlohmann::json* v = lookup(f.key);
      const bool absent = v == nullptr || v->is_null();
      const auto report = [&](std::string expected, std::string found) {
        out.push_back({std::string(f.key), std::move(expected), std::move(found)});
      };
      switch (f.kind) {
        case Kind::number: {
          const std::string expected = detail::format_number(f.number);
          if (absent) {
            const std::optional<double> d = default_number(f.key);
            if (!d)
              report(expected, "missing");
            else if (!detail::numbers_match(*d, f.number))
              report(expected, "absent (default " + detail::format_number(*d) + ")");
          } else if (!v->is_number() || !detail::numbers_match(v->get<double>(), f.number)) {
            report(expected, detail::brief_json(*v));
          }
          break;
        }
        case Kind::boolean: {
          const bool want = f.number != 0.0;
          const std::string expected = want ? "true" : "false";
          if (absent) {
            if (!is_false_by_default(f.key))
              report(expected, "missing");
            else if (want)
              report(expected, "absent (default false)");
          } else if (!v->is_boolean() || v->get<bool>() != want) {
            report(expected, detail::brief_json(*v));
          }
          break;
        }
        case Kind::text: {
          const std::string expected = nlohmann::json(std::string(f.text)).dump();
          if (absent)
            report(expected, "missing");
          else if (!v->is_string() || v->get<std::string>() != f.text)
            report(expected, detail::brief_json(*v));
          break;
        }
        case Kind::null_or_absent:
          if (!absent) report("null or absent", detail::brief_json(*v));
          break;
        case Kind::text_cycle: {
          // element i must equal piece i % pieces of the ','-separated cycle
          const std::vector<std::string_view> cycle = detail::split(f.text, ',');
          const auto count = static_cast<std::size_t>(f.number);
          std::string expected = "[";
          for (std::size_t i = 0; i < std::min<std::size_t>(count, cycle.size()); ++i)
            expected += (i ? ", \"" : "\"") + std::string(cycle[i]) + "\"";
          expected += count > cycle.size() ? ", ...] (" + std::to_string(count) + " entries)" : "]";
          if (absent) {
            report(expected, "missing");
          } else if (!v->is_array() || v->size() != count) {
            report(expected, detail::brief_json(*v));
          } else {
            for (std::size_t i = 0; i < count; ++i) {
              const auto& e = (*v)[i];
              if (!e.is_string() || e.get<std::string>() != cycle[i % cycle.size()]) {
                report(expected, "entry " + std::to_string(i) + " is " + detail::brief_json(e));
                break;
              }
            }
          }
          break;
        }
        case Kind::layer_values:
        case Kind::layer_indices: {
          const auto wanted = [&](cfg::HfField::LayerFn fn) {
            std::vector<int> list;
            for (int i = 0; i < static_cast<int>(f.number); ++i) {
              if (f.kind == Kind::layer_values)
                list.push_back(fn(i));
              else if (fn(i) != 0)
                list.push_back(i);
            }
            return list;
          };
          const std::vector<int> expected = wanted(f.layer);
          // transformers replaces an absent key by its default, and an empty per-layer list
          // too (Llama4TextConfig: `no_rope_layers if no_rope_layers else default`), so that is
          // what the checkpoint means. An empty index list is a real value (no such layer).
          const bool empty_values =
              f.kind == Kind::layer_values && !absent && v->is_array() && v->empty();
          if (absent || (f.hf_default != nullptr && empty_values)) {
            if (f.hf_default == nullptr)
              report(detail::format_int_list(expected), "missing");
            else if (const std::vector<int> d = wanted(f.hf_default); d != expected)
              report(detail::format_int_list(expected),
                     "absent (default " + detail::format_int_list(d) + ")");
          } else if (!v->is_array() || v->size() != expected.size()) {
            report(detail::format_int_list(expected), detail::brief_json(*v));
          } else {
            for (std::size_t i = 0; i < expected.size(); ++i) {
              const auto& e = (*v)[i];
              if (!e.is_number_integer() || e.get<int>() != expected[i]) {
                report(detail::format_int_list(expected),
                       "entry " + std::to_string(i) + " is " + detail::brief_json(e));
                break;
              }
            }
          }
          break;
        }
      }
    }
    return out;
  }

  /// Throws ConfigMismatch listing every differing field, one per line, when there is any.
  void check(std::span<const cfg::HfField> fields, std::string_view model_name) const {
    const std::vector<FieldDiff> diffs = diff(fields);
    if (diffs.empty()) return;
    std::string msg = path_.string() + ": config does not match model '" +
                      std::string(model_name) + "' (" + std::to_string(diffs.size()) +
                      (diffs.size() == 1 ? " field differs):" : " fields differ):");
    for (const FieldDiff& d : diffs)
      msg += "\n  " + d.key + ": expected " + d.expected + ", found " + d.found;
    throw ConfigMismatch(msg);
  }

 private:
  /// transformers defaults for keys older or trimmed configs omit: head_dim is
  /// hidden_size / num_attention_heads (e.g. MistralConfig, Qwen3MoeConfig), and Qwen*MoeConfig
  /// defaults decoder_sparse_step to 1.
  std::optional<double> default_number(std::string_view key) const {
    for (std::string_view alt : detail::split(key, '|')) {
      if (alt == "decoder_sparse_step") return 1.0;
      if (alt == "head_dim") {
        const nlohmann::json* hidden = lookup("hidden_size");
        const nlohmann::json* heads = lookup("num_attention_heads");
        if (hidden == nullptr || heads == nullptr || !hidden->is_number() ||
            !heads->is_number() || heads->get<double>() == 0.0)
          return std::nullopt;
        return std::floor(hidden->get<double>() / heads->get<double>());
      }
    }
    return std::nullopt;
  }

  /// The config classes of the supported families default these flags to False (note that the
  /// PretrainedConfig base defaults tie_word_embeddings to True; the families override it).
  static bool is_false_by_default(std::string_view key) {
    for (std::string_view alt : detail::split(key, '|'))
      if (alt == "tie_word_embeddings" || alt == "attention_bias" || alt == "use_sliding_window")
        return true;
    return false;
  }

  std::filesystem::path path_;
  nlohmann::json json_;
};

}  // namespace templlm::io
