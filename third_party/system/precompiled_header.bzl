"""A precompiled header: a header of includes, compiled once per configuration.

GCC reads `X.hpp.gch` instead of parsing `X.hpp` when a translation unit's
first include is `X.hpp` and the `.gch` was compiled with the same options.
`<torch/torch.h>` takes about 15 seconds to parse and some fifty translation
units include it, so its parse is most of a cold build's compile time; from
the precompiled header each of them compiles in about half the time, to the
same object code (the compiler's state after the header is restored, not
recomputed).

The rule writes the header into the output tree (it has no source file, so
an `#include "pkg/name.hpp"` finds it, and the `.gch` beside it, through the
output tree's include path), compiles it with the command line of an
ordinary C++ compile action of this configuration (the toolchain's flags,
--copt and --cxxopt, the dependencies' defines and include paths), and
provides both as headers of a cc_library-like target, so every compile
action that depends on it has them as inputs. A translation unit that
includes the header later than first, or is compiled with other options,
parses it as text (`--copt=-Winvalid-pch` in .bazelrc names such a unit).
"""

load("@bazel_tools//tools/cpp:toolchain_utils.bzl", "find_cpp_toolchain")

_CPP_COMPILE = "c++-compile"

def _precompiled_header_impl(ctx):
    cc_toolchain = find_cpp_toolchain(ctx)
    features = cc_common.configure_features(
        ctx = ctx,
        cc_toolchain = cc_toolchain,
        requested_features = ctx.features,
        unsupported_features = ctx.disabled_features,
    )
    deps = cc_common.merge_cc_infos(cc_infos = [d[CcInfo] for d in ctx.attr.deps])
    deps_context = deps.compilation_context

    header = ctx.actions.declare_file(ctx.attr.out)
    ctx.actions.write(header, "".join(["#include <%s>\n" % h for h in ctx.attr.includes]))
    compiled = ctx.actions.declare_file(ctx.attr.out + ".gch")

    variables = cc_common.create_compile_variables(
        cc_toolchain = cc_toolchain,
        feature_configuration = features,
        source_file = header.path,
        output_file = compiled.path,
        user_compile_flags = ctx.fragments.cpp.copts + ctx.fragments.cpp.cxxopts,
        include_directories = deps_context.includes,
        quote_include_directories = deps_context.quote_includes,
        system_include_directories = deps_context.system_includes,
        preprocessor_defines = deps_context.defines,
        # Every native compile action of this build is position-independent
        # (tests link dynamically); the .gch must match.
        use_pic = True,
    )
    arguments = cc_common.get_memory_inefficient_command_line(
        feature_configuration = features,
        action_name = _CPP_COMPILE,
        variables = variables,
    )
    ctx.actions.run(
        executable = cc_common.get_tool_for_action(
            feature_configuration = features,
            action_name = _CPP_COMPILE,
        ),
        # The toolchain's driver is gcc: say the header is C++.
        arguments = ["-x", "c++-header"] + arguments,
        env = cc_common.get_environment_variables(
            feature_configuration = features,
            action_name = _CPP_COMPILE,
            variables = variables,
        ),
        inputs = depset([header], transitive = [deps_context.headers, cc_toolchain.all_files]),
        outputs = [compiled],
        mnemonic = "CppPrecompileHeader",
        progress_message = "Precompiling %s" % header.short_path,
    )

    own = CcInfo(compilation_context = cc_common.create_compilation_context(
        headers = depset([header, compiled]),
    ))
    return [
        DefaultInfo(files = depset([header, compiled])),
        cc_common.merge_cc_infos(cc_infos = [own, deps]),
    ]

precompiled_header = rule(
    implementation = _precompiled_header_impl,
    doc = "Compiles a header of `includes` once; a drop-in for `deps` (see the file's doc).",
    attrs = {
        "out": attr.string(mandatory = True, doc = "the header's name in the package, e.g. x_pch.hpp"),
        "includes": attr.string_list(mandatory = True, doc = "what the header includes (<...>)"),
        "deps": attr.label_list(providers = [CcInfo], doc = "libraries that provide those includes"),
        "_cc_toolchain": attr.label(default = Label("@bazel_tools//tools/cpp:current_cc_toolchain")),
    },
    fragments = ["cpp"],
    toolchains = ["@bazel_tools//tools/cpp:toolchain_type"],
    incompatible_use_toolchain_transition = True,
)
