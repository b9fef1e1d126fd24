// SPDX-License-Identifier: Apache-2.0
/// \file tokenizer/tokenizer.hpp
/// The tokenizer: loads a Hugging Face `tokenizer.json` (and, with from_folder, the add_bos/add_eos
/// flags of `tokenizer_config.json`), encodes text to ids exactly as HF `tokenizers` does, and
/// decodes ids back, whole or streamed. The pipeline is HF's: added tokens are carved out first,
/// the rest is normalised, pre-tokenised and run through BPE, then post-processed. Host-only;
/// depends on core/error.hpp, nlohmann-json and PCRE2. Design notes: docs/tokenizer.md.
///
///   auto tok = templlm::tokenizer::Tokenizer::from_folder("tests/data/tokenizers/qwen3");
///   std::vector<std::uint32_t> ids = tok.encode("Hello, world!");
///   std::string text = tok.decode(ids);
#pragma once
#include <cstdint>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <sstream>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "templlm/core/error.hpp"
#include "templlm/io/detail/json.hpp"
#include "templlm/io/mapped_file.hpp"
#include "templlm/tokenizer/added_tokens.hpp"
#include "templlm/tokenizer/bpe.hpp"
#include "templlm/tokenizer/decoder.hpp"
#include "templlm/tokenizer/detail/json_scan.hpp"
#include "templlm/tokenizer/limits.hpp"
#include "templlm/tokenizer/normalizer.hpp"
#include "templlm/tokenizer/pre_tokenizer.hpp"
#include "templlm/tokenizer/utf8.hpp"

namespace templlm::tokenizer {

class StreamDecoder;

class Tokenizer {
 public:
  /// Loads tokenizer.json. Throws IoError (unreadable), FormatError (malformed JSON, merges naming
  /// missing tokens, bad regexes) or Unsupported (unknown model/normalizer/pre-tokenizer/decoder
  /// types, named in the message).
  static Tokenizer from_file(const std::filesystem::path& tokenizer_json) {
    return from_json_text(read_file(tokenizer_json), tokenizer_json.string());
  }

  /// Loads `dir/tokenizer.json` and applies `dir/tokenizer_config.json` if present: bos/eos
  /// tokens, and add_bos_token/add_eos_token, which (as transformers' Llama tokenizers do) replace
  /// the post-processor by `[bos] A [eos]`.
  static Tokenizer from_folder(const std::filesystem::path& dir) {
    Tokenizer t = from_file(dir / "tokenizer.json");
    const auto cfg_path = dir / "tokenizer_config.json";
    if (std::filesystem::exists(cfg_path)) t.apply_config(read_file(cfg_path), cfg_path.string());
    return t;
  }

  /// Parses tokenizer.json from memory; `what` names it in error messages.
  static Tokenizer from_json_text(std::string_view text,
                                  const std::string& what = "tokenizer.json") {
    Tokenizer t;
    t.load(text, what);
    return t;
  }

  /// Ids for `text`. Invalid UTF-8 is first repaired the way Python's
  /// `bytes.decode("utf-8", "replace")` does (each maximal invalid subpart becomes U+FFFD), which
  /// is what a caller of the Python binding has to do before it can call encode at all.
  std::vector<std::uint32_t> encode(std::string_view text, bool add_special_tokens = false) const {
    std::string repaired;
    if (!utf8::is_valid(text)) {
      repaired = utf8::sanitize(text);
      text = repaired;
    }
    std::vector<std::uint32_t> ids;
    ids.reserve(text.size() / 3 + 4);
    std::unique_lock lock(cache_->mutex, std::try_to_lock);  // busy: run without the cache
    BpeCache* cache = lock.owns_lock() ? &cache_->cache : nullptr;
    Scratch sc;
    raw_added_.split(
        text,
        [&](std::size_t b, std::size_t e) {
          std::string buf;
          const std::string_view norm = normalizer_.apply(text.substr(b, e - b), buf);
          norm_added_.split(
              norm,
              [&](std::size_t b2, std::size_t e2) {
                encode_piece(norm.substr(b2, e2 - b2), b == 0 && b2 == 0, ids, cache, sc);
              },
              [&](std::uint32_t id) { ids.push_back(id); });
        },
        [&](std::uint32_t id) { ids.push_back(id); });
    if (add_special_tokens) post_process(ids);
    return ids;
  }

