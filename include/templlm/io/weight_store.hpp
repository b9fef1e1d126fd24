// SPDX-License-Identifier: Apache-2.0
/// \file io/weight_store.hpp
/// All tensors of a HF checkpoint directory: `model.safetensors`, or the shards named by
/// `model.safetensors.index.json`, cross-checked against that index. Lookups by name, with
/// dtype/shape expectations that throw TensorMismatch. Depends on core/ and io/; host-only.
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <initializer_list>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "../core/dtype.hpp"
#include "../core/error.hpp"
#include "detail/json.hpp"
#include "mapped_file.hpp"
#include "safetensors.hpp"

namespace templlm::io {

namespace detail {

/// Levenshtein distance if it is at most `limit`, else limit + 1. Only the diagonal band of
/// width 2 * limit + 1 is computed, so scanning ~100k tensor names for a suggestion stays cheap.
inline std::size_t bounded_edit_distance(std::string_view a, std::string_view b,
                                         std::size_t limit) {
  const std::size_t n = a.size(), m = b.size(), inf = limit + 1;
  if ((n > m ? n - m : m - n) > limit) return inf;
  std::vector<std::size_t> prev(m + 1, inf), cur(m + 1, inf);
  for (std::size_t j = 0; j <= std::min(m, limit); ++j) prev[j] = j;
  for (std::size_t i = 1; i <= n; ++i) {
    const std::size_t lo = i > limit ? i - limit : 1, hi = std::min(m, i + limit);
    cur[0] = i <= limit ? i : inf;
    if (lo > 1) cur[lo - 1] = inf;
    std::size_t row_min = cur[0];
    for (std::size_t j = lo; j <= hi; ++j) {
      const std::size_t sub = prev[j - 1] + (a[i - 1] != b[j - 1] ? 1 : 0);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub, inf});
      row_min = std::min(row_min, cur[j]);
    }
    if (hi < m) cur[hi + 1] = inf;
    if (row_min >= inf) return inf;
    std::swap(prev, cur);
  }
  return std::min(prev[m], inf);
}

/// A shard name from index.json must be a plain file name inside the checkpoint directory.
inline bool is_plain_file_name(std::string_view s) {
  return !s.empty() && s != "." && s != ".." && s.find_first_of(std::string_view("/\\\0", 3)) ==
                                                      std::string_view::npos;
}

}  // namespace detail

/// The tensors of one checkpoint directory, mapped, validated and indexed by name. Movable, not
/// copyable; TensorInfo references stay valid for the store's lifetime, across moves.
///
///   auto ws = WeightStore::open(dir);
///   const TensorInfo& w = ws.expect("model.norm.weight", DType::bf16, {4096});
class WeightStore {
 public:
  /// Called after each shard is mapped and validated, with the byte counts of the files.
  using Progress = std::function<void(std::uint64_t done_bytes, std::uint64_t total_bytes)>;

  static constexpr std::string_view single_file = "model.safetensors";
  static constexpr std::string_view index_file = "model.safetensors.index.json";

  /// Opens `dir`: the index and its shards when `model.safetensors.index.json` exists, else
  /// `model.safetensors`. IoError for a missing directory, checkpoint or shard; FormatError for a
  /// malformed file or an index that disagrees with the shards; TensorMismatch for a tensor the
  /// index lists but its shard lacks.
  static WeightStore open(const std::filesystem::path& dir, const Progress& progress = {}) {
    namespace fs = std::filesystem;
    WeightStore out;
    out.dir_ = dir;
    std::error_code ec;
    const fs::file_status st = fs::status(dir, ec);
    if (!fs::exists(st)) throw IoError(dir.string() + ": model directory does not exist");
    if (!fs::is_directory(st))
      throw IoError(dir.string() + ": expected a model directory, found a file");

    const fs::path index_path = dir / index_file;
    const fs::path single_path = dir / single_file;
    if (fs::exists(index_path, ec)) {
      out.open_sharded(index_path, progress);
    } else if (fs::exists(single_path, ec)) {
      const std::uint64_t total = file_size_or_zero(single_path);
      out.shards_.push_back(SafetensorsFile::open(single_path));
      for (const TensorInfo& t : out.shards_.back().tensors()) out.index_.emplace(t.name, &t);
      if (progress) progress(total, total);
    } else {
      throw IoError(dir.string() + ": no checkpoint found; expected " + std::string(single_file) +
                    ", or " + std::string(index_file) + " and the shards it names");
    }
    return out;
  }

