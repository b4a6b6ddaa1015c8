"""A LibTorch folder chosen by the environment, for `--config=cuda`.

LIBTORCH_CUDA_DIR names a folder holding include/ and lib/ of a CUDA
LibTorch: a standalone libtorch/ download, or the torch/ package folder of a
Python PyTorch install, i.e.
  $(python3 -c 'import torch, os; print(os.path.dirname(torch.__file__))')
LIBTORCH_CXX11_ABI (default 1) must match how that LibTorch was built
(python3 -c 'import torch; print(int(torch._C._GLIBCXX_USE_CXX11_ABI))').
Without LIBTORCH_CUDA_DIR the repository holds a target that fails to build
with a message naming the variable.
"""

def _libtorch_repository_impl(ctx):
    root = ctx.os.environ.get("LIBTORCH_CUDA_DIR", "")
    if not root:
        ctx.file("BUILD", """
cc_library(
    name = "torch",
    srcs = ["set_LIBTORCH_CUDA_DIR_to_a_CUDA_LibTorch_folder.cc"],
    visibility = ["//visibility:public"],
)
""")
        return
    root = ctx.path(root)
    if not root.get_child("include").exists or not root.get_child("lib").exists:
        fail("LIBTORCH_CUDA_DIR=%s has no include/ and lib/ folders" % root)
    ctx.symlink(root.get_child("include"), "include")
    ctx.symlink(root.get_child("lib"), "lib")
    abi = ctx.os.environ.get("LIBTORCH_CXX11_ABI", "1")
    lib = str(root.get_child("lib"))
    ctx.file("BUILD", """
cc_library(
    name = "torch",
    hdrs = glob(["include/**/*.h", "include/**/*.hpp", "include/**/*.cuh"]),
    includes = ["include", "include/torch/csrc/api/include"],
    defines = ["_GLIBCXX_USE_CXX11_ABI={abi}"],
    # --no-as-needed: torch_cuda registers the CUDA kernels at load time and
    # is otherwise dropped because no symbol of it is referenced.
    linkopts = [
        "-L{lib}",
        "-Wl,-rpath,{lib}",
        "-Wl,--no-as-needed",
        "-ltorch",
        "-ltorch_cpu",
        "-ltorch_cuda",
        "-lc10_cuda",
        "-lc10",
        "-Wl,--as-needed",
    ],
    visibility = ["//visibility:public"],
)
""".format(abi = abi, lib = lib))

libtorch_repository = repository_rule(
    implementation = _libtorch_repository_impl,
    environ = ["LIBTORCH_CUDA_DIR", "LIBTORCH_CXX11_ABI"],
    local = True,
)
