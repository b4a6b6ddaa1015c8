# Environment for everything libra runs (sourced by ./run, ./test, .ci/run).
# OpenBLAS at one thread and no malloc trimming: see README, "Speed".
export OPENBLAS_NUM_THREADS=1
# One kernel set on every x86-64-v3 CPU, for OpenBLAS, ATen (LibTorch's
# operators) and oneDNN (its convolutions, which take AVX-512 where the CPU
# has it), so trained models do not depend on the machine
# (papers/common/reproduce.h, kRecordedKernels).
export OPENBLAS_CORETYPE=Haswell
export ATEN_CPU_CAPABILITY=avx2
export ONEDNN_MAX_CPU_ISA=AVX2
export GLIBC_TUNABLES=glibc.malloc.mmap_threshold=4294967296:glibc.malloc.trim_threshold=4294967296
# Emscripten's linker needs Debian's node modules (acorn).
export NODE_PATH=/usr/share/nodejs
export EMSDK_PYTHON=/usr/bin/python3