  /// The tensor called `name`, or nullptr.
  const TensorInfo* find(std::string_view name) const {
    const auto it = index_.find(name);
    return it == index_.end() ? nullptr : it->second;
  }

  /// The tensor called `name`; TensorMismatch naming it (and up to 3 close names) if absent.
  const TensorInfo& get(std::string_view name) const {
    if (const TensorInfo* t = find(name)) return *t;
    std::string msg = "tensor '" + std::string(name) + "' is missing from " + dir_.string();
    const std::vector<std::string> close = suggestions(name);
    for (std::size_t i = 0; i < close.size(); ++i)
      msg += (i == 0 ? "; did you mean '" : i + 1 == close.size() ? "' or '" : "', '") + close[i];
    if (!close.empty()) msg += "'?";
    throw TensorMismatch(msg);
  }

  /// The tensor called `name`, checked to have `dtype` and `shape`; TensorMismatch naming the
  /// tensor and its file with expected versus found otherwise.
  const TensorInfo& expect(std::string_view name, DType dtype,
                           std::span<const std::int64_t> shape) const {
    const TensorInfo& t = get(name);
    if (t.dtype != dtype || !std::ranges::equal(t.shape, shape))
      throw TensorMismatch(t.file + ": tensor '" + t.name + "': expected " +
                           std::string(dtype_name(dtype)) + " " + shape_string(shape) +
                           ", found " + std::string(dtype_name(t.dtype)) + " " +
                           shape_string(t.shape));
    return t;
  }
  const TensorInfo& expect(std::string_view name, DType dtype,
                           std::initializer_list<std::int64_t> shape) const {
    return expect(name, dtype, std::span<const std::int64_t>(shape.begin(), shape.size()));
  }

  /// Every tensor name, sorted.
  std::vector<std::string> names() const {
    std::vector<std::string> out;
    out.reserve(index_.size());
    for (const auto& [name, t] : index_) out.push_back(name);
    return out;
  }

  std::size_t size() const noexcept { return index_.size(); }

  /// Sum of the tensors' byte sizes (headers excluded).
  std::uint64_t total_bytes() const {
    std::uint64_t n = 0;
    for (const auto& [name, t] : index_) n += t->bytes.size();
    return n;
  }

  std::map<DType, std::uint64_t> bytes_by_dtype() const {
    std::map<DType, std::uint64_t> out;
    for (const auto& [name, t] : index_) out[t->dtype] += t->bytes.size();
    return out;
  }

  const std::filesystem::path& dir() const noexcept { return dir_; }
  const std::vector<SafetensorsFile>& shards() const noexcept { return shards_; }

 private:
  static std::uint64_t file_size_or_zero(const std::filesystem::path& p) {
    std::error_code ec;
    const auto n = std::filesystem::file_size(p, ec);
    return ec ? 0 : n;
  }

