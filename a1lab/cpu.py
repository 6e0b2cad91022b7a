"""The CPU code paths every stage runs on, so that the same inputs give the same floats on any x86-64 CPU.

Floats must not depend on the CPU's vector extensions, or ``dvc repro`` of a fresh clone on another x86-64
CPU would not give the committed outputs: on an AVX-512 machine the network's weights moved after a few epochs
when MKL was held to AVX2 (torch's float32 kernels, MKL and oneDNN), the stacked ensemble moved with OpenBLAS's
kernels, and numpy's AVX-512 exp and log differ from its AVX2 ones in the last bit. glibc picks its libm
functions (exp, log, pow, atan, ...) by the CPU too (FMA, FMA4, AVX or SSE2 builds, which differ in the last bit:
a network trained under the FMA ones moves from one trained under SSE2's), and reads its tunables only when a
process starts. So: torch, MKL and oneDNN on their baseline code paths, OpenBLAS on Nehalem kernels (numpy's own
baseline is that level), numpy at most AVX2, glibc's SSE2 libm. ``A1LAB_NATIVE_CPU=1`` leaves the environment
alone (faster on some CPUs, other last digits).
"""

from __future__ import annotations

import os
import platform

X86_64 = ("x86_64", "AMD64")  # platform.machine() of the CPUs BASELINE_CPU is for
BASELINE_CPU = {"ATEN_CPU_CAPABILITY": "default", "MKL_CBWR": "COMPATIBLE", "ONEDNN_MAX_CPU_ISA": "SSE41",
                "OPENBLAS_CORETYPE": "Nehalem", "NPY_DISABLE_CPU_FEATURES": "X86_V4 AVX512_ICL AVX512_SPR",
                "GLIBC_TUNABLES": "glibc.cpu.hwcaps=-AVX,-AVX2,-FMA,-FMA4"}


def baseline_cpu() -> bool:
    """Set :data:`BASELINE_CPU` over the environment (x86-64 only; not with ``A1LAB_NATIVE_CPU=1``).

    Processes started later (a kernel, Dask workers) inherit it. glibc's choice holds only for processes
    started after it: a script that computes figures itself restarts when this returns True
    (:func:`on_baseline_cpu`).

    Returns:
        True when the environment changed.
    """
    if platform.machine() not in X86_64 or os.environ.get("A1LAB_NATIVE_CPU") == "1":
        return False
    changed = any(os.environ.get(k) != v for k, v in BASELINE_CPU.items())
    os.environ.update(BASELINE_CPU)
    return changed


def on_baseline_cpu() -> None:
    """Run this script on :data:`BASELINE_CPU`: set it and restart the process when it was not set."""
    import sys

    if baseline_cpu():
        os.execv(sys.executable, [sys.executable, *sys.argv])