  /// Text for `ids`. Throws InvalidInput for an id that is not in the vocabulary (HF skips them).
  std::string decode(std::span<const std::uint32_t> ids, bool skip_special_tokens = false) const {
    Decoder::State st(decoder_);
    for (const std::uint32_t id : ids)
      if (const std::string* tok = token_for_decode(id, skip_special_tokens)) st.push(*tok);
    st.finish();
    return st.text();
  }

  /// An incremental decoder; see StreamDecoder.
  StreamDecoder stream_decoder(bool skip_special_tokens = false) const;

  /// One past the largest id (model vocabulary and added tokens).
  std::size_t vocab_size() const noexcept { return id_tokens_.size(); }
  /// The id of a token spelled as in tokenizer.json (added tokens first, then the model).
  std::optional<std::uint32_t> token_to_id(std::string_view token) const {
    if (const auto it = added_by_content_.find(std::string(token)); it != added_by_content_.end())
      return it->second;
    if (const std::int64_t id = bpe_->token_to_id(token); id >= 0)
      return static_cast<std::uint32_t>(id);
    return std::nullopt;
  }
  /// The spelling of `id` in tokenizer.json. Throws InvalidInput if there is none.
  const std::string& id_to_token(std::uint32_t id) const {
    check_id(id);
    return *id_tokens_[id];
  }
  bool is_special(std::uint32_t id) const noexcept { return id < special_.size() && special_[id]; }
  std::optional<std::uint32_t> bos_id() const noexcept { return bos_; }
  std::optional<std::uint32_t> eos_id() const noexcept { return eos_; }
  /// The Jinja chat_template of tokenizer_config.json, if from_folder found one.
  const std::string& chat_template() const noexcept { return chat_template_; }

 private:
  friend class StreamDecoder;

  struct CacheBox {
    std::mutex mutex;
    BpeCache cache;
  };
  struct Scratch {
    std::vector<std::string_view> words;
    std::deque<std::string> store;
  };
  // One post-processing step: the ids of TemplateProcessing's `single` (or Bert/Roberta's) with
  // a placeholder for the sequence.
  struct Template {
    std::vector<std::variant<std::monostate, std::vector<std::uint32_t>>> items;  // monostate: $A
  };

  Tokenizer() : cache_(std::make_unique<CacheBox>()) {}

  // Through MappedFile, which refuses anything but a regular file before reading: a FIFO
  // named tokenizer.json would otherwise block the load forever.
  static std::string read_file(const std::filesystem::path& p) {
    const io::MappedFile f = io::MappedFile::open(p);
    return std::string(reinterpret_cast<const char*>(f.bytes().data()), f.size());
  }

  static nlohmann::json parse_json(std::string_view raw, const std::string& what) {
    try {
      return nlohmann::json::parse(raw);
    } catch (const nlohmann::json::exception& e) {
      throw FormatError(what + ": " + e.what());
    }
  }

