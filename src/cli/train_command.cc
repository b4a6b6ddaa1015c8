// `libra train`: trains one adapter on a base model from Flan-style JSONL
// (source/target/task_name) and writes it as an expert safetensors file, or
// (--full_checkpoint) merges it into a full Hugging Face checkpoint folder.
//
//   libra train --base models/tiny --data train.jsonl --task sort --type lora --rank 8
//     --target_modules q_proj,v_proj --steps 500 --out experts/sort.safetensors  (one line)
//   libra train ... --resume        # continue from <out>.ckpt.safetensors
//   libra train ... --type sparse --keep_ratio 0.05 --mask_scope global --mask_block 16
//     --mask_update_every 20       # sparse adapter (paper (b), src/nn/sparse_adapter.h)
//   libra train ... --type mope --experts 8 --rank 4 --router pe|pt|posterior [--tau 1]
//     [--kl_weight 1]              # mixture of LoRA experts with a learned router
//                                  # (paper (d), src/nn/mope.h); eval/generate load it
//
// Writes <out>.ckpt.safetensors (resumable state) every --checkpoint_every
// steps and <out>.metrics.jsonl (one JSON line per logged step). A NaN loss
// stops with exit 1 and keeps the last good checkpoint.
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "src/cli/command.h"
#include "src/cli/common_flags.h"
#include "src/cli/model_session.h"
#include "src/core/status_macros.h"
#include "src/nn/adapters.h"
#include "src/nn/checkpoint.h"
#include "src/nn/examples.h"
#include "src/nn/expert.h"
#include "src/nn/mope.h"
#include "src/nn/sparse_adapter.h"
#include "src/nn/trainer.h"
// Data parallel (--nproc, or RANK/WORLD_SIZE from torchrun).
#include "src/nn/distributed.h"
#include "src/nn/launcher.h"
#include "src/nn/task_sharding.h"

ABSL_FLAG(double, lora_alpha, 16.0, "LoRA alpha (scale alpha / rank).");
ABSL_FLAG(double, lora_dropout, 0.0, "LoRA dropout on the adapter input.");
ABSL_FLAG(bool, rslora, false, "rsLoRA scaling alpha / sqrt(rank).");
ABSL_FLAG(std::vector<std::string>, target_modules, std::vector<std::string>({"q_proj", "v_proj"}),
          "Module name suffixes to adapt (PEFT target_modules).");
ABSL_FLAG(std::string, target_regex, "", "Regex over full module names (instead of suffixes).");
ABSL_FLAG(double, lr, 1e-4, "Peak learning rate.");
ABSL_FLAG(double, weight_decay, 0.0, "AdamW decoupled weight decay.");
ABSL_FLAG(double, lora_a_weight_decay, -1.0, "Weight decay of LoRA A (< 0: --weight_decay).");
ABSL_FLAG(int64_t, warmup_steps, 0, "Linear warmup steps.");
ABSL_FLAG(std::string, schedule, "cosine", "Decay after warmup: cosine, linear or constant.");
ABSL_FLAG(double, max_grad_norm, 1.0, "Gradient clipping norm (<= 0: off).");
ABSL_FLAG(int64_t, batch_size, 8, "Examples per micro-batch.");
ABSL_FLAG(int64_t, grad_accum, 1, "Micro-batches per optimizer step.");
ABSL_FLAG(int64_t, steps, 0, "Optimizer steps (0: --epochs over the data).");
ABSL_FLAG(double, epochs, 1.0, "Passes over the data when --steps is 0.");
ABSL_FLAG(int64_t, checkpoint_every, 100, "Steps between resumable checkpoints.");
ABSL_FLAG(bool, resume, false, "Continue from <out>.ckpt.safetensors when it exists.");
ABSL_FLAG(int64_t, log_every, 10, "Steps between metrics lines.");
ABSL_FLAG(int, nproc, 1,
          "Data-parallel processes on this machine (Gloo on 127.0.0.1); --batch_size is per "
          "process. Launchers like torchrun set RANK/WORLD_SIZE instead.");
ABSL_FLAG(std::string, mask_scope, "layer",
          "Sparse adapter: top keep_ratio per module (layer) or over all modules (global).");
ABSL_FLAG(int, mask_block, 1, "Sparse adapter mask unit: 1 (single entries) or 16 (16x16 blocks).");
ABSL_FLAG(int64_t, mask_update_every, 0,
          "Sparse adapter: recompute the mask every K steps during the first epoch (0: once).");
ABSL_FLAG(int64_t, mask_calibration_batches, 1,
          "Sparse adapter: micro-batches whose gradients score the mask.");
