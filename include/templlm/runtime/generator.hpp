// SPDX-License-Identifier: Apache-2.0
/// \file runtime/generator.hpp
/// Generation over a type-erased AnyModel, with continuous batching.
///
/// An Engine holds requests. Each step() runs ONE forward over every active request: a request
/// that just joined contributes its whole prompt (prefill), the others one token each (decode),
/// each continuing its own KV cache. A request leaves the batch when it stops; requests may be
/// added between steps. A request's tokens depend only on its own prompt, options and seed, so
/// batching does not change greedy outputs.
///
/// Stop reasons (GenerationResult::stop):
///   eos               a stop token id was sampled (options.stop_ids, plus the tokenizer's eos
///                     when a tokenizer is given); the token is kept in `tokens`, not in `text`
///   stop_string       the text reached one of options.stop_strings; the text is cut before it
///                     (never emitted, even when it spans several tokens)
///   max_tokens        options.max_tokens tokens were generated
///   cancelled         the streaming callback returned false
///   context_exhausted the sequence's cache (options.max_context) is full
/// A prompt that does not fit the context throws InvalidInput when the request is added.
///
/// With a tokenizer, the callback receives text pieces that end on UTF-8 character boundaries;
/// text that could be the start of a stop string is held back until it is known not to be.
/// Without one (id-level models), it receives each token id with an empty piece.
#pragma once
#include <algorithm>
#include <chrono>
#include <functional>
#include <memory>
#include <new>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "../core/error.hpp"
#include "../tokenizer/tokenizer.hpp"
#include "model.hpp"
#include "sampler.hpp"

namespace templlm::runtime {

enum class StopReason { none, eos, stop_string, max_tokens, cancelled, context_exhausted };

inline std::string_view stop_reason_name(StopReason r) {
  switch (r) {
    case StopReason::none: return "none";
    case StopReason::eos: return "eos";
    case StopReason::stop_string: return "stop_string";
    case StopReason::max_tokens: return "max_tokens";
    case StopReason::cancelled: return "cancelled";
    case StopReason::context_exhausted: return "context_exhausted";
  }
  return "?";
}

struct GenerateOptions {
  SamplingParams sampling;
  int max_tokens = 256;
  std::vector<int> stop_ids;              // in addition to the tokenizer's eos
  std::vector<std::string> stop_strings;  // needs a tokenizer
  bool logprobs = false;
  int top_logprobs = 0;  // with logprobs: also the this many most likely tokens of each step (<= 20)
  /// Keep special tokens in the decoded text (a chat reply's channel and tool-call markers,
  /// which the format's parser reads); off: left out, as transformers' skip_special_tokens.
  bool special_tokens_in_text = false;
  /// Tokens the sequence's cache holds (prompt + generated). 0: prompt + max_tokens, capped at
  /// context_limit when that is known.
  std::int64_t max_context = 0;
  /// The most positions the model supports; 0: the model's own (AnyModel::context_limit, from
  /// config.json's max_position_embeddings when load_model made it). A prompt or a max_context
  /// beyond it is refused before any cache is allocated.
  std::int64_t context_limit = 0;
};

/// Called once per generated token: the token id and the text it makes final (possibly empty).
/// Return false to cancel.
using StreamCallback = std::function<bool(int token, std::string_view text)>;

struct GenerationResult {
  std::vector<int> tokens;        // generated ids (a final stop token included)
  std::string text;               // decoded text, stop string and stop token excluded
  std::vector<float> logprobs;    // per token, when requested: log p under the raw model
  /// per token, when top_logprobs > 0: the most likely (id, log p), best first
  std::vector<std::vector<std::pair<int, float>>> top_logprobs;
  StopReason stop = StopReason::none;
  std::string stop_string;        // the stop string that ended it (StopReason::stop_string)
  std::int64_t prompt_tokens = 0;
  double prefill_seconds = 0, decode_seconds = 0;  // wall time of the steps it took part in
};

class Engine {
 public:
  /// tok may be null (id level). The model and tokenizer must outlive the engine.
  explicit Engine(AnyModel& model, const tokenizer::Tokenizer* tok = nullptr)
      : model_(model), tok_(tok), sampler_(model.vocab()) {}

