// Flags shared by several `libra` commands. abseil flags are global, so a
// name used by two commands is defined once here and declared where used.
// A command lists the shared flags it reads in Command::shared_flags so that
// `libra CMD --help` shows them.
#ifndef LIBRA_CLI_COMMON_FLAGS_H_
#define LIBRA_CLI_COMMON_FLAGS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/flags/declare.h"

ABSL_DECLARE_FLAG(bool, json);
ABSL_DECLARE_FLAG(int64_t, seed);
ABSL_DECLARE_FLAG(std::string, out);
ABSL_DECLARE_FLAG(std::string, name);
ABSL_DECLARE_FLAG(std::string, base);
ABSL_DECLARE_FLAG(std::string, type);
ABSL_DECLARE_FLAG(std::vector<std::string>, task);
ABSL_DECLARE_FLAG(std::string, device);
ABSL_DECLARE_FLAG(int, rank);
ABSL_DECLARE_FLAG(std::string, config);
ABSL_DECLARE_FLAG(std::vector<std::string>, experts);
ABSL_DECLARE_FLAG(bool, all);
ABSL_DECLARE_FLAG(std::string, method);
ABSL_DECLARE_FLAG(std::string, mode);
ABSL_DECLARE_FLAG(std::vector<std::string>, weights);

ABSL_DECLARE_FLAG(double, alpha);
ABSL_DECLARE_FLAG(bool, use_rslora);
ABSL_DECLARE_FLAG(double, keep_ratio);
ABSL_DECLARE_FLAG(std::string, data);
ABSL_DECLARE_FLAG(std::string, split);
ABSL_DECLARE_FLAG(std::vector<std::string>, expert_file);
ABSL_DECLARE_FLAG(std::string, mixing);
ABSL_DECLARE_FLAG(int64_t, max_new_tokens);
ABSL_DECLARE_FLAG(int64_t, max_length);
ABSL_DECLARE_FLAG(int, k);
ABSL_DECLARE_FLAG(int, top_k);
ABSL_DECLARE_FLAG(std::string, library);
ABSL_DECLARE_FLAG(std::string, router);

#endif  // LIBRA_CLI_COMMON_FLAGS_H_
