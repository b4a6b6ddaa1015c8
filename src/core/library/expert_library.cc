#include "src/core/library/expert_library.h"

#include <dirent.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "src/core/io/atomic_file.h"
#include "src/core/library/expert_name.h"
#include "src/core/library/file_lock.h"
#include "src/core/library/manifest_io.h"
#include "src/core/sha256.h"
#include "src/core/status_macros.h"

namespace libra {
namespace {

int64_t NowUnixMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool IsDirectory(const std::string& path) {
  struct stat info;
  return stat(path.c_str(), &info) == 0 && S_ISDIR(info.st_mode);
}

bool Exists(const std::string& path) {
  struct stat info;
  return stat(path.c_str(), &info) == 0;
}

absl::Status MakeDirectory(const std::string& path) {
  if (mkdir(path.c_str(), 0755) != 0 && errno != EEXIST) {
    return absl::UnavailableError(absl::StrCat("cannot create folder: ", std::strerror(errno), " (", path, ")"));
  }
  return absl::OkStatus();
}

// Files written by `libra merge` and other tools carry the LoRA scaling in
// their metadata: "lora_alpha" (+ "use_rslora"), or "lora_scale".
void AlphaFromMetadata(const SafetensorsFile& file, const ExpertLayout& layout, LoraParams* lora) {
  const auto& metadata = file.metadata();
  auto text = [&](const char* key) {
    auto it = metadata.find(key);
    return it == metadata.end() ? std::string() : it->second;
  };
  double value = 0;
  if (text("use_rslora") == "true") lora->use_rslora = true;
  if (absl::SimpleAtod(text("lora_alpha"), &value) && value > 0) {
    lora->alpha = value;
  } else if (absl::SimpleAtod(text("lora_scale"), &value) && value > 0 && !layout.modules.empty()) {
    // One scale for every module: only expressible when all ranks agree.
    const int64_t rank = layout.modules.begin()->second.rank;
    for (const auto& [module, info] : layout.modules) {
      if (info.rank != rank) return;
    }
    lora->alpha = value * (lora->use_rslora ? std::sqrt(static_cast<double>(rank)) : static_cast<double>(rank));
  }
}

// Fills defaults the file determines and checks the record against it.
absl::Status ReconcileRecord(const ExpertLayout& layout, const std::string& label, ExpertRecord* record) {
  auto bad = [&](absl::string_view what) {
    return absl::InvalidArgumentError(absl::StrCat("expert \"", record->name, "\": ", what, " (", label, ")"));
  };
  if (record->type == AdapterType::kLora) {
    LoraParams& lora = record->lora;
    if (lora.rank < 0 || lora.alpha < 0) return bad("rank and alpha must not be negative");
    if (lora.rank == 0) {
      std::map<int64_t, int> count;
      for (const auto& [module, info] : layout.modules) {
        if (lora.module_rank.count(module) == 0) ++count[info.rank];
      }
      int best = 0;
      for (const auto& [rank, n] : count) {
        if (n > best) {
          best = n;
          lora.rank = static_cast<int32_t>(rank);
        }
      }
      if (lora.rank == 0) lora.rank = static_cast<int32_t>(layout.modules.begin()->second.rank);
    }
    if (lora.alpha == 0) lora.alpha = lora.rank;
    for (const auto& [module, rank] : lora.module_rank) {
      if (layout.modules.count(module) == 0) return bad(absl::StrCat("module_rank names module \"", module, "\" not in the file"));
    }
    for (const auto& [module, alpha] : lora.module_alpha) {
      if (layout.modules.count(module) == 0) return bad(absl::StrCat("module_alpha names module \"", module, "\" not in the file"));
    }
    for (const auto& [module, info] : layout.modules) {
      if (lora.module_rank.count(module) == 0 && info.rank != lora.rank) {
        lora.module_rank[module] = static_cast<int32_t>(info.rank);
      }
      if (lora.RankOf(module) != info.rank) {
        return bad(absl::StrCat("module \"", module, "\": rank ", lora.RankOf(module), " declared, file has ",
                                info.rank));
      }
    }
    // Only differences from the default are kept.
    for (auto it = lora.module_rank.begin(); it != lora.module_rank.end();) {
      it = it->second == lora.rank ? lora.module_rank.erase(it) : std::next(it);
    }
    for (auto it = lora.module_alpha.begin(); it != lora.module_alpha.end();) {
      it = it->second == lora.alpha ? lora.module_alpha.erase(it) : std::next(it);
    }
  } else {
    record->lora = LoraParams();
  }
  if (record->type == AdapterType::kSparse) {
    if (record->sparse.keep_ratio < 0 || record->sparse.keep_ratio > 1) return bad("keep_ratio must be in [0, 1]");
    if (record->sparse.keep_ratio == 0) {
      double kept = 0, total = 0;
      for (const auto& [module, info] : layout.modules) {
        kept += static_cast<double>(info.nnz);
        total += static_cast<double>(info.shape.out_features) * static_cast<double>(info.shape.in_features);
      }
      record->sparse.keep_ratio = total > 0 ? kept / total : 0;
    }
  } else {
    record->sparse = SparseParams();
  }
  if (record->target_modules.empty()) {
    std::set<std::string> leaves;
    for (const auto& [module, info] : layout.modules) leaves.insert(module.substr(module.rfind('.') + 1));
    record->target_modules.assign(leaves.begin(), leaves.end());
  }
  record->num_parameters = layout.num_parameters;
  record->dtype = layout.dtype;
  return absl::OkStatus();
}

}  // namespace

ExpertLibrary::ExpertLibrary(std::string dir)
    : dir_(std::move(dir)), manifest_path_(dir_ + "/" + kManifestFileName) {}

absl::Status ExpertLibrary::Fail(absl::string_view what) const {
  return absl::InvalidArgumentError(absl::StrCat(what, " (", manifest_path_, ")"));
}

absl::StatusOr<ExpertLibrary> ExpertLibrary::Create(const std::string& dir, const std::string& name,
                                                    const std::string& base_model,
                                                    std::map<std::string, ModuleShape> module_shapes) {
  if (dir.empty()) return absl::InvalidArgumentError("library folder is empty");
  LIBRA_RETURN_IF_ERROR(MakeDirectory(dir));
  ExpertLibrary library(dir);
  LIBRA_ASSIGN_OR_RETURN(FileLock lock, FileLock::Acquire(library.PathOf(kLockFileName)));
  if (Exists(library.manifest_path_)) {
    return absl::AlreadyExistsError(absl::StrCat("a library already exists (", library.manifest_path_, ")"));
  }
  Manifest manifest;
  manifest.name = name;
  manifest.base_model = base_model;
  manifest.module_shapes = std::move(module_shapes);
  manifest.created_unix_ms = NowUnixMs();
  LIBRA_RETURN_IF_ERROR(ValidateManifest(manifest, library.manifest_path_));
  LIBRA_RETURN_IF_ERROR(library.WriteManifest(manifest));
  library.manifest_ = std::move(manifest);
  return library;
}

absl::StatusOr<ExpertLibrary> ExpertLibrary::Open(const std::string& dir) {
  ExpertLibrary library(dir);
  if (!IsDirectory(dir)) return absl::NotFoundError(absl::StrCat("no such library folder (", dir, ")"));
  if (!Exists(library.manifest_path_)) {
    return absl::NotFoundError(absl::StrCat("not a library: no manifest (", library.manifest_path_, ")"));
  }
  LIBRA_RETURN_IF_ERROR(library.Reload());
  return library;
}

absl::StatusOr<Manifest> ExpertLibrary::ReadManifest() const {
  LIBRA_ASSIGN_OR_RETURN(std::string bytes, ReadFile(manifest_path_, kMaxManifestBytes));
  return ParseManifest(bytes, manifest_path_);
}

absl::Status ExpertLibrary::WriteManifest(const Manifest& manifest) const {
  return WriteFileAtomically(manifest_path_, SerializeManifest(manifest));
}

absl::Status ExpertLibrary::Reload() {
  LIBRA_ASSIGN_OR_RETURN(manifest_, ReadManifest());
  return absl::OkStatus();
}

absl::StatusOr<ExpertRecord> ExpertLibrary::Show(absl::string_view name) const {
  const ExpertRecord* record = manifest_.Find(name);
  if (record == nullptr) {
    return absl::NotFoundError(absl::StrCat("no expert \"", name, "\" (", manifest_path_, ")"));
  }
  return *record;
}

absl::StatusOr<ExpertRecord> ExpertLibrary::Add(ExpertRecord record, std::string file_bytes) {
  absl::Status name_status = ValidateExpertName(record.name);
  if (!name_status.ok()) return Fail(name_status.message());
  LIBRA_ASSIGN_OR_RETURN(SafetensorsFile file,
                         SafetensorsFile::FromBytes(file_bytes, PathOf(record.name + ".safetensors")));
  return AddValidated(std::move(record), file, [&](const ChunkSink& emit) { return emit(file_bytes); });
}

absl::StatusOr<ExpertRecord> ExpertLibrary::AddFile(ExpertRecord record, const std::string& safetensors_path) {
  // Validate under the source's name first, so errors point at the user's file.
  LIBRA_ASSIGN_OR_RETURN(SafetensorsFile file, SafetensorsFile::Open(safetensors_path));
  LIBRA_RETURN_IF_ERROR(InspectExpertFile(file, record.type).status());
  absl::Status name_status = ValidateExpertName(record.name);
  if (!name_status.ok()) return Fail(name_status.message());
  struct stat info;
  if (stat(safetensors_path.c_str(), &info) != 0) {
    return absl::NotFoundError(absl::StrCat("cannot stat: ", std::strerror(errno), " (", safetensors_path, ")"));
  }
  const int64_t validated_size = static_cast<int64_t>(info.st_size);
  return AddValidated(std::move(record), file, [&](const ChunkSink& emit) {
    std::ifstream in(safetensors_path, std::ios::binary);
    if (!in) return absl::NotFoundError(absl::StrCat("cannot open (", safetensors_path, ")"));
    std::string chunk(1 << 20, '\0');
    int64_t size = 0;
    while (in) {
      in.read(chunk.data(), static_cast<std::streamsize>(chunk.size()));
      const absl::string_view got(chunk.data(), static_cast<size_t>(in.gcount()));
      if (got.empty()) break;
      size += static_cast<int64_t>(got.size());
      LIBRA_RETURN_IF_ERROR(emit(got));
    }
    if (in.bad()) return absl::DataLossError(absl::StrCat("read failed (", safetensors_path, ")"));
    // What was copied must be what was validated.
    if (size != validated_size) {
      return absl::DataLossError(absl::StrCat("the file changed while it was being added: ", validated_size,
                                              " bytes, then ", size, " (", safetensors_path, ")"));
    }
    return absl::OkStatus();
  });
}

absl::StatusOr<ExpertRecord> ExpertLibrary::AddValidated(ExpertRecord record, const SafetensorsFile& file,
                                                         const ContentWriter& write) {
  const std::string file_name = record.name + ".safetensors";
  const std::string path = PathOf(file_name);
  LIBRA_ASSIGN_OR_RETURN(ExpertLayout layout, InspectExpertFile(file, record.type));
  if (record.type == AdapterType::kLora && record.lora.alpha == 0) AlphaFromMetadata(file, layout, &record.lora);
  LIBRA_RETURN_IF_ERROR(ReconcileRecord(layout, path, &record));
  record.file_name = file_name;
  record.created_unix_ms = NowUnixMs();
  record.auxiliary_files.clear();

  LIBRA_ASSIGN_OR_RETURN(FileLock lock, FileLock::Acquire(PathOf(kLockFileName)));
  LIBRA_ASSIGN_OR_RETURN(Manifest manifest, ReadManifest());
  SweepInterruptedWrites(manifest);
  if (manifest.Find(record.name) != nullptr) {
    return absl::AlreadyExistsError(
        absl::StrCat("expert \"", record.name, "\" already exists (", manifest_path_, ")"));
  }
  for (const auto& [module, info] : layout.modules) {
    auto [it, inserted] = manifest.module_shapes.emplace(module, info.shape);
    if (!inserted && !(it->second == info.shape)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "module \"", module, "\": expert has [", info.shape.out_features, ", ", info.shape.in_features,
          "], library has [", it->second.out_features, ", ", it->second.in_features, "] (", path, ")"));
    }
  }
  LIBRA_ASSIGN_OR_RETURN(AtomicFile out, AtomicFile::Create(path));
  Sha256 hash;
  int64_t size = 0;
  // On an error, out's destructor drops the temporary.
  LIBRA_RETURN_IF_ERROR(write([&](absl::string_view chunk) {
    hash.Update(chunk);
    size += static_cast<int64_t>(chunk.size());
    return out.Write(chunk);
  }));
  record.file_size = size;
  record.sha256 = hash.HexDigest();
  manifest.experts.push_back(record);
  LIBRA_RETURN_IF_ERROR(out.Commit());
  absl::Status status = WriteManifest(manifest);
  if (!status.ok()) {
    unlink(path.c_str());
    return status;
  }
  manifest_ = std::move(manifest);
  return record;
}