  /// The checks add() makes, for a caller that must refuse a request before queueing it (a
  /// server answering 400): throws InvalidInput naming what is wrong. `limit`: the model's
  /// context (0 = not known). Returns the context the request's sequence gets.
  static std::int64_t check(const std::vector<int>& prompt, const GenerateOptions& opt, std::int64_t model_limit,
                            bool has_tokenizer) {
    if (prompt.empty()) throw InvalidInput("templlm: the prompt has no tokens");
    if (opt.max_tokens < 0) throw InvalidInput("templlm: max_tokens must be >= 0");
    if (opt.top_logprobs < 0 || opt.top_logprobs > 20)
      throw InvalidInput("templlm: top_logprobs must be from 0 to 20, got " + std::to_string(opt.top_logprobs));
    if (!opt.stop_strings.empty() && !has_tokenizer)
      throw InvalidInput("templlm: stop strings need a tokenizer");
    opt.sampling.validate();
    if (opt.max_context < 0 || opt.context_limit < 0)
      throw InvalidInput("templlm: max_context and context_limit must be >= 0 (0 = default)");
    const auto plen = std::int64_t(prompt.size());
    const std::int64_t limit = opt.context_limit > 0 ? opt.context_limit : model_limit;
    if (limit > 0 && plen > limit)
      throw InvalidInput("templlm: the prompt has " + std::to_string(plen) +
                         " tokens but the model's context is " + std::to_string(limit) +
                         " tokens (max_position_embeddings)");
    if (limit > 0 && opt.max_context > limit)
      throw InvalidInput("templlm: a context of " + std::to_string(opt.max_context) +
                         " tokens exceeds the model's " + std::to_string(limit) +
                         " (max_position_embeddings)");
    std::int64_t ctx = opt.max_context > 0 ? opt.max_context : plen + std::max(opt.max_tokens, 1);
    if (limit > 0 && opt.max_context == 0) ctx = std::min(ctx, limit);
    if (plen > ctx)
      throw InvalidInput("templlm: the prompt has " + std::to_string(plen) +
                         " tokens but the context holds " + std::to_string(ctx));
    for (auto& s : opt.stop_strings)
      if (s.empty()) throw InvalidInput("templlm: an empty stop string");
    return ctx;
  }

  /// Adds a request; it joins the batch at the next step(). Returns its handle. `start`
  /// (optional): a sequence of this model already holding a prefix of the prompt (shorter than
  /// it; a prefix cache's fork, truncated to the shared tokens) of at least check()'s context.
  int add(std::vector<int> prompt, GenerateOptions opt, StreamCallback on_token = {},
          std::unique_ptr<Sequence> start = nullptr) {
    const std::int64_t ctx = check(prompt, opt, model_.context_limit(), tok_ != nullptr);
    if (start && (start->length() >= std::int64_t(prompt.size()) || start->max_context() < ctx))
      throw InvalidInput("templlm: a cached prefix must be shorter than the prompt (" + std::to_string(prompt.size()) +
                         " tokens; it holds " + std::to_string(start->length()) + ") and hold its context");
    const auto plen = std::int64_t(prompt.size());
    auto r = std::make_unique<Request>();
    r->history = std::move(prompt);
    r->result.prompt_tokens = plen;
    r->opt = std::move(opt);
    r->on_token = std::move(on_token);
    if (tok_) {
      if (auto e = tok_->eos_id()) r->opt.stop_ids.push_back(int(*e));
      r->decoder.emplace(tok_->stream_decoder(!r->opt.special_tokens_in_text));
    }
    for (auto& s : r->opt.stop_strings) r->longest_stop = std::max(r->longest_stop, s.size());
    r->seq = start ? std::move(start) : model_.new_sequence(ctx);
    r->history.reserve(std::size_t(std::min(ctx, plen + std::int64_t(std::max(r->opt.max_tokens, 0)))));
    r->result.tokens.reserve(std::size_t(std::max(r->opt.max_tokens, 0)));
    if (r->opt.max_tokens == 0) r->result.stop = StopReason::max_tokens;
    if (!free_.empty()) {  // a forgotten request's slot: a long-running server does not grow
      const int h = free_.back();
      free_.pop_back();
      requests_[std::size_t(h)] = std::move(r);
      return h;
    }
    requests_.push_back(std::move(r));
    return int(requests_.size() - 1);
  }

