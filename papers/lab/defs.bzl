"""Bazel macros for papers that run in the testbed lab."""

load("//papers/common:defs.bzl", "paper_claims_test")

def lab_claims_test(name = "claims_test", args = [], **kwargs):
    """paper_claims_test on the shared testbed base (//papers/lab:testbed_base).

    Every lab paper's claims test reads the same base model, a build output
    made once, instead of pretraining its own.
    """
    paper_claims_test(
        name = name,
        args = args + ["--base_model", "papers/lab/testbed_base"],
        data = ["//papers/lab:testbed_base"],
        **kwargs
    )