  void load(std::string_view text, const std::string& what) {
    // JSON is UTF-8. Checked once here, so the cursor's fast path may hand out strings
    // unchecked and the byte-level table never meets a cut-off sequence.
    if (const std::size_t bad = utf8::first_invalid(text); bad != std::string_view::npos)
      throw FormatError("templlm: " + what + ": invalid UTF-8 at byte " + std::to_string(bad) +
                        " (JSON text must be UTF-8)");
    detail::JsonCursor in(text, what);
    std::optional<Bpe::Spec> spec;
    std::map<std::string, std::string_view, std::less<>> raw;
    in.object([&](std::string_view key) {
      // HF's serde refuses a duplicate field; keeping the last silently would load a different
      // model than another reader of the same file.
      if ((key == "model" && spec) || raw.count(key))
        in.fail("duplicate top-level key \"" + io::detail::brief_name(key) + "\"");
      if (key == "model")
        spec = Bpe::parse(in);
      else
        raw[std::string(key)] = in.skip_value();
    });
    if (!in.at_end()) in.fail("trailing characters after the top-level object");
    if (!spec) throw FormatError(what + ": no \"model\" member");
    if (spec->tokens.empty())
      throw FormatError("templlm: " + what + ": model.vocab is empty (expected at least one token)");
    const auto member = [&](const char* k) {
      const auto it = raw.find(k);
      return it == raw.end() ? nlohmann::json()
                             : io::detail::parse_json_strict(it->second, what,
                                                             std::string("member \"") + k + "\"",
                                                             limits::max_json_depth, "key");
    };
    try {
      normalizer_ = Normalizer(member("normalizer"));
      pre_tokenizer_ = PreTokenizer(member("pre_tokenizer"));
      decoder_ = Decoder(member("decoder"));
      bpe_ = std::make_shared<const Bpe>(std::move(*spec), pre_tokenizer_.byte_level());
      load_added_tokens(member("added_tokens"), what);
      // After the added tokens: the templates' ids are checked against the whole vocabulary.
      load_post_processor(member("post_processor"), what);
    } catch (const nlohmann::json::exception& e) {
      throw FormatError(what + ": " + e.what());
    }
  }

  /// A token id read from the file: a JSON integer in [0, bound), else FormatError naming
  /// `where`. Ids index tables, so a bad one must never reach an allocation or a subscript.
  static std::uint32_t checked_id(const nlohmann::json& v, std::size_t bound,
                                  const std::string& where, const std::string& file) {
    if (v.is_number_unsigned() && v.get<std::uint64_t>() < bound)
      return static_cast<std::uint32_t>(v.get<std::uint64_t>());
    const std::string found =
        v.is_number_integer() ? v.dump() : io::detail::brief_json(v) + " (not an integer)";
    throw FormatError("templlm: " + file + ": " + where + " has id " + found +
                      ", expected an integer in [0, " + std::to_string(bound) + ")");
  }

  void load_added_tokens(const nlohmann::json& list, const std::string& file) {
    std::size_t n = bpe_->size();
    std::vector<AddedToken> added;
    if (!list.is_null() && !list.is_array())
      throw FormatError("templlm: " + file + ": added_tokens is a JSON " +
                        std::string(list.type_name()) + ", expected an array");
    if (list.is_array()) {
      // Ids are dense in every published file: the model's tokens, then the added ones (some
      // reusing model ids). A larger id could only leave holes, and would size the tables.
      const std::size_t bound = bpe_->size() + list.size();
      for (std::size_t k = 0; k < list.size(); ++k) {
        const auto& a = list[k];
        AddedToken t;
        t.id = checked_id(a.at("id"), bound, "added_tokens[" + std::to_string(k) + "]", file);
        t.content = a.at("content").get<std::string>();
        t.special = a.value("special", false);
        t.lstrip = a.value("lstrip", false);
        t.rstrip = a.value("rstrip", false);
        t.single_word = a.value("single_word", false);
        t.normalized = a.value("normalized", !t.special);
        n = std::max<std::size_t>(n, std::size_t{t.id} + 1);
        added.push_back(std::move(t));
      }
    }
    id_tokens_.assign(n, nullptr);
    special_.assign(n, false);
    for (std::uint32_t id = 0; id < bpe_->size(); ++id)
      if (bpe_->has_id(id)) id_tokens_[id] = &bpe_->id_to_token(id);
    for (AddedToken& t : added) {
      added_.push_back(t);
      added_by_content_[t.content] = t.id;
      if (t.normalized) {
        std::string buf;
        AddedToken nt = t;
        nt.content = std::string(normalizer_.apply(t.content, buf));
        norm_added_.add(nt);
      } else {
        raw_added_.add(t);
      }
    }
    for (const AddedToken& t : added_) {
      id_tokens_[t.id] = &t.content;
      special_[t.id] = t.special;
    }
  }