  /// A request whose prompt has images (AnyModel::image_prompt): its image tokens take the
  /// images' features when the prompt is fed. `start` as above, but holding no image token: the
  /// ids of an image's tokens do not tell two images apart, so a cached prefix must end before
  /// the first (first_image_row()).
  int add_with_images(vision::ImagePrompt prompt, GenerateOptions opt, StreamCallback on_token = {},
                      std::unique_ptr<Sequence> start = nullptr) {
    if (prompt.rows.size() * std::size_t(std::max<std::int64_t>(prompt.hidden, 0)) != prompt.embeddings.size())
      throw InvalidInput("templlm: an image prompt's features do not match its image tokens");
    const std::int64_t fed = start ? start->length() : 0;
    if (!prompt.rows.empty() && fed > prompt.rows.front())
      throw InvalidInput("templlm: a cached prefix of an image prompt must end before its first image token");
    std::vector<std::int64_t> rows = std::move(prompt.rows);
    for (auto& r : rows) r -= fed;  // relative to the ids the first step feeds
    const std::int64_t first_image = rows.empty() ? -1 : rows.front() + fed;
    const int h = add(std::move(prompt.ids), std::move(opt), std::move(on_token), std::move(start));
    Request& r = *requests_[std::size_t(h)];
    r.given_rows = std::move(rows);
    r.given_values = std::move(prompt.embeddings);
    r.first_image_row = first_image;
    return h;
  }
  /// The first row of an image prompt that holds an image token; the whole length otherwise.
  static std::int64_t first_image_row(const vision::ImagePrompt& p) {
    return p.rows.empty() ? std::int64_t(p.ids.size()) : p.rows.front();
  }

  /// One forward over every active request; returns whether any remain active.
  bool step() {
    steps_.clear();
    active_.clear();
    for (std::size_t i = 0; i < requests_.size(); ++i) {
      if (!requests_[i]) continue;  // forgotten
      Request& r = *requests_[i];
      if (r.result.stop != StopReason::none) continue;
      const std::size_t fed = std::size_t(r.seq->length());
      HostEmbeddings given;
      if (!r.given_rows.empty()) {  // the prompt is fed in this step, from its start (add())
        given = {r.given_rows, r.given_values};  // rows relative to `fed` (add())
      }
      steps_.push_back({r.seq.get(), std::span<const int>(r.history).subspan(fed), given});
      active_.push_back(i);
    }
    if (steps_.empty()) return false;
    // Only logprobs need the logits on the host; otherwise the model may sample where the
    // logits are (step_sample: on the device for a backend with a sample op).
    const bool host_logits = std::any_of(active_.begin(), active_.end(),
                                         [&](std::size_t i) { return requests_[i]->opt.logprobs; });
    const std::size_t v = std::size_t(model_.vocab());
    const auto t0 = std::chrono::steady_clock::now();
    if (host_logits) {
      if (logits_.size() < steps_.size() * v) logits_.resize(steps_.size() * v);
      model_.step(steps_, logits_);
    } else {
      rows_.clear();
      for (std::size_t i : active_) {
        const Request& r = *requests_[i];
        rows_.push_back({r.opt.sampling, r.history, std::uint64_t(r.result.tokens.size())});
      }
      sampled_.resize(active_.size());
      model_.step_sample(steps_, rows_, sampled_);
    }
    const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    for (std::size_t s = 0; s < active_.size(); ++s) {
      Request& r = *requests_[active_[s]];
      if (!r.given_rows.empty()) {  // fed: the features are in the cache now
        r.given_rows = {};
        r.given_values = {};
      }
      (r.result.tokens.empty() ? r.result.prefill_seconds : r.result.decode_seconds) += dt;
      if (host_logits) {
        const auto logits = std::span<const float>(logits_).subspan(s * v, v);
        accept(r, sampler_.sample(logits, r.history, r.opt.sampling, std::uint64_t(r.result.tokens.size())),
               logits);
      } else {
        accept(r, sampled_[s], {});
      }
    }
    for (const auto& r : requests_)
      if (r && r->result.stop == StopReason::none) return true;
    return false;
  }

