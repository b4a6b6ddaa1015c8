#include "src/cli/common_flags.h"

#include "absl/flags/flag.h"

ABSL_FLAG(bool, json, false, "Print machine-readable JSON.");
ABSL_FLAG(int64_t, seed, 0, "Random seed.");
ABSL_FLAG(std::string, out, "", "Output name or path.");
ABSL_FLAG(std::string, name, "", "Expert name.");
ABSL_FLAG(std::string, base, "", "Base model name or folder.");
ABSL_FLAG(std::string, type, "", "Adapter type: lora, sparse, delta (full) or mope (train).");
ABSL_FLAG(std::vector<std::string>, task, {}, "Task names (comma-separated).");
ABSL_FLAG(std::string, device, "cpu", "Compute device: cpu or cuda.");
ABSL_FLAG(int, rank, 0, "LoRA rank.");
ABSL_FLAG(std::string, config, "", "Configuration file.");
ABSL_FLAG(std::vector<std::string>, experts, {},
          "Expert names (comma-separated); train --type mope: experts per module.");
ABSL_FLAG(bool, all, false, "Every expert of the library.");
ABSL_FLAG(std::string, method, "", "Method name (merge: linear, ties, ...).");
ABSL_FLAG(std::string, mode, "delta", "LoRA handling (merge: delta, ab or svd).");
ABSL_FLAG(std::vector<std::string>, weights, {}, "One weight per expert (comma-separated).");
ABSL_FLAG(double, alpha, 0, "LoRA alpha (0: the file's lora_alpha/lora_scale metadata, else the rank).");
ABSL_FLAG(bool, use_rslora, false, "rsLoRA scaling alpha / sqrt(r) instead of alpha / r.");
ABSL_FLAG(double, keep_ratio, 0, "Sparse adapters: fraction of entries kept (0: computed).");
ABSL_FLAG(std::string, data, "", "Flan-style JSONL data (source, target, task_name).");
ABSL_FLAG(std::string, split, "", "Only examples of this split (train, validation, test); empty: all.");
ABSL_FLAG(std::vector<std::string>, expert_file, {},
          "Expert safetensors files to apply (several: a mixture).");
ABSL_FLAG(std::string, mixing, "output", "Expert mixture: output or parameter mixing.");
ABSL_FLAG(int64_t, max_new_tokens, 64, "Greedy generation: most tokens generated.");
ABSL_FLAG(int64_t, max_length, 512, "Most tokens per example (the prompt is cut from the left).");
ABSL_FLAG(int, k, 0, "Number of clusters (cluster: MBC's k).");
ABSL_FLAG(int, top_k, 0,
          "How many to keep (0: the command's default): arrow, singular vectors per module (1); "
          "eval and generate with --router arrow, experts per token (4, the paper's k).");
ABSL_FLAG(std::string, library, "", "An expert library folder whose experts eval and generate apply.");
ABSL_FLAG(std::string, router, "",
          "How a mixture is routed: uniform, weights (--weights) or arrow (per token, top --top_k); "
          "default: weights when given, else uniform.");
