// SPDX-License-Identifier: Apache-2.0
/// \file tokenizer/regex.hpp
/// A move-only PCRE2 (8-bit, UTF + UCP, JIT-compiled) pattern for the tokenizer's Split
/// pre-tokenisers and Replace normalisers. Matching runs on a view of the caller's buffer: nothing
/// is copied per match. Host-only; the only file that includes <pcre2.h>.
#pragma once
#ifndef PCRE2_CODE_UNIT_WIDTH
#define PCRE2_CODE_UNIT_WIDTH 8
#endif
#include <pcre2.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "templlm/core/error.hpp"
#include "templlm/tokenizer/limits.hpp"

namespace templlm::tokenizer {

class Regex {
 public:
  /// Compiles `pattern` (UTF-8, Oniguruma/Perl syntax as written in tokenizer.json). Throws
  /// FormatError naming the pattern and PCRE2's message if it does not compile.
  explicit Regex(const std::string& pattern) : pattern_(pattern) {
    int err = 0;
    PCRE2_SIZE off = 0;
    code_.reset(pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                              PCRE2_UTF | PCRE2_UCP, &err, &off, nullptr));
    if (!code_) {
      PCRE2_UCHAR msg[256];
      pcre2_get_error_message(err, msg, sizeof msg);
      throw FormatError("tokenizer: regex " + pattern + " does not compile at offset " +
                        std::to_string(off) + ": " + reinterpret_cast<const char*>(msg));
    }
    // JIT is an optimisation: if this build of PCRE2 lacks it, the interpreter gives the same
    // answers.
    jit_ = pcre2_jit_compile(code_.get(), PCRE2_JIT_COMPLETE) == 0;
  }

  const std::string& pattern() const noexcept { return pattern_; }

  /// Calls `f(begin, end)` for each non-overlapping match in `subject` (offsets into it), left to
  /// right. The subject must be valid UTF-8 (checked once by the caller, not per match).
  template <class F>
  void for_each_match(std::string_view subject, F&& f) const {
    MatchData md;
    const auto* s = reinterpret_cast<PCRE2_SPTR>(subject.data());
    std::size_t start = 0;
    while (start <= subject.size()) {
      const int rc =
          jit_ ? pcre2_jit_match(code_.get(), s, subject.size(), start, 0, md.get(), md.context())
               : pcre2_match(code_.get(), s, subject.size(), start, PCRE2_NO_UTF_CHECK, md.get(),
                             md.context());
      if (rc == PCRE2_ERROR_NOMATCH) return;
      if (rc < 0) fail(rc, subject.size());
      const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md.get());
      const std::size_t b = ov[0], e = ov[1];
      if (e == b) {  // empty match: skip one code point, as Oniguruma's find_iter does
        if (b >= subject.size()) return;
        start = b + 1;
        while (start < subject.size() &&
               (static_cast<unsigned char>(subject[start]) & 0xC0) == 0x80)
          ++start;
        continue;
      }
      f(b, e);
      start = e;
    }
  }

 private:
  // A failed match is the file's pattern at fault (PCRE2 only gives up when it backtracks
  // beyond its limits), so it is a FormatError naming the pattern, with PCRE2's own words.
  [[noreturn]] void fail(int rc, std::size_t subject_bytes) const {
    PCRE2_UCHAR msg[256];
    if (pcre2_get_error_message(rc, msg, sizeof msg) < 0) msg[0] = 0;
    const std::string pat = pattern_.size() <= 120 ? pattern_ : pattern_.substr(0, 117) + "...";
    const bool limit = rc == PCRE2_ERROR_MATCHLIMIT || rc == PCRE2_ERROR_DEPTHLIMIT ||
                       rc == PCRE2_ERROR_HEAPLIMIT || rc == PCRE2_ERROR_JIT_STACKLIMIT;
    throw FormatError(
        "templlm: tokenizer: the regex " + pat + " gave up on a piece of " +
        std::to_string(subject_bytes) + " bytes" +
        (limit ? ": it backtracks catastrophically (more than " +
                     std::to_string(limits::regex_match_limit) +
                     " steps); the pattern in tokenizer.json needs rewriting"
               : std::string()) +
        " (PCRE2 error " + std::to_string(rc) + ": " + reinterpret_cast<const char*>(msg) + ")");
  }

  struct CodeFree {
    void operator()(pcre2_code* c) const noexcept { pcre2_code_free(c); }
  };

  // Per-call match data and a generous JIT stack (long whitespace runs backtrack in `\s+(?!\S)`).
  // Thread-local so concurrent encodes never share one.
  class MatchData {
   public:
    MatchData() {
      thread_local State state;
      state.ensure();
      st_ = &state;
    }
    pcre2_match_data* get() const noexcept { return st_->data; }
    pcre2_match_context* context() const noexcept { return st_->mctx; }

   private:
    struct State {
      pcre2_match_data* data = nullptr;
      pcre2_match_context* mctx = nullptr;
      pcre2_jit_stack* stack = nullptr;
      void ensure() {
        if (data == nullptr) {
          data = pcre2_match_data_create(16, nullptr);
          mctx = pcre2_match_context_create(nullptr);
          stack = pcre2_jit_stack_create(64 * 1024, 8 * 1024 * 1024, nullptr);
          pcre2_jit_stack_assign(mctx, nullptr, stack);
          pcre2_set_match_limit(mctx, limits::regex_match_limit);
        }
      }
      ~State() {
        if (data) pcre2_match_data_free(data);
        if (mctx) pcre2_match_context_free(mctx);
        if (stack) pcre2_jit_stack_free(stack);
      }
    };
    State* st_;
  };

  std::string pattern_;
  std::unique_ptr<pcre2_code, CodeFree> code_;
  bool jit_ = false;
};

}  // namespace templlm::tokenizer
