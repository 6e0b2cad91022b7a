"""The pipeline's floats on any x86-64 CPU: the network trained under CPU code paths the test forces gives the
same bits as under the pipeline's pins (:data:`a1lab.cpu.BASELINE_CPU`)."""

import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

from a1lab.cpu import BASELINE_CPU, X86_64

ROOT = Path(__file__).resolve().parents[2]
PROBE = """
import hashlib, warnings
import numpy as np, pandas as pd
warnings.filterwarnings("ignore")
from a1lab.models.nn import LightningMLP
rng = np.random.default_rng(0)
X = pd.DataFrame(rng.normal(size=(6000, 30)), columns=[f"f{i}" for i in range(30)])
logit = X.iloc[:, :3].to_numpy() @ rng.normal(size=(3, 3))
p = np.exp(logit) / np.exp(logit).sum(1, keepdims=True)
y = np.array(["H", "D", "A"])[[rng.choice(3, p=r) for r in p]]
m = LightningMLP(max_epochs=6, seed=1, accelerator="cpu").fit(X[:5000], y[:5000], eval_set=(X[5000:], y[5000:]))
print(hashlib.sha256(m.predict_proba(X[5000:]).tobytes()).hexdigest())
"""
OLD_CPU = {"GLIBC_TUNABLES": "glibc.cpu.hwcaps=-AVX,-AVX2,-FMA,-FMA4,-AVX512F,-SSE4_1,-SSE4_2",
           "MKL_ENABLE_INSTRUCTIONS": "SSE4_2", "NPY_DISABLE_CPU_FEATURES": "AVX2 FMA3 X86_V4"}


def _bits(env: dict) -> str:
    base = {k: v for k, v in os.environ.items() if k not in BASELINE_CPU and k != "A1LAB_NATIVE_CPU"}
    return subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env={**base, **env}, capture_output=True,
                          text=True, check=True, timeout=300).stdout.strip()


@pytest.mark.skipif(platform.machine() not in X86_64, reason="the pins are x86-64's")
def test_the_network_gives_the_same_bits_when_the_cpu_offers_less():
    """Under the pins, a CPU without AVX, FMA or SSE4 (as glibc, MKL and numpy see it) trains the same network
    to the bit. Without glibc's pin it does not, on a CPU with FMA: glibc's libm has FMA builds whose last bits
    differ, and the network carries them into its weights."""
    pinned = _bits(BASELINE_CPU)
    assert _bits({**BASELINE_CPU, **OLD_CPU}) == pinned
    if " fma " in Path("/proc/cpuinfo").read_text():  # what the pin is for: the CPU's own libm gives other bits
        native_libm = {k: v for k, v in BASELINE_CPU.items() if k != "GLIBC_TUNABLES"}
        assert _bits(native_libm) != _bits({**native_libm, "GLIBC_TUNABLES": OLD_CPU["GLIBC_TUNABLES"]})
