#include "src/core/exception_barrier.h"

#include <cstdio>
#include <exception>
#include <new>

namespace libra {

int RunWithExceptionBarrier(const std::string& program, const std::function<int()>& body) {
  std::string reason;
  try {
    return body();
  } catch (const std::bad_alloc&) {
    reason = "out of memory";
  } catch (const std::exception& error) {
    reason = error.what();
    reason = reason.substr(0, reason.find('\n'));  // LibTorch appends a backtrace
  } catch (...) {
    reason = "unknown exception";
  }
  std::fflush(stdout);
  std::fprintf(stderr, "%s: error: unexpected failure: %s\n", program.c_str(), reason.c_str());
  return 1;
}

}  // namespace libra
