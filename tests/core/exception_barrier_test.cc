#include "src/core/exception_barrier.h"

#include <new>
#include <stdexcept>

#include "gtest/gtest.h"

namespace libra {
namespace {

TEST(ExceptionBarrierTest, PassesTheExitCodeThrough) {
  testing::internal::CaptureStderr();
  EXPECT_EQ(RunWithExceptionBarrier("prog", [] { return 3; }), 3);
  EXPECT_EQ(testing::internal::GetCapturedStderr(), "");
}

TEST(ExceptionBarrierTest, TurnsExceptionsIntoOneErrorLineAndExitOne) {
  testing::internal::CaptureStderr();
  // LibTorch's c10::Error is a std::exception whose what() carries a backtrace.
  EXPECT_EQ(RunWithExceptionBarrier("prog", []() -> int {
              throw std::runtime_error("shape mismatch [2, 3] vs [3]\nException raised from ...");
            }),
            1);
  EXPECT_EQ(testing::internal::GetCapturedStderr(),
            "prog: error: unexpected failure: shape mismatch [2, 3] vs [3]\n");

  testing::internal::CaptureStderr();
  EXPECT_EQ(RunWithExceptionBarrier("prog", []() -> int { throw std::bad_alloc(); }), 1);
  EXPECT_EQ(testing::internal::GetCapturedStderr(), "prog: error: unexpected failure: out of memory\n");

  testing::internal::CaptureStderr();
  EXPECT_EQ(RunWithExceptionBarrier("prog", []() -> int { throw 42; }), 1);
  EXPECT_EQ(testing::internal::GetCapturedStderr(),
            "prog: error: unexpected failure: unknown exception\n");
}

}  // namespace
}  // namespace libra
