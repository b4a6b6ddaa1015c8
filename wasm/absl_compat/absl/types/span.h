// WebAssembly-only stand-in for absl/types/span.h (see wasm/README.md).
//
//   void Sum(absl::Span<const float> values);
//   std::vector<float> v = {1, 2};
//   Sum(v);  Sum({1.0f, 2.0f});  Sum(absl::MakeConstSpan(v.data(), 1));
#ifndef LIBRA_WASM_ABSL_COMPAT_TYPES_SPAN_H_
#define LIBRA_WASM_ABSL_COMPAT_TYPES_SPAN_H_

#include <algorithm>
#include <cstddef>
#include <initializer_list>
#include <type_traits>
#include <utility>

namespace absl {

template <typename T>
class Span {
 public:
  using element_type = T;
  using value_type = std::remove_cv_t<T>;
  using pointer = T*;
  using reference = T&;
  using iterator = T*;
  using const_iterator = const T*;
  using size_type = size_t;
  static constexpr size_t npos = ~size_t{0};

  constexpr Span() = default;
  constexpr Span(T* data, size_t size) : data_(data), size_(size) {}
  template <size_t N>
  constexpr Span(T (&array)[N]) : data_(array), size_(N) {}
  template <typename Container,
            typename = std::enable_if_t<
                !std::is_same_v<std::decay_t<Container>, Span> &&
                std::is_convertible_v<decltype(std::declval<Container&>().data()), T*>>,
            typename = decltype(std::declval<Container&>().size())>
  constexpr Span(Container& container) : data_(container.data()), size_(container.size()) {}
  template <typename Container, typename U = T,
            typename = std::enable_if_t<
                std::is_const_v<U> && !std::is_same_v<std::decay_t<Container>, Span> &&
                std::is_convertible_v<decltype(std::declval<const Container&>().data()), T*>>,
            typename = decltype(std::declval<const Container&>().size())>
  constexpr Span(const Container& container) : data_(container.data()), size_(container.size()) {}
  template <typename U = T, typename = std::enable_if_t<std::is_const_v<U>>>
  Span(std::initializer_list<value_type> list) : data_(list.begin()), size_(list.size()) {}

  constexpr T* data() const { return data_; }
  constexpr size_t size() const { return size_; }
  constexpr size_t length() const { return size_; }
  constexpr bool empty() const { return size_ == 0; }
  constexpr T& operator[](size_t i) const { return data_[i]; }
  constexpr T& at(size_t i) const { return data_[i]; }
  constexpr T& front() const { return data_[0]; }
  constexpr T& back() const { return data_[size_ - 1]; }
  constexpr T* begin() const { return data_; }
  constexpr T* end() const { return data_ + size_; }
  constexpr const T* cbegin() const { return data_; }
  constexpr const T* cend() const { return data_ + size_; }

  constexpr Span subspan(size_t pos, size_t len = npos) const {
    pos = std::min(pos, size_);
    return Span(data_ + pos, std::min(len, size_ - pos));
  }
  constexpr Span first(size_t len) const { return Span(data_, len); }
  constexpr Span last(size_t len) const { return Span(data_ + size_ - len, len); }
  void remove_prefix(size_t n) { data_ += n; size_ -= n; }
  void remove_suffix(size_t n) { size_ -= n; }

  friend bool operator==(Span a, Span b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin());
  }
  friend bool operator!=(Span a, Span b) { return !(a == b); }

 private:
  T* data_ = nullptr;
  size_t size_ = 0;
};

template <typename T>
constexpr Span<T> MakeSpan(T* data, size_t size) { return Span<T>(data, size); }
template <typename Container>
constexpr auto MakeSpan(Container& container) {
  return Span<std::remove_pointer_t<decltype(container.data())>>(container.data(), container.size());
}
template <typename T>
constexpr Span<const T> MakeConstSpan(const T* data, size_t size) { return Span<const T>(data, size); }
template <typename Container>
constexpr auto MakeConstSpan(const Container& container) {
  return Span<const std::remove_pointer_t<decltype(container.data())>>(container.data(), container.size());
}

}  // namespace absl

#endif  // LIBRA_WASM_ABSL_COMPAT_TYPES_SPAN_H_