ABSL_FLAG(double, tau, 1.0, "MoPE: the routers' softmax temperature (> 0).");
ABSL_FLAG(double, kl_weight, 1.0, "MoPE posterior router: weight of KL(q || p) in the loss.");
ABSL_FLAG(bool, full_checkpoint, false,
          "Write base + adapter merged as a Hugging Face checkpoint folder at --out.");

namespace libra::cli {
namespace {

// --type mope: --experts is the number of experts per module (default 8),
// --rank theirs (default 4), --router the routing (pe, pt or posterior).
absl::StatusOr<nn::MopeOptions> MopeOptionsFromFlags() {
  nn::MopeOptions options;
  const std::vector<std::string> experts = absl::GetFlag(FLAGS_experts);
  if (experts.size() > 1 || (experts.size() == 1 && !absl::SimpleAtoi(experts[0], &options.experts))) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--experts: with --type mope, the number of experts per module (e.g. 8), got \"",
        absl::StrJoin(experts, ","), "\""));
  }
  if (absl::GetFlag(FLAGS_rank) != 0) options.lora.rank = absl::GetFlag(FLAGS_rank);
  options.lora.alpha = absl::GetFlag(FLAGS_lora_alpha);
  options.lora.use_rslora = absl::GetFlag(FLAGS_rslora);
  const std::string router = absl::GetFlag(FLAGS_router);
  LIBRA_ASSIGN_OR_RETURN(options.router, nn::ParseMopeRouter(router.empty() ? "pe" : router));
  options.temperature = absl::GetFlag(FLAGS_tau);
  options.kl_weight = absl::GetFlag(FLAGS_kl_weight);
  options.targets.names = absl::GetFlag(FLAGS_target_modules);
  options.targets.regex = absl::GetFlag(FLAGS_target_regex);
  LIBRA_RETURN_IF_ERROR(nn::CheckMopeOptions(options));
  if (absl::GetFlag(FLAGS_full_checkpoint)) {
    return absl::InvalidArgumentError(
        "--full_checkpoint: a routed mixture cannot be merged into the base; write it as a "
        "mixture file (--out M.safetensors) and load it with libra eval --expert_file M.safetensors");
  }
  return options;
}

