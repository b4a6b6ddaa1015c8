"""libra_fuzz_target: one fuzz target per input format.

    libra_fuzz_target(name = "safetensors_fuzz", deps = ["//src/core/io:safetensors"])

makes
  - `name`: a binary from `name.cc` (which defines LLVMFuzzerTestOneInput).
    Under `--config=fuzz` (clang, libFuzzer, ASan + UBSan) it is a libFuzzer
    binary that bench/fuzz/run.sh runs; otherwise it links
    standalone_main.cc and runs over files and their deterministic mutations.
  - `name_corpus`: the seed corpus, `corpus/<format>/*` (bench/fuzz/run.sh
    gives libFuzzer the folder, and `<format>.dict` beside it if present).
  - `name_smoke`: a test in ./test running it over the corpus.
"""

def libra_fuzz_target(name, deps, corpus = None, mutations = 300):
    corpus = corpus or "corpus/" + name[:-len("_fuzz")]
    native.cc_binary(
        name = name,
        srcs = [name + ".cc"],
        linkopts = select({
            ":fuzzing": ["-fsanitize=fuzzer"],
            "//conditions:default": [],
        }),
        deps = deps + select({
            ":fuzzing": [],
            "//conditions:default": [":standalone_main"],
        }),
    )
    native.filegroup(
        name = name + "_corpus",
        srcs = native.glob([corpus + "/*"]),
    )
    native.sh_test(
        name = name + "_smoke",
        size = "small",
        srcs = ["run_corpus.sh"],
        args = ["$(rootpath :%s)" % name, "--mutations", str(mutations), "$(rootpaths :%s_corpus)" % name],
        data = [":" + name, ":" + name + "_corpus"],
    )
