"""Generate the coefficient table of fastopt's float32 tanh (cpp/include/fastopt/math_float.hpp).

tanh(x) = sign(x) * y(t), t = min(|x|, T). t is split into 32 intervals by the bits of
u = t * ALPHA + C: bits(u) >> 20 is the octave of u and its top 3 mantissa bits, 8 intervals per
octave over the 4 octaves that u spans (u in [0.6, 8.87)), so the intervals are narrow near 0
(0.029) and wide near saturation (1.0). On interval i, y = c0 + s (c1 + s (c2 + s (c3 + s c4)))
with s = t - b[i]; the interval that holds 0 has b = 0 and c0 = 0, so y = s * P(s) keeps full
relative accuracy down to the subnormals, where it returns t itself.

For each interval this finds its exact float32 ends (with u = fma(t, ALPHA, C), as the AVX-512
code computes it, and with t * ALPHA rounded before + C, so that an evaluation without FMA
could use the same table), picks b in [hi / 2, 2 lo] so that s = t - b is exact, fits the polynomial by linear programming (minimax of the error in float32
ULP of the result over a dense sample of the interval), then rounds the coefficients to float32
one at a time from c0 up, refitting the higher ones after each (fpminimax's greedy scheme).

Run: python tools/tanh_table.py  (prints the C++ table; needs numpy and scipy). The exhaustive
check of the result is tools/tanh_ulp.py.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
from scipy.optimize import linprog

ALPHA = np.float32(0.87)
C = np.float32(0.6)
T = np.float32(9.5)  # the clamp: tanh rounds to 1 above 9.011, and y(T) rounds to 1
DEGREE = 4
SHIFT = 20  # 23 mantissa bits - 3: the index is (exponent, top 3 mantissa bits) mod 32


def to_f32(q: Fraction) -> np.float32:
    """Round a rational to the nearest float32 (ties to even) via float64 with a round-to-odd
    correction; exact for our magnitudes."""
    d = float(q)
    if Fraction(d) != q:  # make the float64 odd so that the float32 rounding is correct
        b = np.array(d).view(np.uint64)
        if not (b & 1):
            d = float(np.nextafter(d, np.inf if Fraction(d) < q else -np.inf))
    return np.float32(d)


def u_of(t32: np.float32, fma: bool) -> np.float32:
    if fma:
        return to_f32(Fraction(float(t32)) * Fraction(float(ALPHA)) + Fraction(float(C)))
    prod = to_f32(Fraction(float(t32)) * Fraction(float(ALPHA)))
    return to_f32(Fraction(float(prod)) + Fraction(float(C)))


def idx_of(t32: np.float32, fma: bool) -> int:
    return int(np.array(u_of(t32, fma), np.float32).view(np.uint32)) >> SHIFT


def first_at_least(target: int, fma: bool) -> int:
    """Smallest float32 bit pattern t in [0, T] with raw index >= target (monotone)."""
    lo, hi = 0, int(np.array(T, np.float32).view(np.uint32)) + 1
    while lo < hi:
        mid = (lo + hi) // 2
        if idx_of(np.uint32(mid).view(np.float32), fma) >= target:
            hi = mid
        else:
            lo = mid + 1
    return lo


def intervals() -> list[tuple[int, float, float]]:
    """(index mod 32, lo, hi): the float32 t in [lo, hi] that reach each index under either rounding."""
    tbits = int(np.array(T, np.float32).view(np.uint32))
    first = min(idx_of(np.float32(0), f) for f in (True, False))
    last = max(idx_of(T, f) for f in (True, False))
    assert last - first < 32, "more than 32 intervals: the index would alias"
    out = []
    for r in range(first, last + 1):
        los = [first_at_least(r, f) for f in (True, False)]
        his = [first_at_least(r + 1, f) - 1 for f in (True, False)]
        lo, hi = min(los), min(max(his), tbits)
        out.append((r % 32, float(np.uint32(lo).view(np.float32)), float(np.uint32(hi).view(np.float32))))
    return out


def ulp32(y: np.ndarray) -> np.ndarray:
    return np.spacing(np.abs(y).astype(np.float32)).astype(np.float64)


def lp_fit(s, target, w, fixed):
    """Coefficients c (float64) minimizing max |sum c_j s^j - target| / w, with c_j = fixed[j]
    for j in fixed; columns are scaled by h^j (h = max |s|) for the solver."""
    h = float(np.max(np.abs(s)))
    free = [j for j in range(DEGREE + 1) if j not in fixed]
    r = (target - sum(v * s**j for j, v in fixed.items())) / w
    a = np.stack([(s / h) ** j for j in free], 1) / w[:, None]
    m = len(free)
    ones = np.ones((len(s), 1))
    for method in ("highs-ds", "highs-ipm"):  # HiGHS' dual simplex now and then gives up
        res = linprog(
            np.r_[np.zeros(m), 1.0],
            A_ub=np.block([[a, -ones], [-a, -ones]]),
            b_ub=np.r_[r, -r],
            bounds=[(None, None)] * m + [(0, None)],
            method=method,
        )
        if res.success:
            break
    assert res.success, res.message
    c = np.zeros(DEGREE + 1)
    for j, v in fixed.items():
        c[j] = v
    c[free] = res.x[:m] / h ** np.array(free, dtype=float)
    return c, float(res.x[-1])


def fit_at(b: float, lo: float, hi: float):
    """Fit on [lo, hi] around b; returns (coefficients as float32, worst error in ULP)."""
    if lo == 0.0:
        ts = np.unique(np.concatenate([np.geomspace(1e-4, hi, 3000), np.linspace(0, hi, 3000)[1:]]))
        fixed = {0: 0.0}
    else:
        ts = np.concatenate([np.linspace(lo, hi, 4000), b + (lo - b) * np.cos(np.linspace(0, np.pi / 2, 300)),
                             b + (hi - b) * np.cos(np.linspace(0, np.pi / 2, 300))])
        fixed = {}
    ts = np.unique(ts.astype(np.float32)).astype(np.float64)
    s = ts - b
    target = np.tanh(ts)
    w = ulp32(target)
    c, err = lp_fit(s, target, w, fixed)
    for j in range(DEGREE):  # round c0, c1, ... in turn; refit the higher ones
        fixed[j] = float(np.float32(c[j]))
        c, err = lp_fit(s, target, w, fixed)
    return c.astype(np.float32), err


def fit(lo: float, hi: float, tries: int = 12):
    """The expansion point b is free within [hi / 2, 2 lo], where s = t - b is exact for every t
    in [lo, hi] (Sterbenz); of the floats there in the middle half of the interval, take those
    where tanh(b) and sech^2(b), which c0 and c1 approximate, are closest to float32 values
    (their rounding costs the most), fit at each, keep the best."""
    if lo == 0.0:
        c, err = fit_at(0.0, lo, hi)
        return np.float32(0.0), c, err
    q = (hi - lo) / 4
    a, z = max(hi / 2, lo + q), min(2 * lo, hi - q)
    if a > z:
        a, z = max(hi / 2, lo), min(2 * lo, hi)
    assert a <= z, (lo, hi)
    ia, iz = (int(np.array(np.float32(v), np.float32).view(np.int32)) for v in (a, z))
    bs = np.arange(ia + 1, iz, max(1, (iz - ia) // 20000), dtype=np.int64).astype(np.int32).view(np.float32).astype(np.float64)
    y0 = np.tanh(bs)
    y1 = 1.0 - y0 * y0
    u = ulp32(y0)
    score = np.abs(y0.astype(np.float32) - y0) / u + np.abs(y1.astype(np.float32) - y1) * (hi - lo) / 2 / u
    best = None
    for b in bs[np.argsort(score)[:tries]]:
        c, err = fit_at(float(b), lo, hi)
        if best is None or err < best[2]:
            best = (np.float32(b), c, err)
    return best


def cpp_rows(name: str, v: np.ndarray, indent: str) -> str:
    vals = [f"{float(x):.9g}" for x in v]
    vals = [x + ("f" if "." in x or "e" in x else ".0f") for x in vals]
    lines = [", ".join(vals[k : k + 8]) for k in range(0, len(vals), 8)]
    body = (",\n" + indent + "  ").join(lines)
    return f"{indent}{{{body}}},  // {name}"


def main() -> None:
    parts = intervals()
    b_tab = np.zeros(32, np.float32)
    c_tab = np.zeros((DEGREE + 1, 32), np.float32)
    worst = 0.0
    for i, lo, hi in parts:
        b, c, err = fit(lo, hi)
        b_tab[i] = b
        c_tab[:, i] = c
        worst = max(worst, err)
        print(f"// [{i:2d}] t in [{lo:.9g}, {hi:.9g}]  b = {float(b):.9g}  fit error {err:.3f} ULP")
    print(f"// worst fit error before the final rounding: {worst:.3f} ULP\n")
    print(f"// Generated by tools/tanh_table.py: ALPHA = {float(ALPHA):.9g}, C = {float(C):.9g}, T = {float(T):.9g},")
    print(f"// degree {DEGREE}; fit error before the final rounding at most {worst:.3f} ULP.")
    print("inline constexpr TanhTable kTanhTable = {")
    print(cpp_rows("b", b_tab, "    "))
    print("    {")
    for j in range(DEGREE + 1):
        print(cpp_rows(f"c{j}", c_tab[j], "        "))
    print("    },")
    print("};")


if __name__ == "__main__":
    main()
