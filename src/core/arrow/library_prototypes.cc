#include "src/core/arrow/library_prototypes.h"

#include "absl/strings/str_cat.h"
#include "src/core/status_macros.h"

namespace libra::arrow {

absl::StatusOr<std::vector<LibraryRefresh>> RefreshLibraryPrototypes(ExpertLibrary& library,
                                                                     int top_k) {
  if (top_k < 1) {
    return absl::InvalidArgumentError(absl::StrCat("arrow: top_k must be >= 1, got ", top_k));
  }
  std::vector<LibraryRefresh> done;
  const std::vector<ExpertRecord> records = library.List();  // a copy: the manifest changes
  for (const ExpertRecord& record : records) {
    LibraryRefresh entry{record.name, RefreshOutcome::kNotLora, 0};
    if (record.type != AdapterType::kLora) {
      done.push_back(entry);
      continue;
    }
    if (record.auxiliary_files.count(kPrototypesAuxiliaryKind)) {
      absl::StatusOr<SafetensorsFile> existing =
          library.OpenAuxiliaryFile(record.name, kPrototypesAuxiliaryKind);
      if (existing.ok() && PrototypesUpToDate(*existing, record.sha256, top_k)) {
        entry.outcome = RefreshOutcome::kUpToDate;
        entry.modules = static_cast<int>(ReadExpertPrototypes(*existing)->modules.size());
        done.push_back(entry);
        continue;
      }
    }
    auto in_expert = [&record](const absl::Status& status) {
      return absl::Status(status.code(),
                          absl::StrCat("expert \"", record.name, "\": ", status.message()));
    };
    absl::StatusOr<SafetensorsFile> file = library.OpenExpertFile(record.name);
    if (!file.ok()) return in_expert(file.status());
    const LoraParams& lora = record.lora;
    absl::StatusOr<ExpertPrototypes> prototypes = ComputeFilePrototypes(
        *file, record.sha256, top_k,
        [&lora](const std::string& module, int64_t rank) { return lora.ScaleOf(module, rank); });
    if (!prototypes.ok()) return in_expert(prototypes.status());
    absl::StatusOr<std::string> bytes = SerializeExpertPrototypes(*prototypes);
    if (!bytes.ok()) return in_expert(bytes.status());
    if (absl::Status s = library.SetAuxiliaryFile(record.name, kPrototypesAuxiliaryKind,
                                                  *std::move(bytes));
        !s.ok()) {
      return in_expert(s);
    }
    entry.outcome = RefreshOutcome::kComputed;
    entry.modules = static_cast<int>(prototypes->modules.size());
    done.push_back(entry);
  }
  return done;
}

absl::StatusOr<ExpertPrototypes> LoadLibraryPrototypes(const ExpertLibrary& library,
                                                       absl::string_view expert) {
  LIBRA_ASSIGN_OR_RETURN(ExpertRecord record, library.Show(expert));
  absl::StatusOr<SafetensorsFile> file =
      library.OpenAuxiliaryFile(expert, kPrototypesAuxiliaryKind);
  if (absl::IsNotFound(file.status())) {
    return absl::FailedPreconditionError(absl::StrCat(
        "expert \"", expert, "\" has no Arrow prototypes; run libra arrow ", library.dir()));
  }
  if (!file.ok()) return file.status();
  LIBRA_ASSIGN_OR_RETURN(ExpertPrototypes prototypes, ReadExpertPrototypes(*file));
  if (prototypes.source_hash != record.sha256) {
    return absl::FailedPreconditionError(absl::StrCat(
        "expert \"", expert, "\": Arrow prototypes are stale (computed for sha256 ",
        prototypes.source_hash, ", file is ", record.sha256, "); run libra arrow ",
        library.dir()));
  }
  return prototypes;
}

}  // namespace libra::arrow
