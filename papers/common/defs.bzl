"""Bazel macros for paper packages."""

# The environment of a build action that trains a model (the testbed and
# arithmetic base genrules): the recorded kernels (papers/common/reproduce.h,
# kRecordedKernels; tests/papers/all_test checks this line), one OpenBLAS
# thread, and OpenMP threads that sleep while they wait. Spinning waiters
# made a pretraining that shares the machine with one compile action three
# times slower; sleeping ones keep it within a few percent of running alone,
# so the base trains beside the build instead of before it. The wait policy
# changes no bit: the work each thread does is the same.
TRAINING_ACTION_ENV = ("OPENBLAS_CORETYPE=Haswell ATEN_CPU_CAPABILITY=avx2 " +
                       "ONEDNN_MAX_CPU_ISA=AVX2 OPENBLAS_NUM_THREADS=1 OMP_WAIT_POLICY=passive ")

def paper_claims_test(name = "claims_test", reproduce = ":reproduce",
                      expectations = "expectations.json", args = [], data = [],
                      size = "large", **kwargs):
    """A test that runs `reproduce` at quick scale and checks its claims.

    Every claim must keep the verdict and, within its tolerance, the paired
    difference recorded for it in the paper's expectations file
    (papers/common/claims_check.h); REPORT.md must show each verdict.

    Args:
      name: the test's name.
      reproduce: the paper's reproduce binary.
      expectations: the paper's recorded expectations (expectations.h); also
        a data file of `reproduce`, whose report shows them.
      args: extra flags for the reproduce binary (e.g. ["--seeds", "3"]).
      data: extra runfiles the run reads (e.g. a shared base model).
      size: the test size (quick runs take minutes).
      **kwargs: passed to cc_test (tags, timeout, ...).
    """

    # Alone, so that its time is the paper's own (each paper's claims test
    # has a budget of 4 minutes, cold). Side by side with another claims
    # test the two finish sooner, but each one's time is that of both
    # (README.md, "Build time").
    tags = kwargs.pop("tags", []) + ["exclusive", "claims"]
    native.cc_test(
        name = name,
        size = size,
        tags = tags,
        deps = ["//papers/common:claims_test_main"],
        data = [reproduce, expectations] + data,
        args = ["--reproduce", "$(rootpath %s)" % reproduce,
                "--expectations", "$(rootpath %s)" % expectations] + args,
        **kwargs
    )
