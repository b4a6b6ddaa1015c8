// A small deterministic random generator (splitmix64) whose draws are the
// same on every platform: the std distributions are implementation-defined,
// so they would make the suite differ between libstdc++, libc++ and wasm.
//
//   Rng rng(StableHash("letters_reverse", seed));
//   int length = rng.Uniform(5, 8);          // inclusive bounds
//   char c = rng.Pick(std::string("ABC"));
#ifndef LIBRA_DATA_SYNTHETIC_RNG_H_
#define LIBRA_DATA_SYNTHETIC_RNG_H_

#include <cstdint>
#include <utility>

#include "src/data/stable_hash.h"

namespace libra::data::synthetic {

class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}

  uint64_t Next() {
    state_ += 0x9E3779B97F4A7C15ull;
    uint64_t z = state_;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }

  // Uniform in [lo, hi], by rejection (no modulo bias).
  int Uniform(int lo, int hi) {
    const uint64_t range = static_cast<uint64_t>(hi - lo) + 1;
    const uint64_t limit = UINT64_MAX - UINT64_MAX % range;
    uint64_t value;
    do {
      value = Next();
    } while (value >= limit);
    return lo + static_cast<int>(value % range);
  }

  bool Bernoulli(double p) { return static_cast<double>(Next() >> 11) * 0x1.0p-53 < p; }

  template <typename Container>
  const auto& Pick(const Container& items) {
    return items[Uniform(0, static_cast<int>(items.size()) - 1)];
  }

  template <typename Container>
  void Shuffle(Container& items) {
    for (int i = static_cast<int>(items.size()) - 1; i > 0; --i) {
      std::swap(items[i], items[Uniform(0, i)]);
    }
  }

 private:
  uint64_t state_;
};

}  // namespace libra::data::synthetic

#endif  // LIBRA_DATA_SYNTHETIC_RNG_H_
