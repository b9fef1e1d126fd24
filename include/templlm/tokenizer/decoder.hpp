// SPDX-License-Identifier: Apache-2.0
/// \file tokenizer/decoder.hpp
/// The decoders of tokenizer.json (ByteLevel, Replace, ByteFallback, Fuse, Strip, Metaspace and
/// Sequences of them) as a push-based pipeline: tokens go in one at a time and text comes out as
/// soon as it can no longer change. A full decode pushes every token and then finishes, so a
/// streamed decode (tokenizer.hpp's StreamDecoder) concatenates to exactly the full decode, and
/// never stops inside a UTF-8 sequence. Semantics follow HF tokenizers' `decode_chain`s.
#pragma once
#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "templlm/core/error.hpp"
#include "templlm/tokenizer/byte_level.hpp"
#include "templlm/tokenizer/limits.hpp"
#include "templlm/tokenizer/normalizer.hpp"
#include "templlm/tokenizer/utf8.hpp"

namespace templlm::tokenizer {

class Decoder {
 private:
  struct ByteLevel {};
  struct Fuse {};
  struct ByteFallback {};
  struct Replace {
    Pattern pattern;
    std::string content;
  };
  struct Strip {
    std::string content;
    std::size_t start, stop;
  };
  struct Metaspace {
    std::string replacement;
    bool prepend;
  };
  using Stage = std::variant<ByteLevel, Fuse, ByteFallback, Replace, Strip, Metaspace>;

 public:
  Decoder() = default;
  explicit Decoder(const nlohmann::json& j) {
    if (j.is_null()) return;
    add(j);
    bool fused = false;
    for (const Stage& s : stages_) {
      if (std::holds_alternative<Fuse>(s) || std::holds_alternative<ByteLevel>(s)) fused = true;
      if (const auto* st = std::get_if<Strip>(&s); st && fused && st->stop > 0)
        throw Unsupported(
            "tokenizer: a Strip decoder with stop > 0 after Fuse/ByteLevel is not "
            "supported");
    }
  }

  bool empty() const noexcept { return stages_.empty(); }

  /// Running state of one decode.
  class State {
   public:
    explicit State(const Decoder& d) : d_(&d), st_(d.stages_.size()) {}

    void push(std::string_view token) {
      if (d_->stages_.empty()) {  // HF joins tokens with spaces when there is no decoder
        if (tokens_++ > 0) out_ += ' ';
        out_ += token;
        return;
      }
      feed(0, std::string(token), false);
    }
    void finish() { flush_from(0); }

    /// Text that can no longer change.
    const std::string& text() const noexcept { return out_; }
    /// Moves that text out (streaming keeps only what is still pending).
    std::string take_text() { return std::exchange(out_, {}); }

   private:
    struct StageState {
      std::string bytes;      // ByteLevel: bytes held back; ByteFallback: pending byte tokens
      std::size_t count = 0;  // ByteFallback: number of pending byte tokens; others: tokens seen
      bool at_start = true;   // Strip (fused): still inside the leading run
      std::size_t stripped = 0;
    };

    // Sends `tok` into stage i; `fused` says an earlier stage joined all tokens into one.
    void feed(std::size_t i, std::string tok, bool fused) {
      if (i == d_->stages_.size()) {
        out_ += tok;
        return;
      }
      StageState& ss = st_[i];
      const Stage& stage = d_->stages_[i];
      if (std::holds_alternative<ByteLevel>(stage)) {
        if (auto raw = byte_level::to_bytes(tok))
          ss.bytes += *raw;
        else
          ss.bytes += tok;  // HF keeps a token with unmapped characters as its UTF-8 bytes
        const std::size_t k = utf8::complete_prefix(ss.bytes);
        if (k == 0) return;
        std::string chunk = utf8::sanitize(std::string_view(ss.bytes).substr(0, k));
        ss.bytes.erase(0, k);
        feed(i + 1, std::move(chunk), true);
      } else if (std::holds_alternative<Fuse>(stage)) {
        feed(i + 1, std::move(tok), true);
      } else if (std::holds_alternative<ByteFallback>(stage)) {
        if (const int b = byte_token(tok); b >= 0 && !fused) {
          ss.bytes += static_cast<char>(b);
          ++ss.count;
          return;
        }
        flush_bytes(i, fused);
        feed(i + 1, std::move(tok), fused);
      } else if (const auto* r = std::get_if<Replace>(&stage)) {
        std::string res;
        std::size_t last = 0;
        r->pattern.for_each_match(tok, [&](std::size_t b, std::size_t e) {
          res.append(tok, last, b - last).append(r->content);
          last = e;
        });
        res.append(tok, last);
        feed(i + 1, std::move(res), fused);
      } else if (const auto* s = std::get_if<Strip>(&stage)) {
        feed(i + 1, strip(*s, ss, std::move(tok), fused), fused);
      } else if (const auto* m = std::get_if<Metaspace>(&stage)) {
        const bool first = fused || ss.count++ == 0;
        std::string res;
        for (std::size_t p = 0; p < tok.size();) {
          if (tok.compare(p, m->replacement.size(), m->replacement) == 0) {
            if (!(first && m->prepend)) res += ' ';
            p += m->replacement.size();
          } else {
            res += tok[p++];
          }
        }
        feed(i + 1, std::move(res), fused);
      }
    }

