#include "src/core/merge/mask_overlap.h"

#include <algorithm>
#include <cstdlib>

#include "absl/strings/str_cat.h"

namespace libra::merge {
namespace {

int64_t DenseSize(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

// The mask's indices, ascending, checked against its shape.
absl::StatusOr<std::vector<int64_t>> SortedIndices(const SparseDelta& mask, const std::string& where) {
  std::vector<int64_t> indices = mask.indices;
  std::sort(indices.begin(), indices.end());
  const int64_t size = DenseSize(mask.shape);
  for (size_t i = 0; i < indices.size(); ++i) {
    if (indices[i] < 0 || indices[i] >= size) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": mask index ", indices[i],
                                                     " outside [0, ", size, ")"));
    }
    if (i > 0 && indices[i] == indices[i - 1]) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": mask index ", indices[i], " repeated"));
    }
  }
  return indices;
}

absl::Status SameShape(const SparseDelta& a, const SparseDelta& b, const std::string& where) {
  if (a.shape == b.shape) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(where, ": mask shapes differ: ", ShapeToString(a.shape),
                                                 " and ", ShapeToString(b.shape)));
}

absl::StatusOr<MaskOverlap> Compare(const SparseDelta& a, const SparseDelta& b, const std::string& where) {
  if (absl::Status s = SameShape(a, b, where); !s.ok()) return s;
  absl::StatusOr<std::vector<int64_t>> x = SortedIndices(a, where);
  if (!x.ok()) return x.status();
  absl::StatusOr<std::vector<int64_t>> y = SortedIndices(b, where);
  if (!y.ok()) return y.status();
  MaskOverlap overlap;
  size_t i = 0, j = 0;
  while (i < x->size() && j < y->size()) {
    if ((*x)[i] == (*y)[j]) {
      ++overlap.intersection;
      ++i;
      ++j;
    } else if ((*x)[i] < (*y)[j]) {
      ++i;
    } else {
      ++j;
    }
  }
  overlap.union_size = static_cast<int64_t>(x->size() + y->size()) - overlap.intersection;
  return overlap;
}

}  // namespace

double MaskOverlap::jaccard() const {
  return union_size == 0 ? 1.0 : static_cast<double>(intersection) / static_cast<double>(union_size);
}

absl::StatusOr<MaskOverlap> CompareMasks(const SparseDelta& a, const SparseDelta& b) {
  return Compare(a, b, "masks");
}

absl::StatusOr<std::vector<ModuleOverlap>> MaskOverlapByModule(const ExpertMasks& a,
                                                              const ExpertMasks& b) {
  std::vector<ModuleOverlap> out;
  for (const auto& [module, mask] : a) {
    auto other = b.find(module);
    if (other == b.end()) continue;
    absl::StatusOr<MaskOverlap> overlap = Compare(mask, other->second, "module \"" + module + "\"");
    if (!overlap.ok()) return overlap.status();
    out.push_back({module, *overlap});
  }
  return out;
}

int64_t LayerOfModule(const std::string& module) {
  static constexpr char kLayers[] = "layers.";
  for (size_t at = module.find(kLayers); at != std::string::npos; at = module.find(kLayers, at + 1)) {
    if (at > 0 && module[at - 1] != '.') continue;
    size_t digits = at + sizeof(kLayers) - 1, end = digits;
    while (end < module.size() && module[end] >= '0' && module[end] <= '9') ++end;
    if (end > digits && (end == module.size() || module[end] == '.')) {
      return std::strtoll(module.substr(digits, end - digits).c_str(), nullptr, 10);
    }
  }
  return -1;
}

std::vector<LayerOverlap> OverlapByLayer(absl::Span<const ModuleOverlap> modules) {
  std::map<int64_t, MaskOverlap> by_layer;
  for (const ModuleOverlap& m : modules) {
    MaskOverlap& sum = by_layer[LayerOfModule(m.module)];
    sum.intersection += m.overlap.intersection;
    sum.union_size += m.overlap.union_size;
  }
  std::vector<LayerOverlap> out;
  for (const auto& [layer, overlap] : by_layer) out.push_back({layer, overlap});
  return out;
}

double OverlapGrowthPoint::shared_fraction() const {
  return union_size == 0 ? 0.0 : static_cast<double>(shared) / static_cast<double>(union_size);
}

double OverlapGrowthPoint::union_fraction() const {
  return total == 0 ? 0.0 : static_cast<double>(union_size) / static_cast<double>(total);
}

absl::StatusOr<std::vector<OverlapGrowthPoint>> OverlapGrowth(absl::Span<const ExpertMasks> experts) {
  // Per module: the union so far (ascending) and each entry's cover count.
  struct Covered {
    Shape shape;
    std::vector<int64_t> indices;
    std::vector<int32_t> count;
  };
  std::map<std::string, Covered> covered;
  std::vector<OverlapGrowthPoint> curve;
  OverlapGrowthPoint point;
  for (size_t e = 0; e < experts.size(); ++e) {
    for (const auto& [module, mask] : experts[e]) {
      const std::string where = absl::StrCat("expert ", e, " module \"", module, "\"");
      auto [it, inserted] = covered.try_emplace(module);
      Covered& c = it->second;
      if (inserted) {
        c.shape = mask.shape;
        point.total += DenseSize(mask.shape);
      } else if (c.shape != mask.shape) {
        return absl::InvalidArgumentError(absl::StrCat(where, ": mask shape ", ShapeToString(mask.shape),
                                                       ", earlier experts ", ShapeToString(c.shape)));
      }
      absl::StatusOr<std::vector<int64_t>> add = SortedIndices(mask, where);
      if (!add.ok()) return add.status();
      std::vector<int64_t> indices;
      std::vector<int32_t> count;
      indices.reserve(c.indices.size() + add->size());
      count.reserve(c.indices.size() + add->size());
      size_t i = 0, j = 0;
      while (i < c.indices.size() || j < add->size()) {
        if (j == add->size() || (i < c.indices.size() && c.indices[i] < (*add)[j])) {
          indices.push_back(c.indices[i]);
          count.push_back(c.count[i++]);
        } else if (i == c.indices.size() || (*add)[j] < c.indices[i]) {
          indices.push_back((*add)[j++]);
          count.push_back(1);
          ++point.union_size;
        } else {
          indices.push_back(c.indices[i]);
          count.push_back(c.count[i++] + 1);
          if (count.back() == 2) ++point.shared;
          ++j;
        }
      }
      c.indices = std::move(indices);
      c.count = std::move(count);
    }
    point.experts = static_cast<int64_t>(e + 1);
    curve.push_back(point);
  }
  return curve;
}

}  // namespace libra::merge