absl::StatusOr<ExpertRecord> ExpertLibrary::AddWeights(ExpertRecord record, const ExpertWeights& weights,
                                                       DType dtype) {
  if (weights.type != record.type) {
    return Fail(absl::StrCat("expert \"", record.name, "\": weights are ", AdapterTypeName(weights.type),
                             ", record says ", AdapterTypeName(record.type)));
  }
  SafetensorsWriter writer;
  LIBRA_RETURN_IF_ERROR(AddExpertWeights(weights, dtype, &writer));
  return Add(std::move(record), writer.Serialize());
}

absl::Status ExpertLibrary::Remove(absl::string_view name) {
  LIBRA_ASSIGN_OR_RETURN(FileLock lock, FileLock::Acquire(PathOf(kLockFileName)));
  LIBRA_ASSIGN_OR_RETURN(Manifest manifest, ReadManifest());
  SweepInterruptedWrites(manifest);
  const ExpertRecord* record = manifest.Find(name);
  if (record == nullptr) return absl::NotFoundError(absl::StrCat("no expert \"", name, "\" (", manifest_path_, ")"));
  std::vector<std::string> files = {record->file_name};
  for (const auto& [kind, file] : record->auxiliary_files) files.push_back(file.file_name);
  manifest.experts.erase(manifest.experts.begin() + (record - manifest.experts.data()));
  LIBRA_RETURN_IF_ERROR(WriteManifest(manifest));
  manifest_ = std::move(manifest);
  for (const std::string& file : files) {
    if (unlink(PathOf(file).c_str()) != 0 && errno != ENOENT) {
      return absl::UnavailableError(absl::StrCat("expert removed from the manifest, but its file could not be deleted: ",
                                                 std::strerror(errno), " (", PathOf(file), ")"));
    }
  }
  return absl::OkStatus();
}

