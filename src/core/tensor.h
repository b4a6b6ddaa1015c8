// Tensor: a named, dense, row-major float32 array, the currency of src/core.
//
// Storage is always float32 in memory; F16 and BF16 exist only at the I/O
// boundary (safetensors), converted with round-to-nearest-even. Integer
// tensors (sparse indices, shapes) travel as Int64Tensor.
//
//   Tensor a = Tensor::Zeros({4, 16});
//   a.at(3 * 16 + 2) = 1.0f;
//   std::vector<uint16_t> half = ToBFloat16(a.values());
#ifndef LIBRA_CORE_TENSOR_H_
#define LIBRA_CORE_TENSOR_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace libra {

// Element types that appear in files; in memory everything is F32 or I64.
enum class DType { kF32, kF16, kBF16, kF64, kI64, kI32, kI16, kI8, kU8, kBool };

// safetensors spelling ("F32", "BF16", ...).
const char* DTypeName(DType dtype);
absl::StatusOr<DType> ParseDType(absl::string_view name);
size_t DTypeSize(DType dtype);

using Shape = std::vector<int64_t>;

// Number of elements of a shape (1 for a 0-d shape); error on negative dims
// or int64 overflow.
absl::StatusOr<int64_t> NumElements(absl::Span<const int64_t> shape);
std::string ShapeToString(absl::Span<const int64_t> shape);

class Tensor {
 public:
  Tensor() = default;
  // Requires values.size() == product(shape); checked with an abort-free
  // fallback: use Tensor::Make when the sizes come from outside.
  Tensor(Shape shape, std::vector<float> values);
  static absl::StatusOr<Tensor> Make(Shape shape, std::vector<float> values);
  static Tensor Zeros(Shape shape);

  const Shape& shape() const { return shape_; }
  int64_t dim(int i) const { return shape_[i]; }
  int rank() const { return static_cast<int>(shape_.size()); }
  int64_t size() const { return static_cast<int64_t>(values_.size()); }

  float* data() { return values_.data(); }
  const float* data() const { return values_.data(); }
  float& at(int64_t i) { return values_[i]; }
  float at(int64_t i) const { return values_[i]; }
  std::vector<float>& values() { return values_; }
  const std::vector<float>& values() const { return values_; }

 private:
  Shape shape_;
  std::vector<float> values_;
};

struct Int64Tensor {
  Shape shape;
  std::vector<int64_t> values;
};

// IEEE half and bfloat16 conversions, round-to-nearest-even, NaN and Inf kept.
uint16_t FloatToHalf(float value);
float HalfToFloat(uint16_t bits);
uint16_t FloatToBFloat16(float value);
float BFloat16ToFloat(uint16_t bits);

}  // namespace libra

#endif  // LIBRA_CORE_TENSOR_H_
