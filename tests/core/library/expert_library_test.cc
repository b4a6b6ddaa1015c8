#include "src/core/library/expert_library.h"

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <fstream>
#include <limits>
#include <set>
#include <string>
#include <tuple>

#include "gtest/gtest.h"
#include "src/core/io/safetensors.h"
#include "src/core/library/manifest_io.h"
#include "src/core/sha256.h"
#include "tests/core/library/test_util.h"

namespace libra {
namespace {

using ::libra::testing::Filled;
using ::libra::testing::NewTempDir;
using ::libra::testing::Slurp;
using ::libra::testing::SmallLora;

bool Exists(const std::string& path) {
  struct stat info;
  return stat(path.c_str(), &info) == 0;
}

ExpertRecord Lora(const std::string& name, double alpha = 8) {
  ExpertRecord record;
  record.name = name;
  record.type = AdapterType::kLora;
  record.lora.alpha = alpha;
  return record;
}

class ExpertLibraryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = NewTempDir("lib");
    absl::StatusOr<ExpertLibrary> library = ExpertLibrary::Create(dir_, "test", "tiny-base");
    ASSERT_TRUE(library.ok()) << library.status();
    library_.emplace(*std::move(library));
  }
  std::string dir_;
  std::optional<ExpertLibrary> library_;
};