absl::Status ExpertLibrary::Update(absl::string_view name,
                                   const std::function<absl::Status(ExpertRecord*)>& edit) {
  LIBRA_ASSIGN_OR_RETURN(FileLock lock, FileLock::Acquire(PathOf(kLockFileName)));
  LIBRA_ASSIGN_OR_RETURN(Manifest manifest, ReadManifest());
  ExpertRecord* record = manifest.Find(name);
  if (record == nullptr) return absl::NotFoundError(absl::StrCat("no expert \"", name, "\" (", manifest_path_, ")"));
  const ExpertRecord before = *record;
  LIBRA_RETURN_IF_ERROR(edit(record));
  if (record->name != before.name || record->type != before.type || record->file_name != before.file_name ||
      record->sha256 != before.sha256 || record->file_size != before.file_size ||
      record->auxiliary_files.size() != before.auxiliary_files.size()) {
    return Fail(absl::StrCat("expert \"", name, "\": Update cannot change name, type, files or hashes"));
  }
  LIBRA_RETURN_IF_ERROR(ValidateManifest(manifest, manifest_path_));
  LIBRA_RETURN_IF_ERROR(WriteManifest(manifest));
  manifest_ = std::move(manifest);
  return absl::OkStatus();
}

absl::Status ExpertLibrary::SetAuxiliaryFile(absl::string_view name, absl::string_view kind, std::string bytes) {
  absl::Status kind_status = ValidateExpertName(kind);
  if (!kind_status.ok()) return Fail(absl::StrCat("auxiliary kind: ", kind_status.message()));
  const std::string file_name = absl::StrCat("aux/", kind, "/", name, ".safetensors");
  const std::string path = PathOf(file_name);
  LIBRA_RETURN_IF_ERROR(SafetensorsFile::FromBytes(bytes, path).status());
  LIBRA_ASSIGN_OR_RETURN(FileLock lock, FileLock::Acquire(PathOf(kLockFileName)));
  LIBRA_ASSIGN_OR_RETURN(Manifest manifest, ReadManifest());
  ExpertRecord* record = manifest.Find(name);
  if (record == nullptr) return absl::NotFoundError(absl::StrCat("no expert \"", name, "\" (", manifest_path_, ")"));
  LIBRA_RETURN_IF_ERROR(MakeDirectory(PathOf("aux")));
  LIBRA_RETURN_IF_ERROR(MakeDirectory(PathOf(absl::StrCat("aux/", kind))));
  SweepInterruptedWrites(manifest);
  const std::string sha256 = Sha256Hex(bytes);
  auto existing = record->auxiliary_files.find(std::string(kind));
  std::string old_file;
  if (existing != record->auxiliary_files.end()) {
    if (existing->second.sha256 == sha256 && Exists(PathOf(existing->second.file_name))) return absl::OkStatus();
    old_file = existing->second.file_name;
  }
  // A replacement goes to a new name, so the file the manifest references is
  // never overwritten: a writer killed before the manifest is written leaves
  // the old state and an unreferenced file the next writer sweeps.
  const std::string new_name =
      old_file.empty() ? file_name : absl::StrCat("aux/", kind, "/", name, ".", sha256.substr(0, 12), ".safetensors");
  record->auxiliary_files[std::string(kind)] = AuxiliaryFile{new_name, sha256};
  LIBRA_RETURN_IF_ERROR(WriteFileAtomically(PathOf(new_name), bytes));
  absl::Status status = WriteManifest(manifest);
  if (!status.ok()) {
    unlink(PathOf(new_name).c_str());
    return status;
  }
  manifest_ = std::move(manifest);
  if (!old_file.empty() && old_file != new_name) unlink(PathOf(old_file).c_str());
  return absl::OkStatus();
}

