// SPDX-License-Identifier: Apache-2.0
// Images from the command line, on the Llama 4 vision fixture (tests/data/models/
// llama4-scout-vision-tiny): `templlm chat --image` answers what transformers answers for the same
// chat (its greedy tokens, recorded by tools/make_vision_fixture.py), /image inside the chat does
// the same, `templlm generate --image` runs, and the errors a user sees (images beyond the context too).
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include <templlm/tokenizer/tokenizer.hpp>

#include "support/cli.hpp"
#include "support/fixture.hpp"

namespace {

using templlm::test::data_dir;
using templlm::test::run_cli;

std::string fixture() { return templlm::test::model_dir("llama4-scout-vision-tiny").string(); }
std::string image(const std::string& name) { return (data_dir() / "images" / name).string(); }

/// transformers' greedy reply to the fixture's chat, as text.
std::string reference_reply() {
  const auto chat = templlm::test::read_json(templlm::test::model_dir("llama4-scout-vision-tiny") / "expected" / "chat.json");
  const auto tok = templlm::tokenizer::Tokenizer::from_folder(fixture());
  std::vector<std::uint32_t> ids;
  for (int id : chat.at("new_tokens").get<std::vector<int>>()) ids.push_back(std::uint32_t(id));
  return tok.decode(ids, true);
}

TEST(ImageCli, ChatWithTwoImagesAnswersAsTransformers) {
  const auto r = run_cli("chat --model " + fixture() + " --image " + image("wide.png") + " --image " + image("tall.jpg") +
                             " --temperature 0 --max-tokens 8 --threads 1",
                         /*merge_stderr=*/false, std::string("What is in these two pictures?\n"));
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(r.out, "> " + reference_reply() + "\n> ");
}

TEST(ImageCli, SlashImageAttachesToTheNextMessage) {
  const auto r = run_cli("chat --model " + fixture() + " --temperature 0 --max-tokens 8 --threads 1",
                         /*merge_stderr=*/false,
                         "/image " + image("wide.png") + "\n/image " + image("tall.jpg") +
                             "\nWhat is in these two pictures?\n");
  ASSERT_EQ(r.status, 0) << r.out;
  // Each /image line shows a prompt marker and answers nothing.
  EXPECT_EQ(r.out, "> > > " + reference_reply() + "\n> ");
}

TEST(ImageCli, ABrokenImageInTheChatIsReportedAndTheChatGoesOn) {
  const auto r = run_cli("chat --model " + fixture() + " --temperature 0 --max-tokens 8 --threads 1",
                         /*merge_stderr=*/true, "/image " + image("truncated.png") + "\n/quit\n");
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("truncated.png"), std::string::npos) << r.out;
}

TEST(ImageCli, GenerateWithImagesRuns) {
  const auto r = run_cli("generate --model " + fixture() + " --image " + image("wide.png") +
                         " --prompt 'Describe <|image|> briefly' --temperature 0 --max-tokens 4 --quiet --threads 1");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(r.out.rfind("Describe  briefly", 0), 0u) << r.out;  // the image's tokens are special: not echoed
}

TEST(ImageCli, PlaceholdersAndImagesMustAgree) {
  const auto r = run_cli("generate --model " + fixture() + " --image " + image("wide.png") +
                         " --prompt '<|image|><|image|>Two?' --max-tokens 2 --quiet --threads 1");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.out.find("2 image placeholders (<|image|>) but 1 image was given"), std::string::npos) << r.out;
}

TEST(ImageCli, ImagesBeyondTheContextAreRefusedNotTruncated) {
  // wide.png alone expands to more than 20 prompt tokens (its tiles' image tokens).
  const auto r = run_cli("generate --model " + fixture() + " --image " + image("wide.png") +
                         " --prompt 'Describe <|image|>' --max-context 20 --max-tokens 2 --quiet --threads 1");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.out.find("tokens but the context holds 20"), std::string::npos) << r.out;
}

TEST(ImageCli, AModelWithoutAVisionTowerSaysSo) {
  const auto demo = (data_dir().parent_path().parent_path() / "models" / "demo").string();
  const auto r = run_cli("generate --model " + demo + " --image " + image("wide.png") + " --max-tokens 2 --quiet");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.out.find("takes no images"), std::string::npos) << r.out;
}

TEST(ImageCli, AFileThatIsNoImageIsNamed) {
  const auto r = run_cli("generate --model " + fixture() + " --image " + image("not_an_image.txt") +
                         " --max-tokens 2 --quiet");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.out.find("not_an_image.txt"), std::string::npos) << r.out;
}

}  // namespace
