// `libra export-peft DIR NAME OUT_DIR`: writes a library LoRA expert as a
// PEFT adapter folder (src/core/peft/peft_export.h).
#include <cstdio>
#include <string>
#include <vector>

#include "src/cli/command.h"
#include "src/core/library/expert_library.h"
#include "src/core/peft/peft_export.h"

namespace libra::cli {

int RunExportPeft(const std::vector<std::string>& args) {
  if (args.size() != 3) return UsageError("usage: libra export-peft DIR NAME OUT_DIR");
  absl::StatusOr<ExpertLibrary> library = ExpertLibrary::Open(args[0]);
  if (!library.ok()) return ReportError(library.status());
  if (absl::Status status = ExportPeftAdapter(*library, args[1], args[2]); !status.ok()) {
    return ReportError(status);
  }
  std::printf("exported \"%s\" to %s (adapter_config.json, adapter_model.safetensors)\n", args[1].c_str(),
              args[2].c_str());
  return kExitOk;
}

}  // namespace libra::cli
