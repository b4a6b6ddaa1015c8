# Environment for everything libra runs (sourced by ./run, ./test, .ci/run).
# OpenBLAS at one thread and no malloc trimming: see README, "Speed".
export OPENBLAS_NUM_THREADS=1
# One kernel set on every x86-64-v3 CPU, so trained models do not depend on
# the machine's auto-detected core type (papers/testbed/README.md).
export OPENBLAS_CORETYPE=Haswell
export GLIBC_TUNABLES=glibc.malloc.mmap_threshold=4294967296:glibc.malloc.trim_threshold=4294967296
# Emscripten's linker needs Debian's node modules (acorn).
export NODE_PATH=/usr/share/nodejs
export EMSDK_PYTHON=/usr/bin/python3
