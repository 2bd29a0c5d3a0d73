#include "hp/util/sha256.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#include <immintrin.h>
#endif

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace hp {
namespace {

constexpr std::array<uint32_t, 64> kRoundConstants = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1,
    0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
    0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
    0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
    0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
    0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
    0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
    0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
    0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

inline uint32_t RotateRight(uint32_t x, int n) {
  return (x >> n) | (x << (32 - n));
}

inline uint32_t LoadBigEndian32(const uint8_t* bytes) {
  return (uint32_t{bytes[0]} << 24) | (uint32_t{bytes[1]} << 16) |
         (uint32_t{bytes[2]} << 8) | uint32_t{bytes[3]};
}

// One round of FIPS 180-4 section 6.2.2 step 3. Instead of moving all eight
// working variables along each round, the caller renames them: a round
// changes only d (to the next e) and h (to the next a).
inline void Round(uint32_t a, uint32_t b, uint32_t c, uint32_t& d, uint32_t e,
                  uint32_t f, uint32_t g, uint32_t& h, uint32_t k_plus_w) {
  const uint32_t t1 =
      h + (RotateRight(e, 6) ^ RotateRight(e, 11) ^ RotateRight(e, 25)) +
      (g ^ (e & (f ^ g))) + k_plus_w;  // Ch(e, f, g)
  const uint32_t t2 =
      (RotateRight(a, 2) ^ RotateRight(a, 13) ^ RotateRight(a, 22)) +
      ((a & b) | (c & (a | b)));  // Maj(a, b, c)
  d += t1;
  h = t1 + t2;
}

void CompressPortable(uint32_t* state, const uint8_t* blocks, size_t count) {
  for (; count > 0; --count, blocks += 64) {
    uint32_t w[64];
    for (int i = 0; i < 16; ++i) w[i] = LoadBigEndian32(blocks + 4 * i);
    for (int i = 16; i < 64; ++i) {
      const uint32_t s0 = RotateRight(w[i - 15], 7) ^
                          RotateRight(w[i - 15], 18) ^ (w[i - 15] >> 3);
      const uint32_t s1 = RotateRight(w[i - 2], 17) ^
                          RotateRight(w[i - 2], 19) ^ (w[i - 2] >> 10);
      w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = state[0], b = state[1], c = state[2], d = state[3];
    uint32_t e = state[4], f = state[5], g = state[6], h = state[7];
    for (int i = 0; i < 64; i += 8) {
      Round(a, b, c, d, e, f, g, h, kRoundConstants[i] + w[i]);
      Round(h, a, b, c, d, e, f, g, kRoundConstants[i + 1] + w[i + 1]);
      Round(g, h, a, b, c, d, e, f, kRoundConstants[i + 2] + w[i + 2]);
      Round(f, g, h, a, b, c, d, e, kRoundConstants[i + 3] + w[i + 3]);
      Round(e, f, g, h, a, b, c, d, kRoundConstants[i + 4] + w[i + 4]);
      Round(d, e, f, g, h, a, b, c, kRoundConstants[i + 5] + w[i + 5]);
      Round(c, d, e, f, g, h, a, b, kRoundConstants[i + 6] + w[i + 6]);
      Round(b, c, d, e, f, g, h, a, kRoundConstants[i + 7] + w[i + 7]);
    }
    state[0] += a;
    state[1] += b;
    state[2] += c;
    state[3] += d;
    state[4] += e;
    state[5] += f;
    state[6] += g;
    state[7] += h;
  }
}

#if defined(__x86_64__) || defined(__i386__)
#define HP_SHA256_X86 1

bool CpuHasShaExtensions() {
  unsigned int eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return false;
  const bool ssse3 = (ecx & (1u << 9)) != 0;
  const bool sse41 = (ecx & (1u << 19)) != 0;
  if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) return false;
  const bool sha = (ebx & (1u << 29)) != 0;
  return sha && ssse3 && sse41;
}

// The same compression with the SHA extensions (Intel SDM; "Intel SHA
// Extensions", 2013). Compiled for them here only: the rest of hp needs no
// special flags, and this runs only where CpuHasShaExtensions().
__attribute__((target("sha,sse4.1,ssse3"))) void CompressShaExtensions(
    uint32_t* state, const uint8_t* blocks, size_t count) {
  // sha256rnds2 holds the working variables in two registers, lanes from
  // high to low: (a, b, e, f) and (c, d, g, h).
  __m128i abef =
      _mm_set_epi32(static_cast<int>(state[0]), static_cast<int>(state[1]),
                    static_cast<int>(state[4]), static_cast<int>(state[5]));
  __m128i cdgh =
      _mm_set_epi32(static_cast<int>(state[2]), static_cast<int>(state[3]),
                    static_cast<int>(state[6]), static_cast<int>(state[7]));
  // Message words are big-endian.
  const __m128i byte_swap =
      _mm_set_epi8(12, 13, 14, 15, 8, 9, 10, 11, 4, 5, 6, 7, 0, 1, 2, 3);
  for (; count > 0; --count, blocks += 64) {
    const __m128i abef_before = abef;
    const __m128i cdgh_before = cdgh;
    // The schedule, four words a register: w[q % 4] holds W[4q..4q+3].
    __m128i w[4];
#pragma GCC unroll 16
    for (int q = 0; q < 16; ++q) {
      if (q < 4) {
        w[q] = _mm_shuffle_epi8(
            _mm_loadu_si128(reinterpret_cast<const __m128i*>(blocks + 16 * q)),
            byte_swap);
      } else {
        // W[t] = s1(W[t-2]) + W[t-7] + s0(W[t-15]) + W[t-16]: msg1 gives
        // W[t-16] + s0(W[t-15]), alignr the words W[t-7..t-4], and msg2 adds
        // s1(W[t-2]), two of those being words it computes itself.
        const __m128i last = w[(q + 3) % 4];  // W[4q-4..4q-1]
        w[q % 4] = _mm_sha256msg2_epu32(
            _mm_add_epi32(_mm_sha256msg1_epu32(w[q % 4], w[(q + 1) % 4]),
                          _mm_alignr_epi8(last, w[(q + 2) % 4], 4)),
            last);
      }
      const __m128i k_plus_w = _mm_add_epi32(
          w[q % 4], _mm_loadu_si128(reinterpret_cast<const __m128i*>(
                        kRoundConstants.data() + 4 * q)));
      // Two rounds each, with the low two words then the high two. After
      // the first, cdgh holds the new (a, b, e, f) and abef the new
      // (c, d, g, h); the second swaps them back.
      cdgh = _mm_sha256rnds2_epu32(cdgh, abef, k_plus_w);
      abef =
          _mm_sha256rnds2_epu32(abef, cdgh, _mm_shuffle_epi32(k_plus_w, 0x0e));
    }
    abef = _mm_add_epi32(abef, abef_before);
    cdgh = _mm_add_epi32(cdgh, cdgh_before);
  }
  alignas(16) uint32_t lanes[4];
  _mm_store_si128(reinterpret_cast<__m128i*>(lanes), abef);
  state[0] = lanes[3];
  state[1] = lanes[2];
  state[4] = lanes[1];
  state[5] = lanes[0];
  _mm_store_si128(reinterpret_cast<__m128i*>(lanes), cdgh);
  state[2] = lanes[3];
  state[3] = lanes[2];
  state[6] = lanes[1];
  state[7] = lanes[0];
}
#endif  // x86

}  // namespace

bool Sha256::ShaExtensionsAvailable() {
#ifdef HP_SHA256_X86
  static const bool available = CpuHasShaExtensions();
  return available;
#else
  return false;
#endif
}

Sha256::Sha256(Engine engine)
    : engine_(Engine::kPortable),
      compress_(&CompressPortable),
      state_{0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
             0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19},
      buffer_{} {
#ifdef HP_SHA256_X86
  if (engine != Engine::kPortable && ShaExtensionsAvailable()) {
    engine_ = Engine::kShaExtensions;
    compress_ = &CompressShaExtensions;
  }
#else
  static_cast<void>(engine);
#endif
}

void Sha256::Update(absl::string_view bytes) {
  const auto* data = reinterpret_cast<const uint8_t*>(bytes.data());
  size_t size = bytes.size();
  total_bytes_ += size;
  if (buffer_size_ > 0) {
    const size_t take = std::min(size, buffer_.size() - buffer_size_);
    std::memcpy(buffer_.data() + buffer_size_, data, take);
    buffer_size_ += take;
    data += take;
    size -= take;
    if (buffer_size_ < buffer_.size()) return;
    compress_(state_.data(), buffer_.data(), 1);
    buffer_size_ = 0;
  }
  const size_t blocks = size / buffer_.size();
  compress_(state_.data(), data, blocks);
  data += blocks * buffer_.size();
  size -= blocks * buffer_.size();
  std::memcpy(buffer_.data(), data, size);
  buffer_size_ = size;
}

std::array<uint8_t, Sha256::kDigestSize> Sha256::Digest() const {
  // Pad a copy so that the stream itself can go on.
  Sha256 padded = *this;
  const uint64_t bit_length = total_bytes_ * 8;
  padded.buffer_[padded.buffer_size_++] = 0x80;
  if (padded.buffer_size_ > 56) {
    std::memset(padded.buffer_.data() + padded.buffer_size_, 0,
                64 - padded.buffer_size_);
    padded.compress_(padded.state_.data(), padded.buffer_.data(), 1);
    padded.buffer_size_ = 0;
  }
  std::memset(padded.buffer_.data() + padded.buffer_size_, 0,
              56 - padded.buffer_size_);
  for (int i = 0; i < 8; ++i) {
    padded.buffer_[56 + i] = static_cast<uint8_t>(bit_length >> (56 - 8 * i));
  }
  padded.compress_(padded.state_.data(), padded.buffer_.data(), 1);

  std::array<uint8_t, kDigestSize> digest;
  for (int i = 0; i < 8; ++i) {
    for (int j = 0; j < 4; ++j) {
      digest[4 * i + j] =
          static_cast<uint8_t>(padded.state_[i] >> (24 - 8 * j));
    }
  }
  return digest;
}

std::string Sha256::HexDigest() const {
  static constexpr char kHexDigits[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(2 * kDigestSize);
  for (uint8_t byte : Digest()) {
    hex.push_back(kHexDigits[byte >> 4]);
    hex.push_back(kHexDigits[byte & 0xf]);
  }
  return hex;
}

std::string Sha256Hex(absl::string_view bytes) {
  Sha256 hasher;
  hasher.Update(bytes);
  return hasher.HexDigest();
}

absl::StatusOr<std::string> Sha256FileHex(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    std::string message =
        absl::StrCat(path, ": cannot open: ", std::strerror(err));
    if (err == ENOENT) return absl::NotFoundError(message);
    if (err == EACCES || err == EPERM)
      return absl::PermissionDeniedError(message);
    return absl::InternalError(message);
  }
  Sha256 hasher;
  std::vector<char> chunk(1 << 20);
  while (true) {
    const ssize_t got = ::read(fd, chunk.data(), chunk.size());
    if (got == 0) break;
    if (got < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      return absl::InternalError(
          absl::StrCat(path, ": cannot read: ", std::strerror(err)));
    }
    hasher.Update(absl::string_view(chunk.data(), static_cast<size_t>(got)));
  }
  ::close(fd);
  return hasher.HexDigest();
}

}  // namespace hp
