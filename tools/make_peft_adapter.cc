// make_peft_adapter: writes a synthetic PEFT LoRA adapter folder, for the
// demo (tools/demo.sh) and CLI tests.
//
//   make_peft_adapter OUT_DIR [--layers 2] [--dim 64] [--rank 4] [--alpha 8]
//       [--dtype F32|F16|BF16] [--seed 0] [--rslora] [--rank-pattern KEY=R,...]
#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "src/core/tensor.h"
#include "tools/peft_fixture.h"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: make_peft_adapter OUT_DIR [--layers N] [--dim D] [--rank R] [--alpha A] "
                         "[--dtype F32|F16|BF16] [--seed S] [--rslora] [--rank-pattern KEY=R,...]\n");
    return 2;
  }
  libra::PeftFixture fixture;
  int layers = 2;
  int64_t dim = 64;
  for (int i = 2; i < argc; ++i) {
    const std::string flag = argv[i];
    const bool has_value = i + 1 < argc;
    auto value = [&]() { return std::string(argv[++i]); };
    bool ok = true;
    if (flag == "--rslora") {
      fixture.use_rslora = true;
    } else if (!has_value) {
      ok = false;
    } else if (flag == "--layers") {
      ok = absl::SimpleAtoi(value(), &layers);
    } else if (flag == "--dim") {
      ok = absl::SimpleAtoi(value(), &dim);
    } else if (flag == "--rank") {
      ok = absl::SimpleAtoi(value(), &fixture.rank);
    } else if (flag == "--alpha") {
      ok = absl::SimpleAtod(value(), &fixture.alpha);
    } else if (flag == "--seed") {
      ok = absl::SimpleAtoi(value(), &fixture.seed);
    } else if (flag == "--dtype") {
      absl::StatusOr<libra::DType> dtype = libra::ParseDType(value());
      ok = dtype.ok();
      if (ok) fixture.dtype = *dtype;
    } else if (flag == "--rank-pattern") {
      for (absl::string_view entry : absl::StrSplit(value(), ',', absl::SkipEmpty())) {
        std::pair<std::string, std::string> kv = absl::StrSplit(entry, '=');
        int rank = 0;
        ok = ok && absl::SimpleAtoi(kv.second, &rank);
        fixture.rank_pattern.emplace_back(kv.first, rank);
      }
    } else {
      ok = false;
    }
    if (!ok) {
      std::fprintf(stderr, "make_peft_adapter: error: bad flag or value at %s\n", flag.c_str());
      return 2;
    }
  }
  fixture.modules = libra::LlamaAttentionModules(layers, dim);
  absl::Status status = libra::WritePeftFixture(argv[1], fixture);
  if (!status.ok()) {
    std::fprintf(stderr, "make_peft_adapter: error: %s\n", std::string(status.message()).c_str());
    return 1;
  }
  std::printf("wrote PEFT adapter %s (%d layers, q/v_proj [%lld, %lld], r=%d, alpha=%g, %s)\n", argv[1], layers,
              static_cast<long long>(dim), static_cast<long long>(dim), fixture.rank, fixture.alpha,
              libra::DTypeName(fixture.dtype));
  return 0;
}
