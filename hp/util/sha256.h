// SHA-256 (FIPS 180-4): bytes in, 32-byte digest out. Written here because
// Debian's build machines are not guaranteed an OpenSSL development library;
// hp needs it only to tie a scope trace to the model it was recorded with.
// On x86 CPUs with the SHA extensions (SHA-NI) blocks are compressed with
// those instructions, chosen at run time; elsewhere by portable C++.
#ifndef HP_UTIL_SHA256_H_
#define HP_UTIL_SHA256_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace hp {

// Streaming hasher: Update() any number of times, then read the digest.
// Reading the digest does not end the stream; more Update() calls continue
// hashing the concatenation.
class Sha256 {
 public:
  static constexpr size_t kDigestSize = 32;

  // The code that compresses blocks. Both give the same digests; kAuto picks
  // kShaExtensions where the CPU has them, else kPortable. Tests name one to
  // check each.
  enum class Engine { kAuto, kPortable, kShaExtensions };

  // Whether this CPU runs kShaExtensions (x86 SHA, SSSE3 and SSE4.1).
  static bool ShaExtensionsAvailable();

  // kShaExtensions on a CPU without them falls back to kPortable; engine()
  // says which runs.
  explicit Sha256(Engine engine = Engine::kAuto);

  void Update(absl::string_view bytes);

  std::array<uint8_t, kDigestSize> Digest() const;
  // 64 lowercase hex digits, as `sha256sum` prints them.
  std::string HexDigest() const;

  Engine engine() const { return engine_; }

 private:
  // Compresses `count` consecutive 64-byte blocks into `state`.
  using CompressFunction = void (*)(uint32_t* state, const uint8_t* blocks,
                                    size_t count);

  Engine engine_;
  CompressFunction compress_;
  std::array<uint32_t, 8> state_;
  std::array<uint8_t, 64> buffer_;
  size_t buffer_size_ = 0;
  uint64_t total_bytes_ = 0;
};

// Hex SHA-256 of `bytes`.
std::string Sha256Hex(absl::string_view bytes);

// Hex SHA-256 of a file's contents, read in chunks so that a large model is
// never held in memory whole. Errors name the path.
absl::StatusOr<std::string> Sha256FileHex(const std::string& path);

}  // namespace hp

#endif  // HP_UTIL_SHA256_H_
