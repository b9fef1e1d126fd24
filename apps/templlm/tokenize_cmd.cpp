// SPDX-License-Identifier: Apache-2.0
/// \file apps/templlm/tokenize_cmd.cpp
/// `templlm tokenize`: one JSON string per stdin line -> one JSON array of ids per stdout line
/// (with --decode, the reverse). A host TU: it includes tokenizer/ (range-v3 allowed there).
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "templlm/core/error.hpp"
#include "templlm/tokenizer/tokenizer.hpp"

namespace templlm::cli {

namespace {

constexpr std::string_view tokenize_help =
    R"(usage: templlm tokenize --tokenizer PATH [--add-special] [--decode]

Reads one JSON string per line on stdin and writes one JSON array of token ids per line.
  --tokenizer PATH  a tokenizer.json file, or a folder holding tokenizer.json (and optionally
                    tokenizer_config.json, whose add_bos_token/add_eos_token are then honoured)
  --add-special     apply the post-processor (bos/eos and the like) when encoding; when decoding,
                    keep special tokens (they are skipped otherwise)
  --decode          read JSON arrays of ids, write JSON strings
  --help            this text
Invalid UTF-8 inside a string is replaced by U+FFFD as Python's "replace" decoding does.
)";

}  // namespace

int tokenize_main(int argc, char** argv) {
  std::string path;
  bool add_special = false, decode = false;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a == "--help" || a == "-h") {
      std::cout << tokenize_help;
      return 0;
    } else if (a == "--tokenizer" && i + 1 < argc) {
      path = argv[++i];
    } else if (a == "--add-special") {
      add_special = true;
    } else if (a == "--decode") {
      decode = true;
    } else {
      std::cerr << "templlm tokenize: unknown argument '" << a << "'\n" << tokenize_help;
      return 2;
    }
  }
  if (path.empty()) {
    std::cerr << "templlm tokenize: --tokenizer PATH is required\n" << tokenize_help;
    return 2;
  }
  try {
    const auto tok = std::filesystem::is_directory(path) ? tokenizer::Tokenizer::from_folder(path)
                                                         : tokenizer::Tokenizer::from_file(path);
    std::string line;
    std::size_t n = 0;
    while (std::getline(std::cin, line)) {
      ++n;
      if (line.empty()) continue;
      nlohmann::json in;
      try {
        in = nlohmann::json::parse(line);
      } catch (const nlohmann::json::exception& e) {
        std::cerr << "templlm tokenize: line " << n << " is not JSON: " << e.what() << "\n";
        return 1;
      }
      if (decode) {
        if (!in.is_array()) {
          std::cerr << "templlm tokenize: line " << n << " is not a JSON array of ids\n";
          return 1;
        }
        const auto ids = in.get<std::vector<std::uint32_t>>();
        // Invalid UTF-8 cannot come out of decode, so dump() never throws here.
        std::cout << nlohmann::json(tok.decode(ids, !add_special)).dump() << "\n";
      } else {
        if (!in.is_string()) {
          std::cerr << "templlm tokenize: line " << n << " is not a JSON string\n";
          return 1;
        }
        std::cout << nlohmann::json(tok.encode(in.get<std::string>(), add_special)).dump() << "\n";
      }
    }
  } catch (const Error& e) {
    std::cerr << "templlm tokenize: " << e.what() << "\n";
    return 1;
  } catch (const nlohmann::json::exception& e) {
    std::cerr << "templlm tokenize: " << e.what() << "\n";
    return 1;
  }
  return 0;
}

}  // namespace templlm::cli
