#include "hp/util/sha256.h"

#include <cstdlib>
#include <fstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace hp {
namespace {

using ::testing::HasSubstr;

// FIPS 180-4 / NIST example vectors.
TEST(Sha256Test, EmptyInput) {
  EXPECT_EQ(Sha256Hex(""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(Sha256Test, Abc) {
  EXPECT_EQ(Sha256Hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Sha256Test, TwoBlockMessage) {
  // 448 bits: the padding needs a second block.
  EXPECT_EQ(
      Sha256Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
      "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST(Sha256Test, OneMillionAs) {
  EXPECT_EQ(Sha256Hex(std::string(1000000, 'a')),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Sha256Test, StreamingInUnevenPiecesMatchesOneShot) {
  std::string message;
  for (int i = 0; i < 1000; ++i) message.push_back(static_cast<char>(i * 7));
  const std::string expected = Sha256Hex(message);
  for (size_t piece : {1, 3, 55, 56, 63, 64, 65, 127, 999}) {
    Sha256 hasher;
    for (size_t at = 0; at < message.size(); at += piece) {
      hasher.Update(absl::string_view(message).substr(at, piece));
    }
    EXPECT_EQ(hasher.HexDigest(), expected) << "piece size " << piece;
  }
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
  const std::string path = std::string(std::getenv("TEST_TMPDIR")) + "/pattern.bin";
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
  EXPECT_THAT(std::string(digest.status().message()), HasSubstr("no/such/model.onnx"));
}

}  // namespace
}  // namespace hp
