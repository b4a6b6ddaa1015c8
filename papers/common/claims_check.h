// What a paper's claims_test asserts about a finished quick run: the run
// keeps what the paper's expectations file recorded for every claim (its
// verdict, and its paired difference within the tolerance; expectations.h),
// and REPORT.md shows every claim with its verdict.
//
//   std::vector<std::string> problems = CheckClaims(doc, report_markdown, expectations);
//   EXPECT_THAT(problems, IsEmpty());
#ifndef LIBRA_PAPERS_COMMON_CLAIMS_CHECK_H_
#define LIBRA_PAPERS_COMMON_CLAIMS_CHECK_H_

#include <string>
#include <vector>

#include "nlohmann/json.hpp"
#include "papers/common/expectations.h"

namespace libra::papers {

// One line per problem; empty when the run passes.
std::vector<std::string> CheckClaims(const nlohmann::json& doc, const std::string& report_md,
                                     const Expectations& expectations);

}  // namespace libra::papers

#endif  // LIBRA_PAPERS_COMMON_CLAIMS_CHECK_H_
