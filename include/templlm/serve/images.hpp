// SPDX-License-Identifier: Apache-2.0
/// \file serve/images.hpp
/// Images in requests: OpenAI's `image_url` content parts and Anthropic's `image` blocks, whose
/// bytes come inline (a data: URL, or a base64 source). The server fetches nothing: a remote URL
/// is a 400 naming the field. Each image is decoded here, in the handler's thread (io/image.hpp),
/// and stands in the message text as the model's placeholder (Llama 4: <|image|>), where the
/// chat format renders it; the scheduler's thread encodes it (AnyModel::image_prompt).
/// Thread safety: pure functions and a per-request collector.
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "../io/image.hpp"
#include "request_error.hpp"

namespace templlm::serve {

/// The images of one request, in order, and the text that stands for each in the prompt.
struct RequestImages {
  std::string placeholder;  // empty: the model takes no images
  std::vector<io::Image> images;
  std::size_t max_images = 16;

  /// Decodes `bytes` (`field` names it in errors) and returns the placeholder for the text.
  std::string add(std::span<const std::uint8_t> bytes, const std::string& field) {
    if (placeholder.empty())
      throw RequestError(400, field + ": this model takes no images (its description has no vision tower, or the "
                                      "server's backend has no vision ops)", field);
    if (images.size() >= max_images)
      throw RequestError(400, field + ": more than " + std::to_string(max_images) + " images in one request", field);
    try {
      images.push_back(io::decode_image(bytes, field));
    } catch (const Error& e) {  // FormatError, InvalidInput (too large), Unsupported (no decoders)
      throw RequestError(400, e.what(), field);
    }
    return placeholder;
  }
};

/// Strict base64 (RFC 4648, '=' padding optional; whitespace refused): the decoded bytes.
inline std::vector<std::uint8_t> base64_decode(std::string_view s, const std::string& field) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  while (!s.empty() && s.back() == '=') s.remove_suffix(1);
  if (s.size() % 4 == 1) throw RequestError(400, field + ": not valid base64 (its length)", field);
  std::vector<std::uint8_t> out;
  out.reserve(s.size() * 3 / 4);
  std::uint32_t acc = 0;
  int bits = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const int v = value(s[i]);
    if (v < 0) throw RequestError(400, field + ": not valid base64 (character " + std::to_string(i) + ")", field);
    acc = (acc << 6) | std::uint32_t(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(std::uint8_t((acc >> bits) & 0xFF));
    }
  }
  return out;
}

/// The bytes of a `data:image/png;base64,...` (or image/jpeg) URL; any other URL is refused.
inline std::vector<std::uint8_t> data_url_bytes(std::string_view url, const std::string& field) {
  if (url.rfind("data:", 0) != 0)
    throw RequestError(400, field + ": only data: URLs (data:image/png;base64,...) are accepted; this server "
                                    "fetches no remote images", field);
  const auto comma = url.find(',');
  if (comma == std::string_view::npos) throw RequestError(400, field + ": a data: URL without ','", field);
  const std::string_view meta = url.substr(5, comma - 5);
  if (!meta.ends_with(";base64"))
    throw RequestError(400, field + ": the data: URL must be base64 (data:image/png;base64,...)", field);
  const std::string_view type = meta.substr(0, meta.size() - 7);
  if (type != "image/png" && type != "image/jpeg" && type != "image/jpg")
    throw RequestError(400, field + ": media type '" + std::string(type) + "' is not supported (image/png, image/jpeg)",
                       field);
  return base64_decode(url.substr(comma + 1), field);
}

}  // namespace templlm::serve
