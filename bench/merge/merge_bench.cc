// merge_bench: the C++ side of bench/merge/run.sh (a benchmark, not a test).
//
//   merge_bench generate DIR   8 LoRA experts shaped like a 1B model's attention:
//                              16 layers x {q,k,v,o}_proj, 2048 x 2048, rank 16
//   merge_bench memcpy         this machine's memcpy bandwidth (GB/s written)
//   merge_bench merge DIR METHOD OUT THREADS
//                              streaming merge in delta mode into OUT (fsynced);
//                              prints one JSON line
//   merge_bench produce DIR METHOD THREADS
//                              the same merges, module by module, output kept in
//                              memory and dropped: merge speed without the disk
//   merge_bench dense THREADS  linear merge of 8 dense 2048 x 2048 deltas held in
//                              memory (no low-rank product): the streaming loop
//                              alone, memory-bound like memcpy
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "src/core/io/safetensors.h"
#include "src/core/merge/delta_view.h"
#include "src/core/merge/expert_file.h"
#include "src/core/merge/linear.h"
#include "src/core/merge/merge.h"
#include "src/core/merge/registry.h"
#include "src/core/merge/stream.h"

namespace {

constexpr int kExperts = 8;
constexpr int kLayers = 16;
constexpr int64_t kDim = 2048;
constexpr int64_t kRank = 16;
constexpr const char* kModules[] = {"q_proj", "k_proj", "v_proj", "o_proj"};
constexpr double kTiesDensity = 0.2;

double Seconds(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

int Generate(const std::string& dir) {
  for (int e = 0; e < kExperts; ++e) {
    std::mt19937 rng(1234 + e);
    std::normal_distribution<float> normal(0.0f, 0.02f);
    libra::SafetensorsWriter writer;
    for (int layer = 0; layer < kLayers; ++layer) {
      for (const char* module : kModules) {
        const std::string name =
            "model.layers." + std::to_string(layer) + ".self_attn." + module;
        std::vector<float> a(kRank * kDim), b(kDim * kRank);
        for (float& v : a) v = normal(rng);
        for (float& v : b) v = normal(rng);
        if (!writer.Add(name + ".lora_A.weight", libra::Tensor({kRank, kDim}, a)).ok() ||
            !writer.Add(name + ".lora_B.weight", libra::Tensor({kDim, kRank}, b)).ok()) {
          return 1;
        }
      }
    }
    writer.SetMetadata("lora_alpha", "32");
    const absl::Status status =
        writer.WriteAtomically(dir + "/expert" + std::to_string(e) + ".safetensors");
    if (!status.ok()) {
      std::fprintf(stderr, "%s\n", std::string(status.message()).c_str());
      return 1;
    }
  }
  return 0;
}

int Memcpy() {
  // 256 MiB, well past every cache; best of 5 after a warm-up copy.
  const size_t bytes = size_t{256} << 20;
  std::vector<char> source(bytes, 1), target(bytes, 0);
  double best = 1e9;
  for (int repeat = 0; repeat < 6; ++repeat) {
    source[repeat] = static_cast<char>(repeat);
    const auto start = std::chrono::steady_clock::now();
    std::memcpy(target.data(), source.data(), bytes);
    if (repeat > 0) best = std::min(best, Seconds(start));
  }
  std::printf("{\"memcpy_gbps\": %.3f, \"check\": %d}\n", bytes / best / 1e9, target[3]);
  return 0;
}

int Merge(const std::string& dir, const std::string& method_name, const std::string& out,
          int threads) {
  absl::StatusOr<const libra::merge::MethodSpec*> method = libra::merge::FindMethod(method_name);
  if (!method.ok()) return 2;
  libra::merge::MergeArguments args;
  if (method_name == "ties") args.scalars["density"] = kTiesDensity;
  absl::StatusOr<libra::merge::MergeParams> params =
      libra::merge::BindParams(**method, args, kExperts);
  if (!params.ok()) return 2;
  libra::merge::StreamMergeRequest request;
  request.method = *method;
  request.params = *params;
  request.params.threads = threads;
  for (int e = 0; e < kExperts; ++e) {
    request.experts.push_back(
        {"expert" + std::to_string(e), dir + "/expert" + std::to_string(e) + ".safetensors"});
  }
  request.out_path = out;
  const auto start = std::chrono::steady_clock::now();
  absl::StatusOr<libra::merge::StreamMergeReport> report = libra::merge::MergeExpertFiles(request);
  const double seconds = Seconds(start);
  if (!report.ok()) {
    std::fprintf(stderr, "%s\n", std::string(report.status().message()).c_str());
    return 1;
  }
  struct rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  std::printf(
      "{\"method\": \"%s\", \"seconds\": %.3f, \"bytes_written\": %lld, \"gbps\": %.3f, "
      "\"peak_module_bytes\": %lld, \"max_rss_bytes\": %lld}\n",
      method_name.c_str(), seconds, static_cast<long long>(report->bytes_written),
      report->bytes_written / seconds / 1e9, static_cast<long long>(report->peak_module_bytes),
      static_cast<long long>(usage.ru_maxrss) * 1024);
  return 0;
}

int Produce(const std::string& dir, const std::string& method_name, int threads) {
  absl::StatusOr<const libra::merge::MethodSpec*> method = libra::merge::FindMethod(method_name);
  if (!method.ok()) return 2;
  libra::merge::MergeArguments args;
  if (method_name == "ties") args.scalars["density"] = kTiesDensity;
  absl::StatusOr<libra::merge::MergeParams> params =
      libra::merge::BindParams(**method, args, kExperts);
  if (!params.ok()) return 2;
  params->threads = threads;
  std::vector<libra::merge::ExpertFile> files;
  for (int e = 0; e < kExperts; ++e) {
    files.push_back(
        *libra::merge::ExpertFile::Open(dir + "/expert" + std::to_string(e) + ".safetensors"));
  }
  const auto start = std::chrono::steady_clock::now();
  int64_t bytes = 0;
  double checksum = 0.0;
  for (const libra::merge::ModuleEntry& module : files[0].modules()) {
    std::vector<libra::merge::ModuleDelta> inputs;
    for (const auto& file : files) inputs.push_back(*file.Load(*file.Find(module.name)));
    absl::StatusOr<libra::merge::ModuleDelta> merged =
        libra::merge::MergeModule(**method, *params, {}, module.name, inputs);
    if (!merged.ok()) return 1;
    bytes += 4 * merged->dense.size();
    checksum += merged->dense.at(12345);
  }
  const double seconds = Seconds(start);
  std::printf("{\"method\": \"%s\", \"seconds\": %.3f, \"bytes_produced\": %lld, "
              "\"gbps\": %.3f, \"checksum\": %.6g}\n",
              method_name.c_str(), seconds, static_cast<long long>(bytes), bytes / seconds / 1e9,
              checksum);
  return 0;
}

int Dense(int threads) {
  std::vector<libra::Tensor> experts;
  std::vector<libra::merge::DeltaView> views;
  for (int e = 0; e < kExperts; ++e) {
    std::vector<float> values(kDim * kDim);
    for (int64_t j = 0; j < kDim * kDim; ++j) values[j] = static_cast<float>((j * (e + 3)) % 101);
    experts.emplace_back(libra::Shape{kDim, kDim}, std::move(values));
  }
  for (const auto& expert : experts) views.push_back(libra::merge::DeltaView::Dense(expert));
  const std::vector<double> weights(kExperts, 1.0 / kExperts);
  std::vector<float> out(kDim * kDim, 0.0f);
  double best = 1e9;
  for (int repeat = 0; repeat < 6; ++repeat) {
    const auto start = std::chrono::steady_clock::now();
    if (!libra::merge::MergeLinearViews(views, weights, threads, out.data()).ok()) return 1;
    if (repeat > 0) best = std::min(best, Seconds(start));
  }
  const double out_bytes = 4.0 * kDim * kDim;
  std::printf("{\"method\": \"linear_dense\", \"seconds\": %.4f, \"gbps\": %.3f, "
              "\"traffic_gbps\": %.3f, \"check\": %g}\n",
              best, out_bytes / best / 1e9, (kExperts + 1) * out_bytes / best / 1e9, out[777]);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string command = argc > 1 ? argv[1] : "";
  if (command == "generate" && argc == 3) return Generate(argv[2]);
  if (command == "memcpy") return Memcpy();
  if (command == "dense" && argc == 3) return Dense(std::atoi(argv[2]));
  if (command == "produce" && argc == 5) return Produce(argv[2], argv[3], std::atoi(argv[4]));
  if (command == "merge" && argc == 6) return Merge(argv[2], argv[3], argv[4], std::atoi(argv[5]));
  std::fprintf(stderr,
               "usage: merge_bench generate DIR | memcpy | merge DIR METHOD OUT THREADS | "
               "produce DIR METHOD THREADS | dense THREADS\n");
  return 2;
}