absl::Status Train(int* exit_code) {
  const std::string out = absl::GetFlag(FLAGS_out);
  if (out.empty()) {
    *exit_code = kExitUsage;
    return absl::InvalidArgumentError("--out is required (expert .safetensors file or folder)");
  }
  std::string type = absl::GetFlag(FLAGS_type).empty() ? "lora" : absl::GetFlag(FLAGS_type);
  if (type == "delta") type = "full";
  const bool mope = type == "mope";
  nn::MopeOptions mope_options;
  if (mope) {
    absl::StatusOr<nn::MopeOptions> parsed = MopeOptionsFromFlags();
    if (!parsed.ok()) {
      *exit_code = kExitUsage;
      return parsed.status();
    }
    mope_options = *std::move(parsed);
  } else if (!absl::GetFlag(FLAGS_router).empty() || !absl::GetFlag(FLAGS_experts).empty()) {
    *exit_code = kExitUsage;
    return absl::InvalidArgumentError("--router and --experts are flags of --type mope");
  }
  nn::AdapterConfig adapter;
  if (!mope) {
    auto kind = nn::ParseAdapterKind(type);
    if (!kind.ok()) {
      *exit_code = kExitUsage;
      return kind.status();
    }
    adapter.kind = *kind;
  }
  adapter.lora.rank = absl::GetFlag(FLAGS_rank) == 0 ? 8 : absl::GetFlag(FLAGS_rank);
  adapter.lora.alpha = absl::GetFlag(FLAGS_lora_alpha);
  adapter.lora.dropout = absl::GetFlag(FLAGS_lora_dropout);
  adapter.lora.use_rslora = absl::GetFlag(FLAGS_rslora);
  if (adapter.kind == nn::AdapterKind::kSparse) {
    auto scope = nn::ParseMaskScope(absl::GetFlag(FLAGS_mask_scope));
    if (!scope.ok()) {
      *exit_code = kExitUsage;
      return scope.status();
    }
    adapter.sparse.scope = *scope;
    adapter.sparse.keep_ratio =
        absl::GetFlag(FLAGS_keep_ratio) == 0 ? 0.05 : absl::GetFlag(FLAGS_keep_ratio);
    adapter.sparse.block_size = absl::GetFlag(FLAGS_mask_block);
    adapter.sparse.update_every = absl::GetFlag(FLAGS_mask_update_every);
    adapter.sparse.calibration_batches = absl::GetFlag(FLAGS_mask_calibration_batches);
    if (absl::Status s = nn::CheckSparseOptions(adapter.sparse); !s.ok()) {
      *exit_code = kExitUsage;
      return s;
    }
    // The mask is chosen while training and is not part of the resumable
    // state; data-parallel ranks would score different batches.
    if (absl::GetFlag(FLAGS_resume) || absl::GetFlag(FLAGS_nproc) > 1) {
      *exit_code = kExitUsage;
      return absl::InvalidArgumentError(
          "--type sparse does not support --resume or --nproc > 1 (the mask is not resumable "
          "state and would differ across ranks)");
    }
  }
  adapter.targets.names = absl::GetFlag(FLAGS_target_modules);
  adapter.targets.regex = absl::GetFlag(FLAGS_target_regex);
  nn::TrainOptions options;
  {
    auto schedule = nn::ParseSchedule(absl::GetFlag(FLAGS_schedule));
    if (!schedule.ok()) {
      *exit_code = kExitUsage;
      return schedule.status();
    }
    options.schedule = *schedule;
  }
  const std::string data_path = absl::GetFlag(FLAGS_data);
  LIBRA_ASSIGN_OR_RETURN(std::vector<data::FlanExample> examples,
                         ReadExamples(data_path, absl::GetFlag(FLAGS_task), absl::GetFlag(FLAGS_split)));
  LIBRA_ASSIGN_OR_RETURN(ModelSession session,
                         LoadModelSession(absl::GetFlag(FLAGS_base), absl::GetFlag(FLAGS_device)));
  std::vector<nn::TokenizedExample> tokenized;
  const int64_t max_length = absl::GetFlag(FLAGS_max_length);
  for (size_t i = 0; i < examples.size(); ++i) {
    auto ex = nn::EncodeExample(*session.tokenizer, examples[i].source, examples[i].target, max_length);
    if (!ex.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(data_path, ": example ", i + 1, ": ", ex.status().message()));
    }
    tokenized.push_back(*std::move(ex));
  }
  const uint64_t seed = static_cast<uint64_t>(absl::GetFlag(FLAGS_seed));
  std::vector<std::string> modules;
  nn::Mope attached_mope;
  if (mope) {
    LIBRA_ASSIGN_OR_RETURN(attached_mope, nn::AttachMope(*session.model, mope_options, seed));
    for (const auto& [module, router] : attached_mope.routers) modules.push_back(module);
    options.auxiliary_loss = attached_mope.AuxiliaryLoss();
  } else {
    LIBRA_ASSIGN_OR_RETURN(modules, nn::AttachAdapters(*session.model, adapter, seed));
  }
  // --- data parallel: rank r trains on examples r, r + N, ... (the same
  // count on every rank), gradients are averaged over the ranks after each
  // backward pass, and only rank 0 writes checkpoints, metrics and output.
  LIBRA_ASSIGN_OR_RETURN(nn::DistributedOptions dist_options,
                         nn::DistributedOptionsFromEnvironment());
  dist_options.device = session.device.is_cuda() ? "cuda" : "cpu";
  LIBRA_ASSIGN_OR_RETURN(std::unique_ptr<nn::DistributedContext> dist,
                         nn::DistributedContext::Create(dist_options));
  if (dist->is_distributed()) {
    if (absl::GetFlag(FLAGS_resume)) {
      *exit_code = kExitUsage;
      return absl::InvalidArgumentError(
          "--resume is not supported with several data-parallel processes");
    }
    LIBRA_ASSIGN_OR_RETURN(std::vector<size_t> shard,
                           nn::ExampleShard(tokenized.size(), dist->rank(), dist->world_size()));
    std::vector<nn::TokenizedExample> mine;
    for (size_t i : shard) mine.push_back(tokenized[i]);
    tokenized = std::move(mine);
    std::vector<torch::Tensor> trainable;
    for (auto& [name, parameter] : nn::TrainableParameters(*session.model)) {
      trainable.push_back(parameter);
    }
    LIBRA_RETURN_IF_ERROR(dist->BroadcastParameters(trainable));
    options.after_backward = [&dist](std::vector<torch::Tensor>& grads) {
      return dist->AllReduceMean(grads);
    };
  }
  // --- end data parallel
  options.learning_rate = absl::GetFlag(FLAGS_lr);
  options.weight_decay = absl::GetFlag(FLAGS_weight_decay);
  options.lora_a_weight_decay = absl::GetFlag(FLAGS_lora_a_weight_decay);
  options.warmup_steps = absl::GetFlag(FLAGS_warmup_steps);
  options.max_grad_norm = absl::GetFlag(FLAGS_max_grad_norm);
  options.batch_size = absl::GetFlag(FLAGS_batch_size);
  options.grad_accum = absl::GetFlag(FLAGS_grad_accum);
  options.max_steps = absl::GetFlag(FLAGS_steps);
  options.epochs = absl::GetFlag(FLAGS_epochs);
  options.seed = seed;
  options.device = session.device;
  const std::string stem(absl::StripSuffix(out, ".safetensors"));
  options.checkpoint_path = stem + ".ckpt.safetensors";
  options.checkpoint_every = absl::GetFlag(FLAGS_checkpoint_every);
  options.resume = absl::GetFlag(FLAGS_resume);
  options.metrics_path = stem + ".metrics.jsonl";
  options.log_every = absl::GetFlag(FLAGS_log_every);
  if (adapter.kind == nn::AdapterKind::kSparse) {
    options.before_step = nn::SparseMaskSchedule(*session.model, adapter.sparse);
  }
  if (!dist->is_main()) {  // data parallel: one writer
    options.checkpoint_path.clear();
    options.metrics_path.clear();
    options.progress = false;
  }
  if (dist->is_main()) {
    std::fprintf(stderr, "libra train: %zu examples, %s on %zu modules, device %s\n",
                 tokenized.size(), type.c_str(), modules.size(),
                 absl::GetFlag(FLAGS_device).c_str());
  }
  LIBRA_ASSIGN_OR_RETURN(nn::TrainStats stats, nn::Train(*session.model, tokenized, options));
  if (!dist->is_main()) return absl::OkStatus();  // data parallel: rank 0 writes
  if (absl::GetFlag(FLAGS_full_checkpoint)) {
    nn::MergeAdaptersIntoBase(*session.model);
    LIBRA_RETURN_IF_ERROR(nn::SaveCheckpoint(*session.model, out));
  } else {
    std::map<std::string, std::string> metadata = {
        {"name", absl::GetFlag(FLAGS_name)},
        {"base_model", absl::GetFlag(FLAGS_base)},
        {"adapter_type", type},
        {"tasks", absl::StrJoin(absl::GetFlag(FLAGS_task), ",")},
        {"target_modules", adapter.targets.regex.empty() ? absl::StrJoin(adapter.targets.names, ",")
                                                         : adapter.targets.regex},
        {"steps", absl::StrCat(stats.steps)},
        {"final_loss", absl::StrCat(stats.last_loss)},
        {"seed", absl::StrCat(seed)},
        {"learning_rate", absl::StrCat(options.learning_rate)}};
    if (mope) {
      LIBRA_RETURN_IF_ERROR(nn::SaveMope(*session.model, attached_mope, out, metadata));
    } else {
      if (adapter.kind == nn::AdapterKind::kLora) {
        metadata["lora_alpha"] = absl::StrCat(adapter.lora.alpha);
        metadata["use_rslora"] = adapter.lora.use_rslora ? "true" : "false";
      }
      if (adapter.kind == nn::AdapterKind::kSparse) {
        metadata["keep_ratio"] = absl::StrCat(adapter.sparse.keep_ratio);
        metadata["mask_scope"] = absl::GetFlag(FLAGS_mask_scope);
        metadata["mask_block"] = absl::StrCat(adapter.sparse.block_size);
        metadata["mask_update_every"] = absl::StrCat(adapter.sparse.update_every);
      }
      LIBRA_RETURN_IF_ERROR(nn::SaveExpert(out, nn::ExtractExpert(*session.model), metadata));
    }
  }
  if (absl::GetFlag(FLAGS_json)) {
    std::printf("{\"out\": \"%s\", \"steps\": %lld, \"final_loss\": %.6f}\n", out.c_str(),
                static_cast<long long>(stats.steps), stats.last_loss);
  } else {
    std::printf("trained %lld steps, final loss %.4f -> %s\n", static_cast<long long>(stats.steps),
                stats.last_loss, out.c_str());
  }
  return absl::OkStatus();
}

}  // namespace

int RunTrain(const std::vector<std::string>& args) {
  if (!args.empty()) return UsageError("libra train takes no positional arguments");
  // Data parallel: re-run this command as --nproc workers, unless this is one.
  const int nproc = absl::GetFlag(FLAGS_nproc);
  if (nproc < 1) return UsageError(absl::StrCat("--nproc must be at least 1, got ", nproc));
  if (nproc > 1 && !nn::IsLaunchedWorker()) {
    const absl::Status launched = nn::RelaunchSelf(nproc);
    return launched.ok() ? kExitOk : ReportError(launched);
  }
  int exit_code = kExitFailure;
  absl::Status status = Train(&exit_code);
  if (!status.ok()) return ReportError(status, exit_code);
  return kExitOk;
}

}  // namespace libra::cli
