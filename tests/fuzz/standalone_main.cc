// The main of a fuzz target in the normal build (gcc, no libFuzzer): runs
// LLVMFuzzerTestOneInput on every file named (or in every folder named), then
// on deterministic mutations of each (bit flips, byte changes, truncations,
// insertions and repeated spans), so `./test` smoke-checks every fuzz target
// over its corpus without clang. A crash, a sanitizer report or an escaped
// exception fails the run; the input that did it is named first on stderr.
//
//   tests/fuzz/safetensors_fuzz [--mutations N] [--seed S] FILE_OR_DIR...
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

std::string ReadAll(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

void RunOne(const std::string& input, const std::string& what) {
  // Named before the run: a crash leaves this as the last line on stderr.
  static const bool verbose = std::getenv("LIBRA_FUZZ_VERBOSE") != nullptr;
  if (verbose) std::fprintf(stderr, "input: %s\n", what.c_str());
  LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(input.data()), input.size());
}

std::string Mutate(const std::string& seed, std::mt19937_64& rng) {
  std::string out = seed;
  const int edits = 1 + static_cast<int>(rng() % 4);
  for (int e = 0; e < edits; ++e) {
    const size_t n = out.size();
    const size_t at = n == 0 ? 0 : rng() % n;
    switch (rng() % 6) {
      case 0: if (n > 0) out[at] ^= static_cast<char>(1u << (rng() % 8)); break;
      case 1: if (n > 0) out[at] = static_cast<char>(rng() % 256); break;
      case 2: out.resize(at); break;
      case 3: out.insert(at, 1, "{}[]\":,0-9e.\\\n\xff"[rng() % 16]); break;
      case 4: if (n > 0) out.insert(at, out.substr(at, 1 + rng() % std::min<size_t>(n - at, 64))); break;
      default: if (n > 0) out.erase(at, 1 + rng() % std::min<size_t>(n - at, 16)); break;
    }
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  int mutations = 200;
  uint64_t seed = 1;
  std::vector<std::filesystem::path> files;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--mutations") && i + 1 < argc) {
      mutations = std::atoi(argv[++i]);
    } else if (!std::strcmp(argv[i], "--seed") && i + 1 < argc) {
      seed = std::strtoull(argv[++i], nullptr, 10);
    } else if (std::filesystem::is_directory(argv[i])) {
      for (const auto& entry : std::filesystem::directory_iterator(argv[i])) files.push_back(entry.path());
    } else if (std::filesystem::exists(argv[i])) {
      files.push_back(argv[i]);
    } else {
      std::fprintf(stderr, "fuzz: error: no such file or folder: %s\n", argv[i]);
      return 2;
    }
  }
  if (files.empty()) {
    std::fprintf(stderr, "fuzz: error: no inputs; usage: %s [--mutations N] [--seed S] FILE_OR_DIR...\n", argv[0]);
    return 2;
  }
  std::sort(files.begin(), files.end());
  std::mt19937_64 rng(seed);
  long runs = 0;
  for (const auto& file : files) {
    const std::string input = ReadAll(file);
    RunOne(input, file.string());
    ++runs;
    for (int m = 0; m < mutations; ++m, ++runs) {
      RunOne(Mutate(input, rng), file.string() + " mutation " + std::to_string(m));
    }
  }
  std::printf("fuzz: %ld inputs from %zu corpus files, no crash\n", runs, files.size());
  return 0;
}