  /// Steps until every request has stopped.
  void run() {
    while (step()) {
    }
  }

  bool done(int handle) const { return at(handle).result.stop != StopReason::none; }
  const GenerationResult& result(int handle) const { return at(handle).result; }
  /// Frees the request's cache (its result stays readable).
  void release(int handle) { mutable_at(handle).seq.reset(); }
  /// Frees the request and its cache; its handle may be given to a later add(). A request still
  /// running is cancelled (its on_token is not called again).
  void forget(int handle) {
    mutable_at(handle);
    requests_[std::size_t(handle)].reset();
    free_.push_back(handle);
  }
  /// A stopped request's cache and the tokens it holds (for a prefix cache), then forget(h).
  struct Cached {
    std::vector<int> tokens;
    std::unique_ptr<Sequence> seq;
  };
  Cached forget_keeping_cache(int handle) {
    Request& r = mutable_at(handle);
    if (r.result.stop == StopReason::none) throw InvalidInput("templlm: the request is still running");
    Cached out{std::move(r.history), std::move(r.seq)};
    if (out.seq) out.tokens.resize(std::size_t(out.seq->length()));
    // Image tokens' ids do not identify the image: only the prefix before the first is reusable.
    if (r.first_image_row >= 0 && out.tokens.size() > std::size_t(r.first_image_row))
      out.tokens.resize(std::size_t(r.first_image_row));
    forget(handle);
    return out;
  }
  /// Requests added and not yet stopped.
  std::size_t running() const {
    return std::size_t(std::count_if(requests_.begin(), requests_.end(),
                                     [](const auto& r) { return r && r->result.stop == StopReason::none; }));
  }

 private:
  struct Request {
    std::vector<int> history;  // prompt + generated; history[seq->length():] is not yet fed
    GenerateOptions opt;
    StreamCallback on_token;
    std::unique_ptr<Sequence> seq;
    std::optional<tokenizer::StreamDecoder> decoder;
    std::string pending;       // decoded text not yet emitted (may start a stop string)
    std::size_t longest_stop = 0;
    GenerationResult result;
    std::vector<std::int64_t> given_rows;  // an image prompt's feature rows, until it is fed
    std::vector<float> given_values;
    std::int64_t first_image_row = -1;     // of the prompt; -1: no image
  };

  const Request& at(int h) const {
    if (h < 0 || std::size_t(h) >= requests_.size() || !requests_[std::size_t(h)])
      throw InvalidInput("templlm: no request with handle " + std::to_string(h));
    return *requests_[std::size_t(h)];
  }
  Request& mutable_at(int h) { return const_cast<Request&>(at(h)); }

