// ExpertLibrary: a folder of experts described by one manifest.
//
//   DIR/library.pb                     the manifest (src/proto/library.proto)
//   DIR/<expert>.safetensors           one file per expert (expert_weights.h naming)
//   DIR/aux/<kind>/<expert>.safetensors auxiliary per-expert data (Arrow prototypes, ...)
//   DIR/.lock                          flock'ed during every manifest change
//
// Every change takes the lock, re-reads the manifest, writes the expert's
// file atomically, then the manifest atomically (last), so concurrent
// writers all land and a crash or a failed add leaves the manifest as it
// was and no stray file. Reads use the snapshot taken by Open()/Reload().
//
//   LIBRA_ASSIGN_OR_RETURN(ExpertLibrary library, ExpertLibrary::Create(dir, "flan", "phi-2"));
//   ExpertRecord record;
//   record.name = "cola";
//   record.type = AdapterType::kLora;
//   record.lora.alpha = 16;
//   LIBRA_ASSIGN_OR_RETURN(ExpertRecord added, library.AddFile(record, "cola.safetensors"));
//   LIBRA_ASSIGN_OR_RETURN(ExpertWeights weights, library.LoadExpert("cola"));
#ifndef LIBRA_CORE_LIBRARY_EXPERT_LIBRARY_H_
#define LIBRA_CORE_LIBRARY_EXPERT_LIBRARY_H_

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "src/core/io/safetensors.h"
#include "src/core/library/expert_weights.h"
#include "src/core/library/manifest.h"

namespace libra {

inline constexpr char kManifestFileName[] = "library.pb";
inline constexpr char kLockFileName[] = ".lock";

struct VerifyIssue {
  std::string expert;  // empty for files no expert references
  std::string file;    // path of the file concerned
  std::string problem;
};

struct VerifyReport {
  int experts_checked = 0;
  int files_checked = 0;
  std::vector<VerifyIssue> problems;  // missing, corrupted, invalid, non-finite
  std::vector<VerifyIssue> warnings;  // unreferenced files
  bool ok() const { return problems.empty(); }
};

class ExpertLibrary {
 public:
  // Creates DIR (if needed) and an empty manifest; fails if DIR already
  // holds a library.
  static absl::StatusOr<ExpertLibrary> Create(const std::string& dir, const std::string& name,
                                              const std::string& base_model,
                                              std::map<std::string, ModuleShape> module_shapes = {});
  static absl::StatusOr<ExpertLibrary> Open(const std::string& dir);

  const std::string& dir() const { return dir_; }
  const std::string& manifest_path() const { return manifest_path_; }
  const Manifest& manifest() const { return manifest_; }
  const std::vector<ExpertRecord>& List() const { return manifest_.experts; }
  absl::StatusOr<ExpertRecord> Show(absl::string_view name) const;
  absl::Status Reload();

  // Adds an expert. `record` supplies name, type, LoRA rank/alpha/rsLoRA
  // (rank 0: the most common rank in the file; alpha 0: the rank), tasks,
  // training config, metrics, merge info; file name, hash, size, dtype,
  // parameter count and creation time are filled in. The file must follow
  // the expert_weights.h naming and match the library's module shapes
  // (modules new to the library extend them).
  absl::StatusOr<ExpertRecord> Add(ExpertRecord record, std::string file_bytes);
  // The same from a file, copied in chunks and hashed on the way, so that a
  // large expert (a full fine-tuning delta) is never held in memory whole.
  absl::StatusOr<ExpertRecord> AddFile(ExpertRecord record, const std::string& safetensors_path);
  absl::StatusOr<ExpertRecord> AddWeights(ExpertRecord record, const ExpertWeights& weights,
                                          DType dtype = DType::kF32);

  // Removes the expert from the manifest, then deletes its files.
  absl::Status Remove(absl::string_view name);

  // Read-modify-write of one record under the lock (metrics, tasks, ...).
  // The name, type, file fields and hashes cannot change this way.
  absl::Status Update(absl::string_view name, const std::function<absl::Status(ExpertRecord*)>& edit);

  // Stores `bytes` (a safetensors image) as the expert's `kind` auxiliary file.
  absl::Status SetAuxiliaryFile(absl::string_view name, absl::string_view kind, std::string bytes);
  absl::StatusOr<SafetensorsFile> OpenAuxiliaryFile(absl::string_view name, absl::string_view kind) const;

  // Recomputes every hash; reports missing, corrupted and invalid files, and
  // NaN/Inf values when `check_finite`.
  VerifyReport Verify(bool check_finite) const;

  absl::StatusOr<SafetensorsFile> OpenExpertFile(absl::string_view name) const;
  absl::StatusOr<ExpertWeights> LoadExpert(absl::string_view name) const;

  std::string PathOf(const std::string& file_name) const { return dir_ + "/" + file_name; }

 private:
  explicit ExpertLibrary(std::string dir);
  absl::StatusOr<Manifest> ReadManifest() const;
  absl::Status WriteManifest(const Manifest& manifest) const;
  // Removes what writers killed mid-write left: temporaries of processes no
  // longer running and auxiliary files `manifest` does not reference. Every
  // writer calls it holding the lock.
  void SweepInterruptedWrites(const Manifest& manifest) const;
  absl::Status Fail(absl::string_view what) const;
  // Add's second half, for an expert whose content `file` has been
  // validated: checks it against the library, then `write` passes the same
  // bytes, chunk by chunk, to `emit`, which hashes, counts and stores them.
  using ChunkSink = std::function<absl::Status(absl::string_view chunk)>;
  using ContentWriter = std::function<absl::Status(const ChunkSink& emit)>;
  absl::StatusOr<ExpertRecord> AddValidated(ExpertRecord record, const SafetensorsFile& file,
                                            const ContentWriter& write);

  std::string dir_;
  std::string manifest_path_;
  Manifest manifest_;
};

}  // namespace libra

#endif  // LIBRA_CORE_LIBRARY_EXPERT_LIBRARY_H_
