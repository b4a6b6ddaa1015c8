#include "src/data/images/mnist_json.h"

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "src/core/io/atomic_file.h"
#include "src/core/status_macros.h"

namespace libra::data {
namespace {

constexpr int kSide = 28;
constexpr int kDigits = 10;

absl::Status AppendDigitFile(const std::string& path, int digit, ImageSet& set) {
  LIBRA_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  nlohmann::json doc = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object() || !doc.contains("data") ||
      !doc["data"].is_array()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": expected {\"data\": [numbers]}"));
  }
  const nlohmann::json& data = doc["data"];
  if (data.empty() || data.size() % (kSide * kSide) != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": ", data.size(), " values is not a positive multiple of ", kSide * kSide));
  }
  for (const nlohmann::json& v : data) {
    if (!v.is_number() || v.get<double>() < 0.0 || v.get<double>() > 1.0) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": pixel ", v.dump(), " is not a number in [0, 1]"));
    }
    set.pixels.push_back(v.get<float>());
  }
  set.labels.insert(set.labels.end(), data.size() / (kSide * kSide), digit);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ImageSet> ReadMnistDigits(const std::string& package_dir) {
  ImageSet set;
  set.rows = kSide;
  set.cols = kSide;
  for (int d = 0; d < kDigits; ++d) {
    LIBRA_RETURN_IF_ERROR(
        AppendDigitFile(absl::StrCat(package_dir, "/src/digits/", d, ".json"), d, set));
  }
  return set;
}

}  // namespace libra::data