  std::vector<std::uint32_t> special_ids(const nlohmann::json& st, const std::string& name) const {
    if (st.contains("ids")) return st.at("ids").get<std::vector<std::uint32_t>>();
    const auto id = token_to_id(name);
    if (!id) throw FormatError("tokenizer: post-processor special token '" + name + "' is unknown");
    return {*id};
  }

  /// A post-processor's id: present in the vocabulary (model or added tokens).
  std::uint32_t template_id(const nlohmann::json& v, const std::string& where,
                            const std::string& file) const {
    const std::uint32_t id = checked_id(v, id_tokens_.size(), where, file);
    if (id_tokens_[id] == nullptr)
      throw FormatError("templlm: " + file + ": " + where + " has id " + std::to_string(id) +
                        ", which no token of the vocabulary has");
    return id;
  }

  void load_post_processor(const nlohmann::json& j, const std::string& file, int depth = 0) {
    if (j.is_null()) return;
    limits::check_depth(depth, "post_processor");
    const std::string type = j.at("type").get<std::string>();
    if (type == "Sequence") {
      for (const auto& p : j.at("processors")) load_post_processor(p, file, depth + 1);
    } else if (type == "ByteLevel") {
      // Only adjusts offsets.
    } else if (type == "TemplateProcessing") {
      Template t;
      for (const auto& item : j.at("single")) {
        if (item.contains("Sequence")) {
          t.items.emplace_back(std::monostate{});
        } else {
          const std::string name = item.at("SpecialToken").at("id").get<std::string>();
          const auto& specials = j.at("special_tokens");
          if (!specials.contains(name))
            throw FormatError("tokenizer: TemplateProcessing names special token '" + name +
                              "' that it does not define");
          std::vector<std::uint32_t> ids;
          for (const auto& v : specials.at(name).at("ids"))
            ids.push_back(template_id(v, "post_processor special token '" + name + "'", file));
          t.items.emplace_back(std::move(ids));
        }
      }
      templates_.push_back(std::move(t));
    } else if (type == "BertProcessing" || type == "RobertaProcessing") {
      Template t;
      t.items.emplace_back(
          std::vector<std::uint32_t>{template_id(j.at("cls").at(1), "post_processor cls", file)});
      t.items.emplace_back(std::monostate{});
      t.items.emplace_back(
          std::vector<std::uint32_t>{template_id(j.at("sep").at(1), "post_processor sep", file)});
      templates_.push_back(std::move(t));
    } else {
      throw Unsupported("tokenizer: unsupported post_processor type '" + type + "'");
    }
  }

  void apply_config(const std::string& text, const std::string& what) {
    const nlohmann::json cfg = parse_json(text, what);
    const auto token_of = [&](const char* key) -> std::optional<std::uint32_t> {
      if (!cfg.contains(key) || cfg[key].is_null()) return std::nullopt;
      const auto& v = cfg[key];
      const std::string s =
          v.is_string() ? v.get<std::string>() : v.at("content").get<std::string>();
      const auto id = token_to_id(s);
      if (!id) throw FormatError(what + ": " + key + " '" + s + "' is not a token");
      return id;
    };
    try {
      bos_ = token_of("bos_token");
      eos_ = token_of("eos_token");
      if (cfg.contains("chat_template") && cfg["chat_template"].is_string())
        chat_template_ = cfg["chat_template"].get<std::string>();
      if (cfg.contains("add_bos_token") || cfg.contains("add_eos_token")) {
        Template t;
        if (cfg.value("add_bos_token", false) && bos_) t.items.emplace_back(std::vector{*bos_});
        t.items.emplace_back(std::monostate{});
        if (cfg.value("add_eos_token", false) && eos_) t.items.emplace_back(std::vector{*eos_});
        templates_.assign(1, std::move(t));
      }
    } catch (const nlohmann::json::exception& e) {
      throw FormatError(what + ": " + e.what());
    }
  }

