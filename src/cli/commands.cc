#include "src/cli/command.h"

#include <cstdio>

namespace libra::cli {

// Each command's Run lives in its <name>_command.cc.
int RunVersion(const std::vector<std::string>& args);
int RunMerge(const std::vector<std::string>& args);
int RunLibrary(const std::vector<std::string>& args);
int RunExportPeft(const std::vector<std::string>& args);
int RunArrow(const std::vector<std::string>& args);
int RunCluster(const std::vector<std::string>& args);

// This file is compiled twice (BUILD): for `libra`, which must not load
// LibTorch, the LibTorch commands have no Run here and main.cc runs them in
// `libra-nn` beside it; for `libra-nn`, every command runs in-process.
#ifdef LIBRA_CLI_TORCH_FREE
#define LIBRA_TORCH_COMMAND(run) nullptr
#else
int RunTrain(const std::vector<std::string>& args);
int RunEval(const std::vector<std::string>& args);
int RunGenerate(const std::vector<std::string>& args);
#define LIBRA_TORCH_COMMAND(run) run
#endif

absl::Span<const Command> AllCommands() {
  static const Command kCommands[] = {
      {"version", "Print libra's version.", "libra version", "src/cli/commands.cc", "", RunVersion},
      {"merge", "Merge experts: linear, uniform, task_arithmetic, ties, dare, breadcrumbs, sparse_overlap.",
       "libra merge DIR --experts a,b,c | --all | --files F1,F2 --method M [--weights ..] "
       "[--density ..] [--lambda ..] [--seed ..] [--mode delta|ab|svd] [--rank R] [--normalize] "
       "--out NAME | --out-file F.safetensors | --out-peft DIR; or libra merge [DIR] --config merge.yaml",
       "src/cli/merge_command.cc", "json,seed,out,base,rank,config,experts,all,method,mode,weights",
       RunMerge},
      {"library", "Create, fill, list, show, remove from and verify an expert library.",
       "libra library create DIR --base NAME | add DIR --name N (--peft PEFT_DIR | --tensors F "
       "[--type lora|sparse|delta]) [--task T ...] | ls DIR [--json] | show DIR NAME | rm DIR NAME | "
       "verify DIR [--check-finite]",
       "src/cli/library_command.cc", "json,name,base,type,task,rank,alpha,use_rslora,keep_ratio", RunLibrary},
      {"export-peft", "Write a library LoRA expert as a PEFT adapter folder.",
       "libra export-peft DIR NAME OUT_DIR", "src/cli/export_peft_command.cc", "", RunExportPeft},
      {"train", "Train an adapter (lora, full, sparse, mope) on Flan-style JSONL; write an expert file or checkpoint.",
       "libra train --base DIR --data F.jsonl [--task T] [--type lora|full|sparse|mope] [--rank R] "
       "[--keep_ratio K --mask_scope layer|global --mask_block 1|16 --mask_update_every N] "
       "[--experts E --router pe|pt|posterior --tau T --kl_weight L] "
       "[--target_modules q_proj,v_proj] [--steps N | --epochs E] [--lr ..] [--resume] "
       "--out EXPERT.safetensors | --full_checkpoint --out DIR",
       "src/cli/train_command.cc",
       "json,seed,out,name,base,type,task,device,rank,data,split,max_length,keep_ratio,experts,router",
       LIBRA_TORCH_COMMAND(RunTrain)},
      {"eval", "Evaluate a model, expert or mixture: exact match, ROUGE-L, token accuracy.",
       "libra eval --base DIR --data F.jsonl [--task T] [--split test] [--expert_file A[,B..] | "
       "--library DIR --experts a,b.. | --all] [--router uniform|weights|arrow] [--top_k K] "
       "[--mixing output|parameter] [--weights ..] [--json]",
       "src/cli/eval_command.cc",
       "json,base,task,device,weights,data,split,expert_file,mixing,max_new_tokens,max_length,"
       "library,experts,all,router,top_k",
       LIBRA_TORCH_COMMAND(RunEval)},
      {"generate", "Greedy generation from prompts with a model, expert or mixture.",
       "libra generate --base DIR [--expert_file A[,B..] | --library DIR --experts a,b.. | --all] "
       "[--router uniform|weights|arrow] [--top_k K] [--show_routing] [--json] PROMPT...",
       "src/cli/generate_command.cc",
       "json,base,device,weights,expert_file,mixing,max_new_tokens,max_length,library,experts,all,router,top_k",
       LIBRA_TORCH_COMMAND(RunGenerate)},
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