  void open_sharded(const std::filesystem::path& index_path, const Progress& progress) {
    namespace fs = std::filesystem;
    using nlohmann::json;
    const std::string index_name = index_path.string();
    const auto fail = [&](const std::string& msg) { return FormatError(index_name + ": " + msg); };

    const MappedFile file = MappedFile::open(index_path);
    const std::string_view text(reinterpret_cast<const char*>(file.bytes().data()),
                                file.bytes().size());
    const json index = detail::parse_json_strict(text, index_name, "index", 8);
    if (!index.is_object())
      throw fail("index is a JSON " + std::string(index.type_name()) + ", expected an object");
    // metadata.total_size is advisory and not checked; extra metadata keys occur on the Hub.
    if (const auto it = index.find("metadata"); it != index.end() && !it->is_object())
      throw fail("\"metadata\" is a JSON " + std::string(it->type_name()) +
                 ", expected an object");
    const auto wm = index.find("weight_map");
    if (wm == index.end()) throw fail("missing \"weight_map\"");
    if (!wm->is_object())
      throw fail("\"weight_map\" is a JSON " + std::string(wm->type_name()) +
                 ", expected an object of tensor name -> shard file");

    std::map<std::string, std::string, std::less<>> shard_of;        // tensor -> shard
    std::map<std::string, std::vector<std::string>> tensors_of;      // shard -> tensors
    for (const auto& [name, value] : wm->items()) {
      if (!value.is_string())
        throw fail("weight_map entry for tensor '" + name + "' is a JSON " + value.type_name() +
                   " (" + detail::brief_json(value) + "), expected a shard file name");
      const std::string shard = value.get<std::string>();
      if (!detail::is_plain_file_name(shard))
        throw fail("weight_map entry for tensor '" + name + "' names shard '" +
                   detail::brief_name(shard) + "', expected a plain file name in " +
                   dir_.string());
      shard_of.emplace(name, shard);
      tensors_of[shard].push_back(name);
    }

    // Check every shard is there before mapping any, so a missing one fails fast.
    std::uint64_t total = 0;
    for (const auto& [shard, names] : tensors_of) {
      const fs::path p = dir_ / shard;
      std::error_code ec;
      if (!fs::exists(p, ec))
        throw IoError(index_name + ": shard '" + shard + "' (which holds tensor '" +
                      names.front() + "'" +
                      (names.size() > 1 ? " and " + std::to_string(names.size() - 1) + " more"
                                        : std::string()) +
                      ") is missing: " + p.string() + " does not exist");
      total += file_size_or_zero(p);
    }

    std::uint64_t done = 0;
    shards_.reserve(tensors_of.size());
    std::map<std::string, const SafetensorsFile*> by_name;
    for (const auto& [shard, names] : tensors_of) {
      shards_.push_back(SafetensorsFile::open(dir_ / shard));
      by_name.emplace(shard, &shards_.back());
      done += shards_.back().file_size();
      if (progress) progress(done, total);
    }

    // Every listed tensor is in the shard the index names ...
    for (const auto& [name, shard] : shard_of) {
      if (by_name.at(shard)->find(name) != nullptr) continue;
      std::string elsewhere;
      for (const auto& [other, f] : by_name)
        if (other != shard && f->find(name) != nullptr) elsewhere = other;
      throw TensorMismatch(index_name + ": weight_map puts tensor '" + name + "' in shard '" +
                           shard + "', but " + (dir_ / shard).string() + " does not contain it" +
                           (elsewhere.empty() ? "" : " (it is in '" + elsewhere + "')"));
    }
    // ... and every shard holds only tensors the index maps to it, so none appears twice.
    for (const auto& [shard, f] : by_name) {
      for (const TensorInfo& t : f->tensors()) {
        const auto it = shard_of.find(t.name);
        if (it == shard_of.end())
          throw fail("shard '" + shard + "' contains tensor '" + t.name +
                     "', which weight_map does not list");
        if (it->second != shard)
          throw fail("tensor '" + t.name + "' appears in two shards, '" + it->second +
                     "' (per weight_map) and '" + shard + "'");
        index_.emplace(t.name, &t);
      }
    }
  }

  /// Up to 3 names within a small edit distance of `name`, closest first.
  std::vector<std::string> suggestions(std::string_view name) const {
    const std::size_t limit = std::max<std::size_t>(2, name.size() / 5);
    std::vector<std::pair<std::size_t, std::string_view>> hits;
    for (const auto& [candidate, t] : index_) {
      const std::size_t d = detail::bounded_edit_distance(name, candidate, limit);
      if (d <= limit) hits.emplace_back(d, candidate);
    }
    std::sort(hits.begin(), hits.end());
    std::vector<std::string> out;
    for (std::size_t i = 0; i < hits.size() && i < 3; ++i) out.emplace_back(hits[i].second);
    return out;
  }

  std::filesystem::path dir_;
  std::vector<SafetensorsFile> shards_;
  std::map<std::string, const TensorInfo*, std::less<>> index_;
};

}  // namespace templlm::io
