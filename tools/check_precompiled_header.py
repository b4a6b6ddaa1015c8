#!/usr/bin/env python3
"""Checks that every translation unit that includes LibTorch starts with its
precompiled header (third_party/system/precompiled_header.bzl).

A unit includes LibTorch when it, or a header of this repository it includes
(followed transitively), includes <torch/...>, <ATen/...> or <c10/...>. Such a
unit must have

    #include "third_party/system/torch_pch.hpp"

as its first #include, before anything but comments and blank lines
(except units built with c10d's defines: see DISTRIBUTED below); GCC
uses a precompiled header only there, and a unit without it parses LibTorch's
headers as text (about twice the compile time). A unit that does not include
LibTorch must not include the header (it would parse LibTorch for nothing).

Prints "check_precompiled_header: PASS (N units)" or one line per offending
file; exit status 1 on any.

    tools/check_precompiled_header.py [ROOT]
"""

import os
import re
import sys

PCH = "third_party/system/torch_pch.hpp"
SOURCE_DIRS = ("src", "papers", "tests", "bench", "tools", "wasm", "web")
INCLUDE = re.compile(r'^\s*#\s*include\s*[<"]([^>"]+)[>"]', re.M)
LIBTORCH = ("torch/", "ATen/", "c10/")
# Units that include this header depend on //third_party/system:torch_distributed,
# whose defines (USE_DISTRIBUTED, ...) change LibTorch's headers: the
# precompiled header does not fit them (GCC says so under -Winvalid-pch), so
# they parse LibTorch as text and must not include it.
DISTRIBUTED = "src/nn/distributed.h"


def read_sources(root):
    files = {}
    for top in SOURCE_DIRS:
        for folder, _, names in os.walk(os.path.join(root, top)):
            if "node_modules" in folder:
                continue
            for name in names:
                if name.endswith((".cc", ".h")):
                    path = os.path.join(folder, name)
                    with open(path, errors="replace") as f:
                        files[os.path.relpath(path, root)] = f.read()
    return files


def includes_libtorch(path, files, memo, visiting=()):
    if path in memo:
        return memo[path]
    found = False
    for target in INCLUDE.findall(files[path]):
        if target.startswith(LIBTORCH) or (
            target in files
            and target not in visiting
            and includes_libtorch(target, files, memo, visiting + (path,))
        ):
            found = True
            break
    memo[path] = found
    return found


def first_code_line(text):
    """The first line that is not blank or a // comment."""
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("//"):
            return stripped
    return ""


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..")
    files = read_sources(root)
    memo = {}
    failures, units = [], 0
    for path in sorted(p for p in files if p.endswith(".cc")):
        starts_with_pch = first_code_line(files[path]).startswith('#include "%s"' % PCH)
        distributed = path == DISTRIBUTED.replace(".h", ".cc") or re.search(
            r'#\s*include\s*"%s"' % re.escape(DISTRIBUTED), files[path])
        if distributed:
            if PCH in files[path]:
                failures.append("%s: built with c10d's defines, which the precompiled header "
                                "does not fit; include LibTorch directly" % path)
        elif includes_libtorch(path, files, memo):
            units += 1
            if not starts_with_pch:
                failures.append("%s: includes LibTorch; its first line of code must be "
                                "#include \"%s\"" % (path, PCH))
        elif PCH in files[path]:
            failures.append("%s: includes %s but not LibTorch" % (path, PCH))
    for line in failures:
        print("check_precompiled_header: FAIL: " + line)
    if failures:
        print("check_precompiled_header: %d failed" % len(failures))
        return 1
    print("check_precompiled_header: PASS (%d units)" % units)
    return 0


if __name__ == "__main__":
    sys.exit(main())