void ExpertLibrary::SweepInterruptedWrites(const Manifest& manifest) const {
  std::set<std::string> referenced = {kManifestFileName, kLockFileName};
  for (const ExpertRecord& record : manifest.experts) {
    referenced.insert(record.file_name);
    for (const auto& [kind, aux] : record.auxiliary_files) referenced.insert(aux.file_name);
  }
  std::error_code error;
  for (auto it = std::filesystem::recursive_directory_iterator(dir_, error);
       !error && it != std::filesystem::recursive_directory_iterator(); it.increment(error)) {
    if (!it->is_regular_file(error)) continue;
    const std::string base = it->path().filename().string();
    const std::string relative = std::filesystem::relative(it->path(), dir_, error).string();
    bool stale = false;
    if (size_t tmp = base.find(".tmp-"); base[0] == '.' && tmp != std::string::npos) {
      // AtomicFile's temporaries: .<name>.tmp-<pid>-<random>; the writer's pid
      // no longer running means it was interrupted.
      int pid = 0;
      const std::string rest = base.substr(tmp + 5);
      stale = absl::SimpleAtoi(rest.substr(0, rest.find('-')), &pid) && pid > 0 && kill(pid, 0) != 0 &&
              errno == ESRCH;
    } else if (absl::EndsWith(base, ".safetensors") && absl::StartsWith(relative, "aux/")) {
      // An auxiliary file whose writer died before the manifest referenced
      // it. aux/ is libra's own; top-level files are left alone (a user may
      // keep a merge output there): Verify warns about unreferenced ones.
      stale = referenced.count(relative) == 0;
    }
    if (stale) unlink(it->path().c_str());
  }
}

