// The exception barrier at the top of every libra program. The core's API
// returns absl::Status, but LibTorch throws c10::Error and allocation throws
// std::bad_alloc; neither may end a program with std::terminate (exit 134).
//
//   int main(int argc, char** argv) {
//     return libra::RunWithExceptionBarrier("libra", [&] { return Main(argc, argv); });
//   }
#ifndef LIBRA_CORE_EXCEPTION_BARRIER_H_
#define LIBRA_CORE_EXCEPTION_BARRIER_H_

#include <functional>
#include <string>

namespace libra {

// Runs `body` and returns its exit code; on an exception prints one line,
// "<program>: error: unexpected failure: <first line of what()>", to stderr
// and returns 1.
int RunWithExceptionBarrier(const std::string& program, const std::function<int()>& body);

}  // namespace libra

#endif  // LIBRA_CORE_EXCEPTION_BARRIER_H_