  void post_process(std::vector<std::uint32_t>& ids) const {
    for (const Template& t : templates_) {
      std::vector<std::uint32_t> out;
      out.reserve(ids.size() + 4);
      for (const auto& item : t.items) {
        if (const auto* v = std::get_if<std::vector<std::uint32_t>>(&item))
          out.insert(out.end(), v->begin(), v->end());
        else
          out.insert(out.end(), ids.begin(), ids.end());
      }
      ids.swap(out);
    }
  }

  void encode_piece(std::string_view piece, bool first, std::vector<std::uint32_t>& ids,
                    BpeCache* cache, Scratch& sc) const {
    pre_tokenizer_.split(piece, first, sc.words, sc.store);
    for (const std::string_view w : sc.words) {
      if (cache && cache->find(w, ids)) continue;
      const std::size_t before = ids.size();
      bpe_->encode_word(w, ids);
      if (cache) cache->insert(w, ids.data() + before, ids.size() - before);
    }
    sc.store.clear();
  }

  void check_id(std::uint32_t id) const {
    if (id >= id_tokens_.size() || id_tokens_[id] == nullptr)
      throw InvalidInput("tokenizer: token id " + std::to_string(id) +
                         " is out of range (vocab "
                         "size " +
                         std::to_string(id_tokens_.size()) + ")");
  }

  const std::string* token_for_decode(std::uint32_t id, bool skip_special) const {
    check_id(id);
    if (skip_special && special_[id]) return nullptr;
    return id_tokens_[id];
  }

  std::shared_ptr<const Bpe> bpe_;
  Normalizer normalizer_;
  PreTokenizer pre_tokenizer_;
  Decoder decoder_;
  std::vector<Template> templates_;
  std::deque<AddedToken> added_;  // stable addresses: id_tokens_ points into it
  std::map<std::string, std::uint32_t, std::less<>> added_by_content_;
  AddedTokenMatcher raw_added_, norm_added_;
  std::vector<const std::string*> id_tokens_;
  std::vector<bool> special_;
  std::optional<std::uint32_t> bos_, eos_;
  std::string chat_template_;
  std::unique_ptr<CacheBox> cache_;
};

/// Decodes ids one at a time. Each step returns only text that later ids cannot change and that
/// ends on a UTF-8 character boundary; after finish() the pieces concatenate to exactly
/// `tokenizer.decode(all ids)`. Holds a reference to the tokenizer.
///
///   auto sd = tok.stream_decoder();
///   for (auto id : generated) std::cout << sd.step(id) << std::flush;
///   std::cout << sd.finish();
class StreamDecoder {
 public:
  StreamDecoder(const Tokenizer& t, bool skip_special)
      : t_(&t), st_(t.decoder_), skip_(skip_special) {}

  /// New text made final by `id` (often empty while a character's bytes are incomplete).
  std::string step(std::uint32_t id) {
    if (const std::string* tok = t_->token_for_decode(id, skip_)) st_.push(*tok);
    return take();
  }
  /// Whatever was held back (an incomplete character becomes U+FFFD, as in a full decode).
  std::string finish() {
    st_.finish();
    return take();
  }

 private:
  std::string take() { return st_.take_text(); }
  const Tokenizer* t_;
  Decoder::State st_;
  bool skip_;
};

inline StreamDecoder Tokenizer::stream_decoder(bool skip_special_tokens) const {
  return StreamDecoder(*this, skip_special_tokens);
}

}  // namespace templlm::tokenizer
