#include "src/cli/command.h"

#include <cstdio>

namespace libra::cli {

// Each command's Run lives in its <name>_command.cc.
int RunVersion(const std::vector<std::string>& args);
int RunMerge(const std::vector<std::string>& args);
int RunArrow(const std::vector<std::string>& args);
int RunCluster(const std::vector<std::string>& args);

absl::Span<const Command> AllCommands() {
  static const Command kCommands[] = {
      {"version", "Print libra's version.", "libra version", "src/cli/commands.cc", "", RunVersion},
      {"merge", "Merge experts: linear, uniform, task_arithmetic, ties, dare, breadcrumbs, sparse_overlap.",
       "libra merge DIR --experts a,b,c | --all | --files F1,F2 --method M [--weights ..] "
       "[--density ..] [--lambda ..] [--seed ..] [--mode delta|ab|svd] [--rank R] [--normalize] "
       "--out NAME | --out-file F.safetensors | --out-peft DIR; or libra merge [DIR] --config merge.yaml",
       "src/cli/merge_command.cc", "json,seed,out,base,rank,config,experts,all,method,mode,weights",
       RunMerge},
      {"arrow", "Compute Arrow prototypes for every LoRA expert that lacks them or changed.",
       "libra arrow DIR [--top-k K] [--json]", "src/cli/arrow_command.cc", "json,top_k", RunArrow},
      {"cluster", "Cluster LoRA experts by their parameters (MBC) and store the clusters.",
       "libra cluster DIR --k K [--sparsity-quantile Q] [--embedding-dims D] [--restarts R] "
       "[--seed S] [--json]",
       "src/cli/cluster_command.cc", "json,seed,k", RunCluster},
  };
  return kCommands;
}

int RunVersion(const std::vector<std::string>&) {
  std::printf("libra 0.1.0\n");
  return kExitOk;
}

}  // namespace libra::cli