absl::StatusOr<SafetensorsFile> ExpertLibrary::OpenAuxiliaryFile(absl::string_view name,
                                                                 absl::string_view kind) const {
  LIBRA_ASSIGN_OR_RETURN(ExpertRecord record, Show(name));
  auto it = record.auxiliary_files.find(std::string(kind));
  if (it == record.auxiliary_files.end()) {
    return absl::NotFoundError(
        absl::StrCat("expert \"", name, "\" has no auxiliary file \"", kind, "\" (", manifest_path_, ")"));
  }
  return SafetensorsFile::Open(PathOf(it->second.file_name));
}

absl::StatusOr<SafetensorsFile> ExpertLibrary::OpenExpertFile(absl::string_view name) const {
  LIBRA_ASSIGN_OR_RETURN(ExpertRecord record, Show(name));
  const std::string path = PathOf(record.file_name);
  LIBRA_ASSIGN_OR_RETURN(SafetensorsFile file, SafetensorsFile::Open(path));
  return file;
}

absl::StatusOr<ExpertWeights> ExpertLibrary::LoadExpert(absl::string_view name) const {
  LIBRA_ASSIGN_OR_RETURN(ExpertRecord record, Show(name));
  LIBRA_ASSIGN_OR_RETURN(SafetensorsFile file, OpenExpertFile(name));
  return LoadExpertWeights(file, record);
}

