// SPDX-License-Identifier: Apache-2.0
/// \file io/safetensors.hpp
/// A validating reader for one .safetensors file: an 8-byte little-endian header length, a JSON
/// header, then the tensor bytes. Every rule of the reference reader is enforced before any span
/// is handed out (docs: design/ecosystem.md B.1), plus duplicate keys, rank and name limits.
/// Depends on core/ and nlohmann-json; host-only.
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "../core/dtype.hpp"
#include "../core/error.hpp"
#include "detail/json.hpp"
#include "mapped_file.hpp"

namespace templlm::io {

/// One tensor of a checkpoint. `bytes` points into the file's mapping (little-endian, row-major)
/// and lives as long as the SafetensorsFile / WeightStore that returned it.
struct TensorInfo {
  std::string name;
  DType dtype = DType::f32;
  std::vector<std::int64_t> shape;
  std::span<const std::byte> bytes;
  std::string file;

  /// Element count; the reader has checked that the product does not overflow.
  std::int64_t numel() const {
    std::int64_t n = 1;
    for (std::int64_t d : shape) n *= d;
    return n;
  }
  /// Whether `bytes` may be read through a `dtype`-sized pointer. Files from writers that do not
  /// pad the header (MLX) can be misaligned; copy those instead of casting.
  bool aligned() const {
    return reinterpret_cast<std::uintptr_t>(bytes.data()) % dtype_size(dtype) == 0;
  }
};

/// "[4096, 128]"; "[]" for a scalar.
inline std::string shape_string(std::span<const std::int64_t> shape) {
  std::string out = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) out += ", ";
    out += std::to_string(shape[i]);
  }
  return out + "]";
}

/// Limits beyond the format itself. The header cap is the reference reader's MAX_HEADER_SIZE.
namespace safetensors_limits {
inline constexpr std::uint64_t max_header_bytes = 100'000'000;
inline constexpr std::size_t max_tensors = std::size_t{1} << 20;  // DeepSeek-V3: ~91k in all
inline constexpr std::size_t max_name_bytes = 4096;
inline constexpr std::size_t max_rank = 8;
inline constexpr int max_json_depth = 8;  // the format needs 3: header, entry, shape
}  // namespace safetensors_limits

/// The validated content of a safetensors buffer; spans point into that buffer.
struct SafetensorsContents {
  std::vector<TensorInfo> tensors;  // sorted by name
  std::map<std::string, std::string> metadata;
};

namespace detail {

/// Dtypes the safetensors format defines but DType does not (sub-byte floats, unsigned wide
/// ints, complex): reported as Unsupported rather than malformed.
inline bool is_known_unsupported_dtype(std::string_view s) {
  for (std::string_view t : {"F4", "F6_E2M3", "F6_E3M2", "F8_E8M0", "F8_E4M3FNUZ", "F8_E5M2FNUZ",
                             "U16", "U32", "U64", "C64"})
    if (s == t) return true;
  return false;
}

inline std::string supported_dtype_list() {
  std::string out;
  for (DType t : {DType::boolean, DType::u8, DType::i8, DType::f8_e5m2, DType::f8_e4m3,
                  DType::i16, DType::f16, DType::bf16, DType::i32, DType::f32, DType::f64,
                  DType::i64}) {
    if (!out.empty()) out += ", ";
    out += dtype_name(t);
  }
  return out;
}

}  // namespace detail