    void flush_from(std::size_t i) {
      for (; i < d_->stages_.size(); ++i) {
        StageState& ss = st_[i];
        const Stage& stage = d_->stages_[i];
        const bool fused = fused_before(i);
        if (std::holds_alternative<ByteLevel>(stage) && !ss.bytes.empty()) {
          std::string chunk = utf8::sanitize(ss.bytes);
          ss.bytes.clear();
          feed(i + 1, std::move(chunk), true);
        } else if (std::holds_alternative<ByteFallback>(stage)) {
          flush_bytes(i, fused);
        }
      }
    }

    void flush_bytes(std::size_t i, bool fused) {
      StageState& ss = st_[i];
      if (ss.count == 0) return;
      std::string bytes = std::move(ss.bytes);
      const std::size_t n = ss.count;
      ss.bytes.clear();
      ss.count = 0;
      if (utf8::is_valid(bytes)) {
        feed(i + 1, std::move(bytes), fused);
      } else {
        for (std::size_t k = 0; k < n; ++k) feed(i + 1, std::string(utf8::replacement), fused);
      }
    }

    bool fused_before(std::size_t i) const {
      for (std::size_t k = 0; k < i; ++k)
        if (std::holds_alternative<Fuse>(d_->stages_[k]) ||
            std::holds_alternative<ByteLevel>(d_->stages_[k]))
          return true;
      return false;
    }

    static std::string strip(const Strip& s, StageState& ss, std::string tok, bool fused) {
      std::size_t b = 0;
      if (fused) {
        while (ss.at_start && ss.stripped < s.start && b < tok.size()) {
          if (tok.compare(b, s.content.size(), s.content) != 0) {
            ss.at_start = false;
            break;
          }
          b += s.content.size();
          ++ss.stripped;
        }
        if (b < tok.size()) ss.at_start = false;
        return tok.substr(b);
      }
      for (std::size_t k = 0;
           k < s.start && tok.compare(b, s.content.size(), s.content) == 0 && b < tok.size(); ++k)
        b += s.content.size();
      std::size_t e = tok.size();
      for (std::size_t k = 0; k < s.stop && e >= b + s.content.size() &&
                              tok.compare(e - s.content.size(), s.content.size(), s.content) == 0;
           ++k)
        e -= s.content.size();
      return tok.substr(b, e - b);
    }

    const Decoder* d_;
    std::vector<StageState> st_;
    std::string out_;
    std::size_t tokens_ = 0;
  };

  /// `<0xNN>` -> NN, else -1.
  static int byte_token(std::string_view t) {
    if (t.size() != 6 || t.compare(0, 3, "<0x") != 0 || t[5] != '>') return -1;
    const auto hex = [](char c) {
      return c >= '0' && c <= '9'   ? c - '0'
             : c >= 'A' && c <= 'F' ? c - 'A' + 10
             : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                    : -1;
    };
    const int hi = hex(t[3]), lo = hex(t[4]);
    return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
  }

 private:
  void add(const nlohmann::json& j, int depth = 0) {
    limits::check_depth(depth, "decoder");
    const std::string type = j.at("type").get<std::string>();
    if (type == "Sequence") {
      for (const auto& d : j.at("decoders")) add(d, depth + 1);
    } else if (type == "ByteLevel") {
      stages_.emplace_back(ByteLevel{});
    } else if (type == "Fuse") {
      stages_.emplace_back(Fuse{});
    } else if (type == "ByteFallback") {
      stages_.emplace_back(ByteFallback{});
    } else if (type == "Replace") {
      stages_.emplace_back(Replace{Pattern::from_json(j.at("pattern"), "Replace decoder"),
                                   j.at("content").get<std::string>()});
    } else if (type == "Strip") {
      stages_.emplace_back(Strip{limits::one_char(j.at("content").get<std::string>(),
                                                  "Strip decoder content"),
                                 j.at("start").get<std::size_t>(),
                                 j.at("stop").get<std::size_t>()});
    } else if (type == "Metaspace") {
      const std::string scheme = j.contains("prepend_scheme")
                                     ? j.at("prepend_scheme").get<std::string>()
                                     : (j.value("add_prefix_space", true) ? "always" : "never");
      stages_.emplace_back(
          Metaspace{limits::one_char(j.value("replacement", std::string("\xE2\x96\x81")),
                                     "Metaspace decoder replacement"),
                    scheme != "never"});
    } else {
      throw Unsupported("tokenizer: unsupported decoder type '" + type + "'");
    }
  }

  std::vector<Stage> stages_;
};

}  // namespace templlm::tokenizer
