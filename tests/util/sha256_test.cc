#include "hp/util/sha256.h"

#include <cstdlib>
#include <fstream>
#include <string>

#include "absl/strings/string_view.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace hp {
namespace {

using ::testing::HasSubstr;

std::string HexOf(Sha256::Engine engine, absl::string_view bytes) {
  Sha256 hasher(engine);
  hasher.Update(bytes);
  return hasher.HexDigest();
}

// Every test below runs on each compression engine: the portable code and,
// where this CPU has them, the x86 SHA extensions.
class Sha256EngineTest : public ::testing::TestWithParam<Sha256::Engine> {
 protected:
  void SetUp() override {
    if (GetParam() == Sha256::Engine::kShaExtensions &&
        !Sha256::ShaExtensionsAvailable()) {
      GTEST_SKIP() << "this CPU has no SHA extensions";
    }
    ASSERT_EQ(Sha256(GetParam()).engine(), GetParam());
  }
  std::string Hex(absl::string_view bytes) { return HexOf(GetParam(), bytes); }
};

INSTANTIATE_TEST_SUITE_P(
    Engines, Sha256EngineTest,
    ::testing::Values(Sha256::Engine::kPortable,
                      Sha256::Engine::kShaExtensions),
    [](const ::testing::TestParamInfo<Sha256::Engine>& info) {
      return std::string(info.param == Sha256::Engine::kPortable
                             ? "Portable"
                             : "ShaExtensions");
    });

// FIPS 180-4 / NIST example vectors.
TEST_P(Sha256EngineTest, EmptyInput) {
  EXPECT_EQ(Hex(""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST_P(Sha256EngineTest, Abc) {
  EXPECT_EQ(Hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST_P(Sha256EngineTest, TwoBlockMessage) {
  // 448 bits: the padding needs a second block.
  EXPECT_EQ(Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST_P(Sha256EngineTest, FourBlockMessage) {
  EXPECT_EQ(
      Hex("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmno"
          "ijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu"),
      "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
}

TEST_P(Sha256EngineTest, OneMillionAs) {
  EXPECT_EQ(Hex(std::string(1000000, 'a')),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST_P(Sha256EngineTest, StreamingInUnevenPiecesMatchesOneShot) {
  std::string message;
  for (int i = 0; i < 1000; ++i) message.push_back(static_cast<char>(i * 7));
  const std::string expected = Hex(message);
  for (size_t piece : {1, 3, 55, 56, 63, 64, 65, 127, 999}) {
    Sha256 hasher(GetParam());
    for (size_t at = 0; at < message.size(); at += piece) {
      hasher.Update(absl::string_view(message).substr(at, piece));
    }
    EXPECT_EQ(hasher.HexDigest(), expected) << "piece size " << piece;
  }
}

TEST(Sha256Test, EnginesAgreeOnEveryLengthAndAlignment) {
  if (!Sha256::ShaExtensionsAvailable()) {
    GTEST_SKIP() << "this CPU has no SHA extensions";
  }
  std::string bytes;
  for (int i = 0; i < 1200; ++i) {
    bytes.push_back(static_cast<char>((i * 131 + 7) ^ (i >> 3)));
  }
  for (size_t offset : {0, 1, 7}) {
    for (size_t length = 0; length + offset <= bytes.size(); length += 13) {
      const absl::string_view input =
          absl::string_view(bytes).substr(offset, length);
      EXPECT_EQ(HexOf(Sha256::Engine::kShaExtensions, input),
                HexOf(Sha256::Engine::kPortable, input))
          << "offset " << offset << ", length " << length;
    }
  }
}

TEST(Sha256Test, DefaultEngineIsTheFastestThisCpuRuns) {
  EXPECT_EQ(Sha256().engine(), Sha256::ShaExtensionsAvailable()
                                   ? Sha256::Engine::kShaExtensions
                                   : Sha256::Engine::kPortable);
}

TEST(Sha256Test, ReadingTheDigestDoesNotEndTheStream) {
  Sha256 hasher;
  hasher.Update("ab");
  EXPECT_EQ(hasher.HexDigest(), Sha256Hex("ab"));
  hasher.Update("c");
  EXPECT_EQ(hasher.HexDigest(), Sha256Hex("abc"));
}

TEST(Sha256Test, FileDigestMatchesSha256sum) {
  // Three chunks and a bit; the expected digest is what `sha256sum` printed
  // for the same bytes.
  const std::string path =
      std::string(std::getenv("TEST_TMPDIR")) + "/pattern.bin";
  {
    std::ofstream out(path, std::ios::binary);
    for (size_t i = 0; i < (size_t{3} << 20) + 17; ++i) {
      out.put(static_cast<char>((i * 31 + 7) % 251));
    }
  }
  absl::StatusOr<std::string> digest = Sha256FileHex(path);
  ASSERT_TRUE(digest.ok()) << digest.status();
  EXPECT_EQ(*digest,
            "e7bff00c7b67234117b8c364725cf2b41fc31f7f46674b1a4a6b3c5516b3a6ed");
}

TEST(Sha256Test, MissingFileIsNotFoundAndNamesThePath) {
  absl::StatusOr<std::string> digest = Sha256FileHex("no/such/model.onnx");
  EXPECT_EQ(digest.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(digest.status().message()),
              HasSubstr("no/such/model.onnx"));
}

}  // namespace
}  // namespace hp