/// Validates a whole safetensors buffer (`file` names it in messages) and returns its tensors,
/// whose spans point into `buf`. Throws FormatError for anything malformed and Unsupported for a
/// dtype the format defines but templlm does not. Usable on memory, e.g. from a fuzz target.
inline SafetensorsContents parse_safetensors(std::span<const std::byte> buf,
                                             const std::string& file) {
  namespace lim = safetensors_limits;
  using nlohmann::json;
  const auto fail = [&](const std::string& msg) { return FormatError(file + ": " + msg); };

  if (buf.size() < 8)
    throw fail("file is " + std::to_string(buf.size()) +
               " bytes, shorter than the 8-byte header-length prefix");
  std::uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i)
    header_len = (header_len << 8) | static_cast<std::uint8_t>(buf[static_cast<std::size_t>(i)]);
  if (header_len > lim::max_header_bytes)
    throw fail("header length " + std::to_string(header_len) + " exceeds the limit of " +
               std::to_string(lim::max_header_bytes) + " bytes");
  if (header_len > buf.size() - 8)
    throw fail("header length " + std::to_string(header_len) + " exceeds the file: only " +
               std::to_string(buf.size() - 8) + " bytes follow the length prefix");

  const std::string_view text(reinterpret_cast<const char*>(buf.data() + 8), header_len);
  const json header =
      detail::parse_json_strict(text, file, "safetensors header", lim::max_json_depth,
                                "tensor name");
  if (!header.is_object())
    throw fail("safetensors header is a JSON " + std::string(header.type_name()) +
               ", expected an object");
  const std::span<const std::byte> data = buf.subspan(8 + header_len);

  SafetensorsContents out;
  struct Range {
    std::uint64_t begin, end;
    std::size_t index;
  };
  std::vector<Range> ranges;

  for (const auto& [key, value] : header.items()) {
    if (key == "__metadata__") {
      if (!value.is_object())
        throw fail("__metadata__ is a JSON " + std::string(value.type_name()) +
                   ", expected an object of strings");
      for (const auto& [mk, mv] : value.items()) {
        if (!mv.is_string())
          throw fail("__metadata__ key '" + detail::brief_name(mk) + "' is a JSON " +
                     mv.type_name() + " (" + detail::brief_json(mv) + "), expected a string");
        out.metadata.emplace(mk, mv.get<std::string>());
      }
      continue;
    }
    if (out.tensors.size() >= lim::max_tensors)
      throw fail("more than " + std::to_string(lim::max_tensors) + " tensors");
    if (key.size() > lim::max_name_bytes)
      throw fail("tensor name '" + detail::brief_name(key) + "' is " +
                 std::to_string(key.size()) + " bytes, over the limit of " +
                 std::to_string(lim::max_name_bytes));
    const std::string where = "tensor '" + key + "'";
    if (!value.is_object())
      throw fail(where + ": entry is a JSON " + value.type_name() +
                 ", expected an object with dtype, shape and data_offsets");
    // Unknown members are ignored, as the reference reader does.
    const auto member = [&](const char* field, bool (json::*is_kind)() const noexcept,
                            const char* kind) -> const json& {
      const auto it = value.find(field);
      if (it == value.end()) throw fail(where + ": missing \"" + field + "\"");
      if (!((*it).*is_kind)())
        throw fail(where + ": \"" + field + "\" is a JSON " + it->type_name() + " (" +
                   detail::brief_json(*it) + "), expected " + kind);
      return *it;
    };
    // Non-negative JSON integers parse as number_unsigned, negative ones as number_integer,
    // anything with a fraction, exponent or beyond 2^64 as number_float.
    const auto index = [&](const json& v, const std::string& what) -> std::uint64_t {
      if (v.is_number_unsigned()) return v.get<std::uint64_t>();
      if (v.is_number_integer())
        throw fail(where + ": " + what + " is negative (" + v.dump() + ")");
      throw fail(where + ": " + what + " is " + detail::brief_json(v) +
                 ", expected a non-negative integer");
    };

    const std::string dtype_str = member("dtype", &json::is_string, "a string").get<std::string>();
    const auto dtype = parse_dtype(dtype_str);
    if (!dtype) {
      if (detail::is_known_unsupported_dtype(dtype_str))
        throw Unsupported(file + ": " + where + " has dtype '" + dtype_str +
                          "', which templlm does not support (supported: " +
                          detail::supported_dtype_list() + ")");
      throw fail(where + ": unknown dtype '" + detail::brief_name(dtype_str) +
                 "' (expected one of " + detail::supported_dtype_list() + ")");
    }

    const json& shape_json = member("shape", &json::is_array, "an array of integers");
    if (shape_json.size() > lim::max_rank)
      throw fail(where + ": rank " + std::to_string(shape_json.size()) + " exceeds the limit of " +
                 std::to_string(lim::max_rank));
    std::vector<std::int64_t> shape;
    std::uint64_t numel = 1;
    bool overflow = false;
    for (std::size_t i = 0; i < shape_json.size(); ++i) {
      const std::uint64_t d = index(shape_json[i], "shape[" + std::to_string(i) + "]");
      if (d > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
        throw fail(where + ": shape[" + std::to_string(i) + "] = " + std::to_string(d) +
                   " exceeds 2^63-1");
      shape.push_back(static_cast<std::int64_t>(d));
      overflow = overflow || __builtin_mul_overflow(numel, d, &numel);
    }
    std::uint64_t nbytes = 0;
    overflow = overflow ||
               numel > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()) ||
               __builtin_mul_overflow(numel, std::uint64_t{dtype_size(*dtype)}, &nbytes);
    if (overflow)
      throw fail(where + ": shape " + shape_string(shape) + " of " +
                 std::string(dtype_name(*dtype)) + " overflows a 64-bit byte count");

    const json& offsets = member("data_offsets", &json::is_array, "an array [begin, end]");
    if (offsets.size() != 2)
      throw fail(where + ": data_offsets has " + std::to_string(offsets.size()) +
                 " elements, expected 2 ([begin, end])");
    const std::uint64_t begin = index(offsets[0], "data_offsets[0]");
    const std::uint64_t end = index(offsets[1], "data_offsets[1]");
    const std::string range =
        "data_offsets [" + std::to_string(begin) + ", " + std::to_string(end) + "]";
    if (begin > end) throw fail(where + ": " + range + " has begin > end");
    if (end > data.size())
      throw fail(where + ": " + range + " ends past the data area, which has " +
                 std::to_string(data.size()) + " bytes");
    if (end - begin != nbytes)
      throw fail(where + ": shape " + shape_string(shape) + " of " +
                 std::string(dtype_name(*dtype)) + " needs " + std::to_string(nbytes) +
                 " bytes, but " + range + " span " + std::to_string(end - begin));

    ranges.push_back({begin, end, out.tensors.size()});
    out.tensors.push_back({key, *dtype, std::move(shape), {}, file});
  }

  // The data area must be covered exactly once: this rules out overlap (many tensors aliasing
  // one range is a known DoS), gaps and trailing bytes (polyglot files), as the reference does.
  std::sort(ranges.begin(), ranges.end(), [](const Range& a, const Range& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  std::uint64_t covered = 0;
  const Range* prev = nullptr;
  const auto describe = [&](const Range& r) {
    return "'" + out.tensors[r.index].name + "' [" + std::to_string(r.begin) + ", " +
           std::to_string(r.end) + ")";
  };
  for (const Range& r : ranges) {
    if (r.begin < covered)
      throw fail("tensors " + describe(*prev) + " and " + describe(r) + " overlap");
    if (r.begin > covered)
      throw fail("bytes [" + std::to_string(covered) + ", " + std::to_string(r.begin) +
                 ") of the data area belong to no tensor (gap before tensor " + describe(r) +
                 ")");
    covered = r.end;
    prev = &r;
  }
  if (covered != data.size())
    throw fail("the tensors cover " + std::to_string(covered) + " bytes but the data area has " +
               std::to_string(data.size()) + " (trailing bytes after the last tensor)");

  for (const Range& r : ranges)
    out.tensors[r.index].bytes = data.subspan(r.begin, r.end - r.begin);
  std::sort(out.tensors.begin(), out.tensors.end(),
            [](const TensorInfo& a, const TensorInfo& b) { return a.name < b.name; });
  return out;
}

/// One mapped, validated .safetensors file.
///
///   auto st = SafetensorsFile::open(dir / "model.safetensors");
///   if (const TensorInfo* t = st.find("lm_head.weight")) use(t->bytes);
class SafetensorsFile {
 public:
  /// Maps and validates `path`: IoError if it cannot be read, FormatError if malformed,
  /// Unsupported for a dtype templlm does not handle.
  static SafetensorsFile open(const std::filesystem::path& path) {
    SafetensorsFile out;
    out.file_ = MappedFile::open(path);
    SafetensorsContents c = parse_safetensors(out.file_.bytes(), path.string());
    out.tensors_ = std::move(c.tensors);
    out.metadata_ = std::move(c.metadata);
    return out;
  }

  /// All tensors, sorted by name.
  const std::vector<TensorInfo>& tensors() const noexcept { return tensors_; }

  /// The tensor called `name`, or nullptr.
  const TensorInfo* find(std::string_view name) const {
    const auto it = std::lower_bound(
        tensors_.begin(), tensors_.end(), name,
        [](const TensorInfo& t, std::string_view n) { return std::string_view(t.name) < n; });
    return it != tensors_.end() && it->name == name ? &*it : nullptr;
  }

  /// The optional `__metadata__` string map (e.g. {"format": "pt"}).
  const std::map<std::string, std::string>& metadata() const noexcept { return metadata_; }

  const std::filesystem::path& path() const noexcept { return file_.path(); }
  std::size_t file_size() const noexcept { return file_.size(); }

 private:
  MappedFile file_;
  std::vector<TensorInfo> tensors_;
  std::map<std::string, std::string> metadata_;
};

}  // namespace templlm::io