VerifyReport ExpertLibrary::Verify(bool check_finite) const {
  VerifyReport report;
  std::set<std::string> referenced = {kManifestFileName, kLockFileName};
  auto check_hash = [&](const std::string& expert, const std::string& file_name, const std::string& sha256) {
    const std::string path = PathOf(file_name);
    referenced.insert(file_name);
    ++report.files_checked;
    if (!Exists(path)) {
      report.problems.push_back({expert, path, "missing"});
      return false;
    }
    absl::StatusOr<std::string> actual = Sha256File(path);
    if (!actual.ok()) {
      report.problems.push_back({expert, path, std::string(actual.status().message())});
      return false;
    }
    if (*actual != sha256) {
      report.problems.push_back(
          {expert, path, absl::StrCat("corrupted: sha256 is ", *actual, ", manifest says ", sha256)});
      return false;
    }
    return true;
  };
  for (const ExpertRecord& record : manifest_.experts) {
    ++report.experts_checked;
    if (check_hash(record.name, record.file_name, record.sha256)) {
      const std::string path = PathOf(record.file_name);
      absl::StatusOr<SafetensorsFile> file = SafetensorsFile::Open(path);
      absl::Status status = file.status();
      if (status.ok()) status = InspectExpertFile(*file, record.type).status();
      if (status.ok() && check_finite) status = file->CheckFinite();
      if (!status.ok()) report.problems.push_back({record.name, path, std::string(status.message())});
    }
    for (const auto& [kind, aux] : record.auxiliary_files) {
      if (check_hash(record.name, aux.file_name, aux.sha256) && check_finite) {
        absl::StatusOr<SafetensorsFile> file = SafetensorsFile::Open(PathOf(aux.file_name));
        absl::Status status = file.ok() ? file->CheckFinite() : file.status();
        if (!status.ok()) report.problems.push_back({record.name, PathOf(aux.file_name), std::string(status.message())});
      }
    }
  }
  // Top-level expert files nobody references (e.g. left by a crash).
  if (DIR* handle = opendir(dir_.c_str())) {
    while (dirent* entry = readdir(handle)) {
      const std::string file_name = entry->d_name;
      if (absl::EndsWith(file_name, ".safetensors") && referenced.count(file_name) == 0) {
        report.warnings.push_back({"", PathOf(file_name), "not referenced by the manifest"});
      }
    }
    closedir(handle);
  }
  return report;
}

}  // namespace libra
