"""Bazel macros for paper packages."""

def paper_claims_test(name = "claims_test", reproduce = ":reproduce", args = [], size = "large",
                      testbed_base = False, **kwargs):
    """A test that runs `reproduce` at quick scale and checks its claims.

    Every claim must be `reproduced`; a claim marked known_failure must still
    not reproduce, and REPORT.md must show each verdict
    (papers/common/claims_check.h).

    Args:
      name: the test's name.
      reproduce: the paper's reproduce binary.
      args: extra flags for the reproduce binary (e.g. ["--seeds", "3"]).
      size: the test size (quick runs take minutes).
      testbed_base: pass the base model built by //papers/common:testbed_base
        (--base_model), so claims tests share one pretraining.
      **kwargs: passed to cc_test (tags, timeout, ...).
    """
    data = [reproduce]
    if testbed_base:
        data = data + ["//papers/common:testbed_base"]
        args = args + ["--base_model", "papers/common/testbed_base"]
    # Alone: two multi-threaded runs on CI's 2 cores make OpenMP threads spin
    # while waiting for each other (measured 3x slower than one after the
    # other); the numbers are the same either way.
    tags = kwargs.pop("tags", []) + ["exclusive"]
    native.cc_test(
        name = name,
        size = size,
        tags = tags,
        deps = ["//papers/common:claims_test_main"],
        data = data,
        args = ["--reproduce", "$(rootpath %s)" % reproduce] + args,
        **kwargs
    )
