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

    # Not exclusive: a claims test runs beside the build and beside another
    # claims test, so the stages where it keeps one core busy (evaluation in
    # the parent process) leave the other core to them. Its OpenMP threads
    # sleep while they wait (.bazelrc: OMP_WAIT_POLICY=passive): spinning
    # waiters made two multi-threaded runs on 2 cores about 3x slower than
    # one after the other. A run's numbers depend on its thread count, not on
    # what shares the machine (tests/papers/full_scale_test.sh checks it).
    tags = kwargs.pop("tags", []) + ["claims"]
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