  /// Takes the sampled token `tok`; `logits` (its row, on the host) only when logprobs are on.
  void accept(Request& r, int tok, std::span<const float> logits) {
    r.result.tokens.push_back(tok);
    r.history.push_back(tok);
    if (r.opt.logprobs) r.result.logprobs.push_back(Sampler::logprob(logits, tok));
    if (r.opt.logprobs && r.opt.top_logprobs > 0)
      r.result.top_logprobs.push_back(Sampler::top_logprobs(logits, r.opt.top_logprobs));
    const bool is_stop_id =
        std::find(r.opt.stop_ids.begin(), r.opt.stop_ids.end(), tok) != r.opt.stop_ids.end();
    std::string piece;
    bool hit = false;
    if (r.decoder) {
      if (!is_stop_id) r.pending += r.decoder->step(std::uint32_t(tok));
      const bool last = is_stop_id || int(r.result.tokens.size()) >= r.opt.max_tokens ||
                        r.seq->length() + 1 > r.seq->max_context();
      if (last) r.pending += r.decoder->finish();
      hit = take_text(r, piece, last);
    }
    bool keep_going = true;
    if (r.on_token) keep_going = r.on_token(tok, piece);
    if (is_stop_id) r.result.stop = StopReason::eos;
    else if (hit) r.result.stop = StopReason::stop_string;
    else if (int(r.result.tokens.size()) >= r.opt.max_tokens) r.result.stop = StopReason::max_tokens;
    else if (!keep_going) r.result.stop = StopReason::cancelled;
    else if (r.seq->length() >= r.seq->max_context()) r.result.stop = StopReason::context_exhausted;
  }

  /// Moves the safe part of r.pending into `out` and r.result.text. Returns true on a stop
  /// string (pending is cut before it). `final`: no more text follows, emit what is held back.
  static bool take_text(Request& r, std::string& out, bool final) {
    std::size_t cut = std::string::npos;
    const std::string* found = nullptr;
    for (const auto& s : r.opt.stop_strings)
      if (const std::size_t at = r.pending.find(s); at < cut) {
        cut = at;
        found = &s;
      }
    if (cut != std::string::npos) {
      r.result.stop_string = *found;
      out.assign(r.pending, 0, cut);
      r.result.text += out;
      r.pending.clear();
      return true;
    }
    std::size_t hold = 0;
    if (!final)
      for (const auto& s : r.opt.stop_strings)
        for (std::size_t k = std::min(s.size() - 1, r.pending.size()); k > hold; --k)
          if (r.pending.compare(r.pending.size() - k, k, s, 0, k) == 0) {
            hold = k;
            break;
          }
    out.assign(r.pending, 0, r.pending.size() - hold);
    r.result.text += out;
    r.pending.erase(0, r.pending.size() - hold);
    return false;
  }

  AnyModel& model_;
  const tokenizer::Tokenizer* tok_;
  Sampler sampler_;
  std::vector<std::unique_ptr<Request>> requests_;  // null: forgotten, its slot in free_
  std::vector<int> free_;
  std::vector<Step> steps_;
  std::vector<std::size_t> active_;
  std::vector<float> logits_;
  std::vector<SampleRequest> rows_;
  std::vector<int> sampled_;
};

/// One request with images, run alone.
inline GenerationResult generate_with_images(AnyModel& model, vision::ImagePrompt prompt, const GenerateOptions& opt,
                                             StreamCallback on_token = {}, const tokenizer::Tokenizer* tok = nullptr) {
  Engine e(model, tok);
  const int h = e.add_with_images(std::move(prompt), opt, std::move(on_token));
  e.run();
  return e.result(h);
}

/// One request, run alone: the simple entry point.
inline GenerationResult generate(AnyModel& model, std::vector<int> prompt, const GenerateOptions& opt,
                                 StreamCallback on_token = {}, const tokenizer::Tokenizer* tok = nullptr) {
  Engine e(model, tok);
  const int h = e.add(std::move(prompt), opt, std::move(on_token));
  e.run();
  return e.result(h);
}

}  // namespace templlm::runtime
