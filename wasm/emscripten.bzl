"""Compiles cc_library sources with Debian's em++ into a .js + .wasm pair.

The same sources as the native build, no copies: an aspect walks `deps`
(cc_library targets under //src/core) and collects their srcs and hdrs.
Each .cc becomes one em++ compile action (cached, parallel), then one link.
System-library wrappers (//third_party/system:absl_*, nlohmann_json) carry
no sources; in wasm they are served by wasm/absl_compat and by a folder
exposing only /usr/include/nlohmann.
"""

EmSourcesInfo = provider(fields = ["srcs", "hdrs"])

def _collect_impl(target, ctx):
    srcs = []
    hdrs = []

    # A library's own copts (e.g. the merge kernels' -ffp-contract=fast
    # -fno-trapping-math) apply to its sources in wasm too.
    copts = " ".join(getattr(ctx.rule.attr, "copts", []))
    for attr in ["srcs", "hdrs", "textual_hdrs"]:
        for src in getattr(ctx.rule.attr, attr, []):
            for f in src.files.to_list():
                if f.extension in ["cc", "cpp"]:
                    srcs.append(struct(file = f, copts = copts))
                else:
                    hdrs.append(f)
    transitive = [dep[EmSourcesInfo] for dep in getattr(ctx.rule.attr, "deps", []) if EmSourcesInfo in dep]
    return [EmSourcesInfo(
        srcs = depset(srcs, transitive = [t.srcs for t in transitive]),
        hdrs = depset(hdrs, transitive = [t.hdrs for t in transitive]),
    )]

_collect = aspect(implementation = _collect_impl, attr_aspects = ["deps"])

_ENV = {
    "NODE_PATH": "/usr/share/nodejs",
    "EMSDK_PYTHON": "/usr/bin/python3",
    "PATH": "/usr/bin:/bin",
}

def _em_binary_impl(ctx):
    srcs = depset(
        [struct(file = f, copts = "") for f in ctx.files.srcs],
        transitive = [d[EmSourcesInfo].srcs for d in ctx.attr.deps],
    ).to_list()
    hdrs = depset(ctx.files.hdrs + ctx.files._compat, transitive = [d[EmSourcesInfo].hdrs for d in ctx.attr.deps])

    # Only the header-only libraries from /usr/include (nlohmann, Eigen): a
    # folder of symlinks, never /usr/include itself (native headers).
    sysinc = ctx.actions.declare_directory(ctx.label.name + "_sysinc")
    ctx.actions.run_shell(
        outputs = [sysinc],
        command = "ln -s /usr/include/nlohmann {d}/nlohmann && ln -s /usr/include/eigen3/Eigen {d}/Eigen".format(d = sysinc.path),
    )
    compat_root = ctx.files._compat[0].path.split("/absl/")[0]
    copts = ["-std=c++17", "-O3", "-msimd128", "-I.", "-I" + ctx.bin_dir.path, "-I" + ctx.genfiles_dir.path,
             "-isystem", compat_root, "-isystem", sysinc.path, "-DLIBRA_WASM=1"] + ctx.attr.copts

    objects = []
    for entry in srcs:
        src = entry.file
        obj = ctx.actions.declare_file("%s_objs/%s.o" % (ctx.label.name, src.short_path.replace("../", "")))
        ctx.actions.run_shell(
            outputs = [obj],
            inputs = depset([src, sysinc], transitive = [hdrs]),
            command = "/usr/bin/em++ %s %s -c %s -o %s" % (" ".join(copts), entry.copts, src.path, obj.path),
            env = _ENV,
            mnemonic = "EmCompile",
            progress_message = "em++ %s" % src.short_path,
        )
        objects.append(obj)

    js = ctx.actions.declare_file(ctx.label.name + ".js")
    wasm = ctx.actions.declare_file(ctx.label.name + ".wasm")
    ctx.actions.run_shell(
        outputs = [js, wasm],
        inputs = objects,
        command = "/usr/bin/em++ -O3 -msimd128 -lembind %s -o %s %s" % (
            " ".join([o.path for o in objects]),
            js.path,
            " ".join(ctx.attr.linkopts),
        ),
        env = _ENV,
        mnemonic = "EmLink",
        progress_message = "em++ link %s" % js.short_path,
    )
    return [DefaultInfo(files = depset([js, wasm]), runfiles = ctx.runfiles(files = [js, wasm]))]

em_binary = rule(
    implementation = _em_binary_impl,
    attrs = {
        "srcs": attr.label_list(allow_files = [".cc", ".cpp"]),
        "hdrs": attr.label_list(allow_files = True),
        "deps": attr.label_list(aspects = [_collect]),
        "copts": attr.string_list(),
        "linkopts": attr.string_list(),
        "_compat": attr.label(default = "//wasm:absl_compat_headers", allow_files = True),
    },
)
