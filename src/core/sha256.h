// SHA-256 (FIPS 180-4), torch-free and streaming: the expert library's file
// hashes.
//
//   Sha256 hash;
//   hash.Update("abc");
//   std::string hex = hash.HexDigest();  // "ba7816bf..."
//   LIBRA_ASSIGN_OR_RETURN(std::string file_hex, Sha256File("expert.safetensors"));
#ifndef LIBRA_CORE_SHA256_H_
#define LIBRA_CORE_SHA256_H_

#include <array>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace libra {

class Sha256 {
 public:
  Sha256();
  void Update(absl::string_view bytes);
  // The 32-byte digest; the object must not be updated afterwards.
  std::array<uint8_t, 32> Digest();
  // Lowercase hex of Digest().
  std::string HexDigest();

 private:
  void Compress(const uint8_t* block);
  std::array<uint32_t, 8> state_;
  std::array<uint8_t, 64> buffer_;
  size_t buffered_ = 0;
  uint64_t total_bytes_ = 0;
};

std::string Sha256Hex(absl::string_view bytes);
// Streams the file in chunks (no mapping needed, so it also runs in wasm).
absl::StatusOr<std::string> Sha256File(const std::string& path);

}  // namespace libra

#endif  // LIBRA_CORE_SHA256_H_
