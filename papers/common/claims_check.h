// What a paper's claims_test asserts about a finished quick run: every claim
// is `reproduced`, except a claim marked known_failure, which must still not
// reproduce (a fixed failure asks for its mark to be removed), and REPORT.md
// must show every claim with its verdict.
//
//   std::vector<std::string> problems = CheckClaims(doc, report_markdown);
//   EXPECT_THAT(problems, IsEmpty());
#ifndef LIBRA_PAPERS_COMMON_CLAIMS_CHECK_H_
#define LIBRA_PAPERS_COMMON_CLAIMS_CHECK_H_

#include <string>
#include <vector>

#include "nlohmann/json.hpp"

namespace libra::papers {

// One line per problem; empty when the run passes.
std::vector<std::string> CheckClaims(const nlohmann::json& doc, const std::string& report_md);

}  // namespace libra::papers

#endif  // LIBRA_PAPERS_COMMON_CLAIMS_CHECK_H_
