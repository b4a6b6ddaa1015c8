#include "src/cli/common_flags.h"

#include "absl/flags/flag.h"

ABSL_FLAG(bool, json, false, "Print machine-readable JSON.");
ABSL_FLAG(int64_t, seed, 0, "Random seed.");
ABSL_FLAG(std::string, out, "", "Output name or path.");
ABSL_FLAG(std::string, name, "", "Expert name.");
ABSL_FLAG(std::string, base, "", "Base model name or folder.");
ABSL_FLAG(std::string, type, "", "Adapter type: lora, sparse or delta.");
ABSL_FLAG(std::vector<std::string>, task, {}, "Task names (comma-separated).");
ABSL_FLAG(std::string, device, "cpu", "Compute device: cpu or cuda.");
ABSL_FLAG(int, rank, 0, "LoRA rank.");
ABSL_FLAG(std::string, config, "", "Configuration file.");
ABSL_FLAG(std::vector<std::string>, experts, {}, "Expert names (comma-separated).");
ABSL_FLAG(bool, all, false, "Every expert of the library.");
ABSL_FLAG(std::string, method, "", "Method name (merge: linear, ties, ...).");
ABSL_FLAG(std::string, mode, "delta", "LoRA handling (merge: delta, ab or svd).");
ABSL_FLAG(std::vector<std::string>, weights, {}, "One weight per expert (comma-separated).");
ABSL_FLAG(int, k, 0, "Number of clusters (cluster: MBC's k).");
ABSL_FLAG(int, top_k, 1, "How many top singular vectors / experts to keep (arrow: prototypes per module).");
