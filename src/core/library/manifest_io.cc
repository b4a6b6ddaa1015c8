#include "src/core/library/manifest_io.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "src/core/status_macros.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "src/proto/library.pb.h"

namespace libra {
namespace {

void ToProto(const ExpertRecord& expert, proto::Expert* out) {
  out->set_name(expert.name);
  out->set_adapter_type(AdapterTypeName(expert.type));
  if (expert.type == AdapterType::kLora) {
    proto::LoraParams* lora = out->mutable_lora();
    lora->set_rank(expert.lora.rank);
    lora->set_alpha(expert.lora.alpha);
    lora->set_use_rslora(expert.lora.use_rslora);
    for (const auto& [module, rank] : expert.lora.module_rank) (*lora->mutable_module_rank())[module] = rank;
    for (const auto& [module, alpha] : expert.lora.module_alpha) {
      (*lora->mutable_module_alpha())[module] = alpha;
    }
  }
  if (expert.type == AdapterType::kSparse) out->mutable_sparse()->set_keep_ratio(expert.sparse.keep_ratio);
  for (const std::string& module : expert.target_modules) out->add_target_modules(module);
  for (const std::string& task : expert.tasks) out->add_tasks(task);
  for (const auto& [key, value] : expert.training_config) (*out->mutable_training_config())[key] = value;
  for (const auto& [key, value] : expert.metrics) (*out->mutable_metrics())[key] = value;
  out->set_file_name(expert.file_name);
  out->set_sha256(expert.sha256);
  out->set_file_size(expert.file_size);
  out->set_dtype(expert.dtype);
  out->set_num_parameters(expert.num_parameters);
  out->set_created_unix_ms(expert.created_unix_ms);
  for (const auto& [kind, file] : expert.auxiliary_files) {
    proto::AuxiliaryFile& aux = (*out->mutable_auxiliary_files())[kind];
    aux.set_file_name(file.file_name);
    aux.set_sha256(file.sha256);
  }
  if (expert.merge.has_value()) {
    proto::MergeInfo* merge = out->mutable_merge();
    merge->set_method(expert.merge->method);
    for (const auto& [key, value] : expert.merge->parameters) (*merge->mutable_parameters())[key] = value;
    for (const std::string& source : expert.merge->source_experts) merge->add_source_experts(source);
    for (double weight : expert.merge->source_weights) merge->add_source_weights(weight);
  }
}

absl::StatusOr<ExpertRecord> FromProto(const proto::Expert& in) {
  ExpertRecord expert;
  expert.name = in.name();
  LIBRA_ASSIGN_OR_RETURN(expert.type, ParseAdapterType(in.adapter_type()));
  expert.lora.rank = in.lora().rank();
  expert.lora.alpha = in.lora().alpha();
  expert.lora.use_rslora = in.lora().use_rslora();
  expert.lora.module_rank.insert(in.lora().module_rank().begin(), in.lora().module_rank().end());
  expert.lora.module_alpha.insert(in.lora().module_alpha().begin(), in.lora().module_alpha().end());
  expert.sparse.keep_ratio = in.sparse().keep_ratio();
  expert.target_modules.assign(in.target_modules().begin(), in.target_modules().end());
  expert.tasks.assign(in.tasks().begin(), in.tasks().end());
  expert.training_config.insert(in.training_config().begin(), in.training_config().end());
  expert.metrics.insert(in.metrics().begin(), in.metrics().end());
  expert.file_name = in.file_name();
  expert.sha256 = in.sha256();
  expert.file_size = in.file_size();
  expert.dtype = in.dtype();
  expert.num_parameters = in.num_parameters();
  expert.created_unix_ms = in.created_unix_ms();
  for (const auto& [kind, file] : in.auxiliary_files()) {
    expert.auxiliary_files[kind] = AuxiliaryFile{file.file_name(), file.sha256()};
  }
  if (in.has_merge()) {
    MergeInfo merge;
    merge.method = in.merge().method();
    merge.parameters.insert(in.merge().parameters().begin(), in.merge().parameters().end());
    merge.source_experts.assign(in.merge().source_experts().begin(), in.merge().source_experts().end());
    merge.source_weights.assign(in.merge().source_weights().begin(), in.merge().source_weights().end());
    expert.merge = std::move(merge);
  }
  return expert;
}

}  // namespace

std::string SerializeManifest(const Manifest& manifest) {
  proto::Library library;
  library.set_format_version(manifest.format_version);
  library.set_name(manifest.name);
  library.set_base_model(manifest.base_model);
  for (const auto& [module, shape] : manifest.module_shapes) {
    proto::ModuleShape& out = (*library.mutable_module_shapes())[module];
    out.set_out_features(shape.out_features);
    out.set_in_features(shape.in_features);
  }
  for (const ExpertRecord& expert : manifest.experts) ToProto(expert, library.add_experts());
  library.set_created_unix_ms(manifest.created_unix_ms);
  std::string bytes;
  google::protobuf::io::StringOutputStream stream(&bytes);
  google::protobuf::io::CodedOutputStream coded(&stream);
  coded.SetSerializationDeterministic(true);
  library.SerializeToCodedStream(&coded);
  coded.Trim();
  return bytes;
}

absl::StatusOr<Manifest> ParseManifest(absl::string_view bytes, absl::string_view label) {
  proto::Library library;
  if (!library.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return absl::DataLossError(absl::StrCat("manifest is not a valid library.pb (", label, ")"));
  }
  Manifest manifest;
  manifest.format_version = library.format_version();
  manifest.name = library.name();
  manifest.base_model = library.base_model();
  for (const auto& [module, shape] : library.module_shapes()) {
    manifest.module_shapes[module] = ModuleShape{shape.out_features(), shape.in_features()};
  }
  for (const proto::Expert& expert : library.experts()) {
    absl::StatusOr<ExpertRecord> record = FromProto(expert);
    if (!record.ok()) {
      return absl::DataLossError(absl::StrCat("expert \"", expert.name(), "\": ",
                                              record.status().message(), " (", label, ")"));
    }
    manifest.experts.push_back(*std::move(record));
  }
  manifest.created_unix_ms = library.created_unix_ms();
  LIBRA_RETURN_IF_ERROR(ValidateManifest(manifest, label));
  return manifest;
}

}  // namespace libra
