"""Exhaustive accuracy of fastopt.tanh over every float32, on each ISA this CPU runs.

For every positive float32 x (2^31 bit patterns, in chunks), compares fastopt.tanh(x) with
tanh(x) computed in float64 and rounded to float32, and prints the histogram of the error in
ULP, where the worst case lies, and the smallest x from which the result is exactly 1. Results
at or above 2 ULP are re-checked against mpmath (if installed) at 60 digits, since the float64
reference can be off by one near a rounding midpoint. Negative inputs are checked to be the
exact negation (tanh(-x) == -tanh(x) bitwise), and NaN, +-inf, +-0 and the subnormals (which
return themselves) are checked on their own.

    python tools/tanh_ulp.py              # every ISA in fastopt.info()["isas_supported"]
    python tools/tanh_ulp.py avx512       # just one
"""

from __future__ import annotations

import sys
import time

import numpy as np

import fastopt
from fastopt import _core

CHUNK = 1 << 24


def ordered(a: np.ndarray) -> np.ndarray:
    i = a.view(np.int32).astype(np.int64)
    return np.where(i < 0, -(i & 0x7FFFFFFF), i)


def reference(x: np.ndarray) -> np.ndarray:
    return np.tanh(x.astype(np.float64)).astype(np.float32)


def correctly_rounded(x: float) -> np.float32:
    import mpmath

    mpmath.mp.dps = 60
    return np.float32(float(mpmath.tanh(mpmath.mpf(float(x)))))  # 60 digits, then one rounding


def check(isa: str) -> int:
    _core._set_isa(isa)
    fastopt.set_num_threads(2)
    hist = np.zeros(4, np.int64)  # 0, 1, 2, >= 3 ULP
    worst, worst_x = 0, 0.0
    last_not_one = 0.0
    suspects = []
    failures = 0
    top = int(np.array(np.inf, np.float32).view(np.uint32))  # +inf's bits; the finite ones are below
    t0 = time.time()
    for start in range(0, top, CHUNK):
        bits = np.arange(start, min(start + CHUNK, top), dtype=np.uint32)
        x = bits.view(np.float32)
        y = fastopt.tanh(x)
        neg = fastopt.tanh(-x)
        if not np.array_equal(neg.view(np.uint32), (-y).view(np.uint32)):
            failures += 1
            print(f"  not odd near x = {x[np.argmax(neg != -y)]!r}")
        d = np.abs(ordered(y) - ordered(reference(x)))
        hist += np.bincount(np.minimum(d, 3), minlength=4)
        if d.max() > worst:
            worst, worst_x = int(d.max()), float(x[np.argmax(d)])
        if d.max() >= 2:
            suspects.extend(x[d >= 2][:100].tolist())
        not_one = x[y != 1.0]
        if not_one.size:
            last_not_one = max(last_not_one, float(not_one[-1]))
    sub = np.arange(1, 0x00800000, dtype=np.uint32).view(np.float32)
    specials = np.array([0.0, -0.0, np.inf, -np.inf, np.nan], np.float32)
    ys = fastopt.tanh(specials)
    if not (np.array_equal(fastopt.tanh(sub), sub) and np.array_equal(fastopt.tanh(-sub), -sub)):
        failures += 1
        print("  a subnormal does not return itself")
    if not (ys[0] == 0 and not np.signbit(ys[0]) and ys[1] == 0 and np.signbit(ys[1])
            and ys[2] == 1 and ys[3] == -1 and np.isnan(ys[4])):
        failures += 1
        print(f"  special values wrong: {ys}")
    nans = np.array([0x7FC00000, 0xFFC00000, 0x7F800001, 0xFF800001, 0x7FFFFFFF, 0x7FA00000], np.uint32).view(np.float32)
    if not np.isnan(fastopt.tanh(nans)).all():
        failures += 1
        print("  a NaN does not give NaN")
    confirmed = 0
    if suspects:
        try:
            confirmed = max(int(abs(ordered(fastopt.tanh(np.float32([s])))[0] - ordered(np.float32([correctly_rounded(s)]))[0]))
                            for s in suspects)
            print(f"  re-checked {len(suspects)} results >= 2 ULP with mpmath: worst {confirmed} ULP")
        except ImportError:
            print("  (mpmath not installed: results >= 2 ULP not re-checked)")
    total = int(hist.sum())
    print(f"{isa:8s} max {worst} ULP at x = {worst_x!r}; 0/1/2/>=3 ULP: "
          + " / ".join(f"{h} ({h / total:.2%})" for h in hist)
          + f"; exactly 1 above x = {last_not_one!r}; {time.time() - t0:.0f} s")
    return failures


def main(argv: list[str]) -> int:
    isas = argv or list(fastopt.info()["isas_supported"])
    before = _core._get_isa()
    try:
        return 1 if sum(check(isa) for isa in isas) else 0
    finally:
        _core._set_isa(before)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
