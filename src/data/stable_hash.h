// A hash that is the same on every platform, compiler and run (std::hash is
// not), for deterministic splits and per-task random seeds.
//
//   uint64_t h = StableHash("letters_reverse", /*seed=*/7);
#ifndef LIBRA_DATA_STABLE_HASH_H_
#define LIBRA_DATA_STABLE_HASH_H_

#include <cstdint>

#include "absl/strings/string_view.h"

namespace libra::data {

// splitmix64's finaliser: a bijective mix of 64 bits.
inline uint64_t Mix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// FNV-1a over the bytes, then mixed with the seed.
inline uint64_t StableHash(absl::string_view bytes, uint64_t seed) {
  uint64_t h = 0xCBF29CE484222325ull;
  for (char c : bytes) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001B3ull;
  }
  return Mix64(h ^ Mix64(seed));
}

}  // namespace libra::data

#endif  // LIBRA_DATA_STABLE_HASH_H_
