// WebAssembly-only stand-in for absl/functional/function_ref.h: a
// non-owning reference to a callable (see wasm/README.md).
//
//   void ForEach(int n, absl::FunctionRef<void(int)> f) { for (int i = 0; i < n; ++i) f(i); }
#ifndef LIBRA_WASM_ABSL_COMPAT_FUNCTIONAL_FUNCTION_REF_H_
#define LIBRA_WASM_ABSL_COMPAT_FUNCTIONAL_FUNCTION_REF_H_

#include <memory>
#include <type_traits>
#include <utility>

namespace absl {

template <typename Signature>
class FunctionRef;

template <typename R, typename... Args>
class FunctionRef<R(Args...)> {
 public:
  template <typename F, typename = std::enable_if_t<
                            !std::is_same_v<std::decay_t<F>, FunctionRef> &&
                            std::is_invocable_r_v<R, F&, Args...>>>
  FunctionRef(F&& callable)  // NOLINT: implicit like absl's
      : object_(const_cast<void*>(static_cast<const void*>(std::addressof(callable)))),
        invoke_([](void* object, Args... args) -> R {
          return (*static_cast<std::remove_reference_t<F>*>(object))(std::forward<Args>(args)...);
        }) {}

  R operator()(Args... args) const { return invoke_(object_, std::forward<Args>(args)...); }

 private:
  void* object_;
  R (*invoke_)(void*, Args...);
};

}  // namespace absl

#endif  // LIBRA_WASM_ABSL_COMPAT_FUNCTIONAL_FUNCTION_REF_H_