TEST_F(ExpertLibraryTest, CreateTwiceFails) {
  absl::StatusOr<ExpertLibrary> again = ExpertLibrary::Create(dir_, "test", "tiny-base");
  EXPECT_EQ(again.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_NE(again.status().message().find("library.pb"), std::string::npos);
}

TEST_F(ExpertLibraryTest, OpenMissingIsNotFound) {
  EXPECT_EQ(ExpertLibrary::Open(dir_ + "/nope").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(ExpertLibraryTest, AddListShowLoad) {
  ExpertRecord record = Lora("cola", /*alpha=*/16);
  record.tasks = {"cola"};
  record.metrics["accuracy"] = 0.75;
  absl::StatusOr<ExpertRecord> added = library_->AddWeights(record, SmallLora(/*v_rank=*/3), DType::kF32);
  ASSERT_TRUE(added.ok()) << added.status();
  // The most common rank becomes the default; the other is per module.
  EXPECT_EQ(added->lora.rank, 2);
  EXPECT_EQ(added->lora.module_rank, (std::map<std::string, int32_t>{{"m.v", 3}}));
  EXPECT_EQ(added->num_parameters, 2 * 6 + 8 * 2 + 3 * 6 + 4 * 3);
  EXPECT_EQ(added->dtype, "F32");
  EXPECT_EQ(added->file_name, "cola.safetensors");
  EXPECT_EQ(added->sha256, Sha256Hex(Slurp(dir_ + "/cola.safetensors")));

  absl::StatusOr<ExpertLibrary> reopened = ExpertLibrary::Open(dir_);
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  ASSERT_EQ(reopened->List().size(), 1u);
  EXPECT_EQ(reopened->List()[0].tasks, std::vector<std::string>{"cola"});
  EXPECT_EQ(reopened->manifest().module_shapes.at("m.q"), (ModuleShape{8, 6}));
  EXPECT_EQ(reopened->manifest().module_shapes.at("m.v"), (ModuleShape{4, 6}));
  absl::StatusOr<ExpertRecord> shown = reopened->Show("cola");
  ASSERT_TRUE(shown.ok());
  EXPECT_DOUBLE_EQ(shown->metrics.at("accuracy"), 0.75);

  absl::StatusOr<ExpertWeights> loaded = reopened->LoadExpert("cola");
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  const ExpertWeights expected = SmallLora(3);
  EXPECT_EQ(loaded->lora.at("m.q").a.values(), expected.lora.at("m.q").a.values());
  EXPECT_EQ(loaded->lora.at("m.v").b.values(), expected.lora.at("m.v").b.values());
  EXPECT_EQ(loaded->lora.at("m.v").b.shape(), (Shape{4, 3}));
  // scale = alpha / r per module.
  EXPECT_DOUBLE_EQ(loaded->lora.at("m.q").scale, 16.0 / 2);
  EXPECT_DOUBLE_EQ(loaded->lora.at("m.v").scale, 16.0 / 3);
}

TEST_F(ExpertLibraryTest, RsLoraAndModuleAlphaScales) {
  ExpertRecord record = Lora("r", 8);
  record.lora.use_rslora = true;
  record.lora.module_alpha["m.v"] = 2;
  ASSERT_TRUE(library_->AddWeights(record, SmallLora(4)).ok());
  absl::StatusOr<ExpertWeights> loaded = library_->LoadExpert("r");
  ASSERT_TRUE(loaded.ok());
  EXPECT_DOUBLE_EQ(loaded->lora.at("m.q").scale, 8 / std::sqrt(2.0));
  EXPECT_DOUBLE_EQ(loaded->lora.at("m.v").scale, 2 / std::sqrt(4.0));
  EXPECT_DOUBLE_EQ(loaded->lora.at("m.v").alpha, 2);
}

// Files from `libra merge` carry their scaling as metadata.
TEST_F(ExpertLibraryTest, AlphaFromFileMetadata) {
  for (const auto& [key, value, want_alpha] :
       std::vector<std::tuple<std::string, std::string, double>>{{"lora_alpha", "16", 16}, {"lora_scale", "1.5", 3}}) {
    SafetensorsWriter writer;
    ExpertWeights weights = SmallLora(2);
    ASSERT_TRUE(AddExpertWeights(weights, DType::kF32, &writer).ok());
    writer.SetMetadata(key, value);
    ExpertRecord record;
    record.name = key;
    absl::StatusOr<ExpertRecord> added = library_->Add(record, writer.Serialize());
    ASSERT_TRUE(added.ok()) << added.status();
    EXPECT_DOUBLE_EQ(added->lora.alpha, want_alpha) << key;  // rank 2: scale 1.5 -> alpha 3
  }
}

TEST_F(ExpertLibraryTest, SparseAndDeltaExperts) {
  ExpertWeights sparse;
  sparse.type = AdapterType::kSparse;
  sparse.sparse["m.q"] = SparseModule{{1, 5, 47}, Filled({3}, 1, 1), ModuleShape{8, 6}};
  sparse.bias["m.q"] = Filled({8}, 0, 0.5f);
  ExpertRecord record;
  record.name = "s";
  record.type = AdapterType::kSparse;
  absl::StatusOr<ExpertRecord> added = library_->AddWeights(record, sparse);
  ASSERT_TRUE(added.ok()) << added.status();
  EXPECT_DOUBLE_EQ(added->sparse.keep_ratio, 3.0 / 48);
  absl::StatusOr<ExpertWeights> loaded = library_->LoadExpert("s");
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->sparse.at("m.q").indices, (std::vector<int64_t>{1, 5, 47}));
  EXPECT_EQ(loaded->sparse.at("m.q").values.values(), (std::vector<float>{1, 2, 3}));
  EXPECT_EQ(loaded->bias.at("m.q").size(), 8);

  ExpertWeights delta;
  delta.type = AdapterType::kDelta;
  delta.delta["m.v"] = Filled({4, 6}, 0, 1);
  record.name = "d";
  record.type = AdapterType::kDelta;
  ASSERT_TRUE(library_->AddWeights(record, delta, DType::kBF16).ok());
  absl::StatusOr<ExpertWeights> loaded_delta = library_->LoadExpert("d");
  ASSERT_TRUE(loaded_delta.ok());
  EXPECT_EQ(loaded_delta->delta.at("m.v").values(), Filled({4, 6}, 0, 1).values());  // exact in BF16
}

TEST_F(ExpertLibraryTest, AddFileCopiesALargeFileInChunksExactly) {
  // A full delta of 3 MB: three 1 MiB chunks and a partial one.
  SafetensorsWriter writer;
  ASSERT_TRUE(writer.Add("m.q.delta.weight", Filled({768, 1024}, -1, 1e-3f)).ok());
  const std::string source = dir_ + "/../big_delta.safetensors";
  ASSERT_TRUE(writer.WriteAtomically(source).ok());
  const std::string bytes = Slurp(source);
  ASSERT_GT(bytes.size(), 3u << 20);
  ExpertRecord record;
  record.name = "big";
  record.type = AdapterType::kDelta;
  absl::StatusOr<ExpertRecord> added = library_->AddFile(record, source);
  ASSERT_TRUE(added.ok()) << added.status();
  EXPECT_EQ(Slurp(dir_ + "/big.safetensors"), bytes);
  // Hash and size of the bytes themselves, computed apart from the copy.
  EXPECT_EQ(added->sha256, Sha256Hex(bytes));
  EXPECT_EQ(added->file_size, static_cast<int64_t>(bytes.size()));
  absl::StatusOr<ExpertLibrary> reopened = ExpertLibrary::Open(dir_);
  ASSERT_TRUE(reopened.ok());
  const VerifyReport report = reopened->Verify(false);
  EXPECT_TRUE(report.ok() && report.warnings.empty());
  // A second add under the same name fails and leaves no temporary behind.
  EXPECT_EQ(library_->AddFile(record, source).status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_TRUE(reopened->Verify(false).warnings.empty());
}

TEST_F(ExpertLibraryTest, DuplicateNameFailsAndKeepsFirst) {
  ASSERT_TRUE(library_->AddWeights(Lora("a"), SmallLora(2, 0.0f)).ok());
  const std::string file_before = Slurp(dir_ + "/a.safetensors");
  const std::string manifest_before = Slurp(dir_ + "/library.pb");
  absl::StatusOr<ExpertRecord> again = library_->AddWeights(Lora("a"), SmallLora(2, 1.0f));
  EXPECT_EQ(again.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_NE(again.status().message().find("expert \"a\" already exists"), std::string::npos);
  EXPECT_EQ(Slurp(dir_ + "/a.safetensors"), file_before);
  EXPECT_EQ(Slurp(dir_ + "/library.pb"), manifest_before);
}

TEST_F(ExpertLibraryTest, PathTraversalNamesRejectedWithoutWriting) {
  const std::string manifest_before = Slurp(dir_ + "/library.pb");
  for (const std::string& name : std::vector<std::string>{"../evil", "a/b", "a\\b", "..", "", ".hidden", std::string(129, 'x'),
                                 std::string("tab\there"), std::string("nul\0x", 5)}) {
    absl::StatusOr<ExpertRecord> added = library_->AddWeights(Lora(name), SmallLora());
    EXPECT_EQ(added.status().code(), absl::StatusCode::kInvalidArgument) << name;
    EXPECT_NE(added.status().message().find("invalid expert name"), std::string::npos) << added.status();
  }
  EXPECT_FALSE(Exists(dir_ + "/../evil.safetensors"));
  EXPECT_EQ(Slurp(dir_ + "/library.pb"), manifest_before);
  EXPECT_TRUE(library_->AddWeights(Lora(std::string(128, 'x')), SmallLora()).ok());
}

TEST_F(ExpertLibraryTest, FailedAddsWriteNothing) {
  ASSERT_TRUE(library_->AddWeights(Lora("ok"), SmallLora()).ok());
  const std::string manifest_before = Slurp(dir_ + "/library.pb");
  // Shape conflicting with the library's module shapes.
  ExpertWeights wrong = SmallLora();
  wrong.lora["m.q"].a = Filled({2, 7}, 0, 1);
  absl::StatusOr<ExpertRecord> added = library_->AddWeights(Lora("wrong_shape"), wrong);
  EXPECT_EQ(added.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(added.status().message().find("module \"m.q\": expert has [8, 7], library has [8, 6]"),
            std::string::npos)
      << added.status();
  // Rank of A and B disagree.
  ExpertWeights unpaired = SmallLora();
  unpaired.lora["m.q"].b = Filled({8, 3}, 0, 1);
  added = library_->AddWeights(Lora("unpaired"), unpaired);
  EXPECT_NE(added.status().message().find("m.q.lora_B.weight"), std::string::npos) << added.status();
  // Declared rank disagrees with the file.
  ExpertRecord declared = Lora("declared");
  declared.lora.rank = 2;
  declared.lora.module_rank["m.v"] = 5;
  added = library_->AddWeights(declared, SmallLora(2));
  EXPECT_NE(added.status().message().find("rank 5 declared, file has 2"), std::string::npos) << added.status();
  // Not a safetensors file at all, and a file with foreign tensor names.
  const std::string junk = dir_ + "/../junk.safetensors";
  std::ofstream(junk) << "not safetensors";
  EXPECT_FALSE(library_->AddFile(Lora("junk"), junk).ok());
  SafetensorsWriter foreign;
  ASSERT_TRUE(foreign.Add("model.q.weight", Filled({2, 2}, 0, 1)).ok());
  ASSERT_TRUE(foreign.WriteAtomically(junk).ok());
  added = library_->AddFile(Lora("foreign"), junk);
  EXPECT_NE(added.status().message().find("tensor \"model.q.weight\": name is not"), std::string::npos)
      << added.status();
  // A sparse expert with unsorted indices.
  ExpertWeights sparse;
  sparse.type = AdapterType::kSparse;
  sparse.sparse["m.q"] = SparseModule{{5, 1}, Filled({2}, 1, 1), ModuleShape{8, 6}};
  ExpertRecord sparse_record;
  sparse_record.name = "unsorted";
  sparse_record.type = AdapterType::kSparse;
  added = library_->AddWeights(sparse_record, sparse);
  EXPECT_NE(added.status().message().find("not strictly increasing"), std::string::npos) << added.status();

  for (const char* name : {"wrong_shape", "unpaired", "declared", "junk", "foreign", "unsorted"}) {
    EXPECT_FALSE(Exists(dir_ + "/" + name + ".safetensors")) << name;
  }
  EXPECT_EQ(Slurp(dir_ + "/library.pb"), manifest_before);
  absl::StatusOr<ExpertLibrary> reopened = ExpertLibrary::Open(dir_);
  ASSERT_TRUE(reopened.ok());
  EXPECT_EQ(reopened->List().size(), 1u);
  // No temporary files left behind either.
  EXPECT_TRUE(reopened->Verify(false).warnings.empty());
}

TEST_F(ExpertLibraryTest, RemoveDeletesEntryAndFiles) {
  ASSERT_TRUE(library_->AddWeights(Lora("a"), SmallLora()).ok());
  ASSERT_TRUE(library_->AddWeights(Lora("b"), SmallLora()).ok());
  SafetensorsWriter aux;
  ASSERT_TRUE(aux.Add("m.q", Filled({6}, 0, 1)).ok());
  ASSERT_TRUE(library_->SetAuxiliaryFile("a", "arrow", aux.Serialize()).ok());
  ASSERT_TRUE(Exists(dir_ + "/aux/arrow/a.safetensors"));
  ASSERT_TRUE(library_->Remove("a").ok());
  EXPECT_FALSE(Exists(dir_ + "/a.safetensors"));
  EXPECT_FALSE(Exists(dir_ + "/aux/arrow/a.safetensors"));
  EXPECT_EQ(library_->Remove("a").code(), absl::StatusCode::kNotFound);
  absl::StatusOr<ExpertLibrary> reopened = ExpertLibrary::Open(dir_);
  ASSERT_EQ(reopened->List().size(), 1u);
  EXPECT_EQ(reopened->List()[0].name, "b");
}

TEST_F(ExpertLibraryTest, AuxiliaryFilesAreHashedAndVerified) {
  ASSERT_TRUE(library_->AddWeights(Lora("a"), SmallLora()).ok());
  SafetensorsWriter aux;
  ASSERT_TRUE(aux.Add("m.q", Filled({6}, 0, 1)).ok());
  const std::string bytes = aux.Serialize();
  ASSERT_TRUE(library_->SetAuxiliaryFile("a", "arrow", bytes).ok());
  EXPECT_EQ(library_->Show("a")->auxiliary_files.at("arrow").sha256, Sha256Hex(bytes));
  absl::StatusOr<SafetensorsFile> opened = library_->OpenAuxiliaryFile("a", "arrow");
  ASSERT_TRUE(opened.ok()) << opened.status();
  EXPECT_EQ(opened->ReadFloat("m.q")->values(), Filled({6}, 0, 1).values());
  EXPECT_EQ(library_->SetAuxiliaryFile("a", "../x", bytes).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(library_->SetAuxiliaryFile("nope", "arrow", bytes).code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(library_->Verify(false).ok());
  std::ofstream(dir_ + "/aux/arrow/a.safetensors", std::ios::binary) << "tampered";
  const VerifyReport report = library_->Verify(false);
  ASSERT_EQ(report.problems.size(), 1u);
  EXPECT_NE(report.problems[0].problem.find("corrupted"), std::string::npos);
}

// Replacing an auxiliary file never overwrites the file the manifest
// references: the new content gets a new name, the old file goes after the
// manifest is written. What killed writers leave is swept by the next writer.
TEST_F(ExpertLibraryTest, ReplacedAuxiliaryFilesAndLeftoversOfKilledWriters) {
  ASSERT_TRUE(library_->AddWeights(Lora("a"), SmallLora()).ok());
  SafetensorsWriter first, second;
  ASSERT_TRUE(first.Add("m.q", Filled({6}, 0, 1)).ok());
  ASSERT_TRUE(second.Add("m.q", Filled({6}, 5, 1)).ok());
  ASSERT_TRUE(library_->SetAuxiliaryFile("a", "arrow", first.Serialize()).ok());
  const std::string old_name = library_->Show("a")->auxiliary_files.at("arrow").file_name;
  ASSERT_TRUE(library_->SetAuxiliaryFile("a", "arrow", second.Serialize()).ok());
  const AuxiliaryFile now = library_->Show("a")->auxiliary_files.at("arrow");
  EXPECT_NE(now.file_name, old_name);
  EXPECT_EQ(now.sha256, Sha256Hex(second.Serialize()));
  EXPECT_FALSE(Exists(dir_ + "/" + old_name));
  EXPECT_EQ(library_->OpenAuxiliaryFile("a", "arrow")->ReadFloat("m.q")->values(), Filled({6}, 5, 1).values());

  // Leftovers: a temporary of a dead writer, one of a live writer (this
  // process), an unreferenced auxiliary file, and a user's top-level file.
  const std::string dead = dir_ + "/.b.safetensors.tmp-999999999-1";
  const std::string live = dir_ + "/.c.safetensors.tmp-" + std::to_string(getpid()) + "-1";
  const std::string orphan = dir_ + "/aux/arrow/b.safetensors";
  const std::string user = dir_ + "/merged.safetensors";
  for (const std::string& path : {dead, live, orphan, user}) std::ofstream(path) << "x";
  ASSERT_TRUE(library_->AddWeights(Lora("b"), SmallLora()).ok());
  EXPECT_FALSE(Exists(dead));
  EXPECT_TRUE(Exists(live));
  EXPECT_FALSE(Exists(orphan));
  EXPECT_TRUE(Exists(user));
  EXPECT_TRUE(library_->Verify(false).ok());
}

TEST_F(ExpertLibraryTest, UpdateEditsMetricsOnly) {
  ASSERT_TRUE(library_->AddWeights(Lora("a"), SmallLora()).ok());
  ASSERT_TRUE(library_->Update("a", [](ExpertRecord* r) {
    r->metrics["rouge"] = 0.5;
    return absl::OkStatus();
  }).ok());
  EXPECT_DOUBLE_EQ(ExpertLibrary::Open(dir_)->Show("a")->metrics.at("rouge"), 0.5);
  const absl::Status rename = library_->Update("a", [](ExpertRecord* r) {
    r->name = "b";
    return absl::OkStatus();
  });
  EXPECT_EQ(rename.code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(ExpertLibraryTest, VerifyCatchesCorruptedAndMissingFiles) {
  ASSERT_TRUE(library_->AddWeights(Lora("a"), SmallLora()).ok());
  ASSERT_TRUE(library_->AddWeights(Lora("b"), SmallLora()).ok());
  ASSERT_TRUE(library_->Verify(true).ok());
  // Flip one bit of a's data (the last byte is tensor data, so the header stays valid).
  std::string bytes = Slurp(dir_ + "/a.safetensors");
  bytes.back() ^= 1;
  std::ofstream(dir_ + "/a.safetensors", std::ios::binary) << bytes;
  ASSERT_EQ(unlink((dir_ + "/b.safetensors").c_str()), 0);
  std::ofstream(dir_ + "/stray.safetensors") << "x";
  const VerifyReport report = library_->Verify(false);
  EXPECT_EQ(report.experts_checked, 2);
  ASSERT_EQ(report.problems.size(), 2u);
  EXPECT_EQ(report.problems[0].expert, "a");
  EXPECT_NE(report.problems[0].problem.find("corrupted: sha256 is"), std::string::npos);
  EXPECT_EQ(report.problems[1].expert, "b");
  EXPECT_EQ(report.problems[1].problem, "missing");
  ASSERT_EQ(report.warnings.size(), 1u);
  EXPECT_NE(report.warnings[0].file.find("stray.safetensors"), std::string::npos);
}

TEST_F(ExpertLibraryTest, CheckFiniteIsOffByDefault) {
  for (float bad : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity()}) {
    ExpertWeights weights = SmallLora();
    weights.lora["m.v"].b.at(3) = bad;
    const std::string name = std::isnan(bad) ? "nan" : "inf";
    ASSERT_TRUE(library_->AddWeights(Lora(name), weights).ok());
  }
  EXPECT_TRUE(library_->Verify(false).ok());
  const VerifyReport report = library_->Verify(true);
  ASSERT_EQ(report.problems.size(), 2u);
  for (const VerifyIssue& problem : report.problems) {
    EXPECT_NE(problem.problem.find("m.v.lora_B.weight"), std::string::npos) << problem.problem;
  }
}

TEST_F(ExpertLibraryTest, TamperedManifestFileNamesRejected) {
  ASSERT_TRUE(library_->AddWeights(Lora("a"), SmallLora()).ok());
  Manifest manifest = library_->manifest();
  manifest.experts[0].file_name = "../../etc/passwd";
  std::ofstream(dir_ + "/library.pb", std::ios::binary) << SerializeManifest(manifest);
  absl::StatusOr<ExpertLibrary> reopened = ExpertLibrary::Open(dir_);
  EXPECT_EQ(reopened.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(reopened.status().message().find("leaves the library folder"), std::string::npos);
}

// Processes adding experts at the same time all land (the lock serialises
// the manifest's read-modify-write).
TEST(ExpertLibraryConcurrencyTest, ConcurrentAddsFromProcessesAllLand) {
  constexpr int kRounds = 20;
  constexpr int kProcesses = 4;
  constexpr int kPerProcess = 3;
  for (int round = 0; round < kRounds; ++round) {
    const std::string dir = NewTempDir("concurrent");
    ASSERT_TRUE(ExpertLibrary::Create(dir, "c", "tiny").ok());
    std::vector<pid_t> children;
    for (int p = 0; p < kProcesses; ++p) {
      const pid_t pid = fork();
      ASSERT_GE(pid, 0);
      if (pid == 0) {
        absl::StatusOr<ExpertLibrary> library = ExpertLibrary::Open(dir);
        bool ok = library.ok();
        for (int i = 0; ok && i < kPerProcess; ++i) {
          ok = library->AddWeights(Lora(absl::StrCat("p", p, "_", i)), SmallLora(2, p + i)).ok();
        }
        _exit(ok ? 0 : 1);
      }
      children.push_back(pid);
    }
    for (pid_t pid : children) {
      int status = 0;
      ASSERT_EQ(waitpid(pid, &status, 0), pid);
      EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    absl::StatusOr<ExpertLibrary> library = ExpertLibrary::Open(dir);
    ASSERT_TRUE(library.ok());
    std::set<std::string> names;
    for (const ExpertRecord& record : library->List()) names.insert(record.name);
    ASSERT_EQ(names.size(), static_cast<size_t>(kProcesses * kPerProcess)) << "round " << round;
    EXPECT_TRUE(library->Verify(false).ok());
  }
}

// The type a file's tensor names say, as `library add --tensors` uses it.
TEST(InferAdapterTypeTest, FromTensorNames) {
  auto infer = [](const std::vector<std::pair<std::string, Tensor>>& tensors) {
    SafetensorsWriter writer;
    for (const auto& [name, tensor] : tensors) EXPECT_TRUE(writer.Add(name, tensor).ok());
    absl::StatusOr<SafetensorsFile> file = SafetensorsFile::FromBytes(writer.Serialize(), "x.safetensors");
    EXPECT_TRUE(file.ok());
    return InferAdapterType(*file);
  };
  const Tensor t = Filled({2, 2}, 0, 1);
  EXPECT_EQ(*infer({{"m.lora_A.weight", t}, {"m.lora_B.weight", t}}), AdapterType::kLora);
  EXPECT_EQ(*infer({{"m.delta.weight", t}, {"m.bias", Filled({2}, 0, 1)}}), AdapterType::kDelta);
  EXPECT_EQ(*infer({{"m.sparse.values", Filled({2}, 0, 1)}}), AdapterType::kSparse);
  absl::StatusOr<AdapterType> mixed = infer({{"m.lora_A.weight", t}, {"n.delta.weight", t}});
  EXPECT_NE(mixed.status().message().find("several expert types"), std::string::npos) << mixed.status();
  absl::StatusOr<AdapterType> none = infer({{"m.weight", t}});
  EXPECT_NE(none.status().message().find("give --type"), std::string::npos) << none.status();
  EXPECT_NE(none.status().message().find("x.safetensors"), std::string::npos) << none.status();
}

}  // namespace
}  // namespace libra
