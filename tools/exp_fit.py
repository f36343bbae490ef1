"""Fit the polynomial of fastopt's float32 exp (math::exp_reduced in cpp/include/fastopt/math_float.hpp).

exp(x) = e^r * 2^n with n = round(x / ln2) and |r| <= ln2 / 2 (plus the rounding of the
reduction). e^r is approximated by P(r) = 1 + r + r^2 q(r), q of degree 4, with the five
coefficients of q chosen to minimize the maximum relative error of P over that interval:
weighted least squares on Chebyshev points, reweighted by Lawson's method towards minimax.
The first two coefficients stay exactly 1, so P(0) = 1 and the slope at 0 is exact.

The result is then rounded to float32 and its error reported; the exhaustive check of the
float32 exp built on it (every input, all three ISAs' flags) is a short C++ loop over all
2^32 bit patterns against the double-precision libm exp (see the note in math_float.hpp: 0.88 ULP
with FMA, 0.98 without).

Run: python tools/exp_fit.py  (needs numpy only; prints the coefficients, highest first).
"""

from __future__ import annotations

import numpy as np

DEGREE_Q = 4
HALF_LN2 = float(np.log(2.0)) / 2 * 1.0005  # a margin for the rounding of r


def target(r: np.ndarray) -> np.ndarray:
    """(e^r - 1 - r) / r^2 in float64: expm1 minus r, exact enough for |r| >= 1e-3; the
    Taylor series below that."""
    big = np.abs(r) >= 1e-3
    out = np.empty_like(r)
    rb = r[big]
    out[big] = (np.expm1(rb) - rb) / (rb * rb)
    rs = r[~big]
    out[~big] = 0.5 + rs / 6 + rs * rs / 24 + rs**3 / 120
    return out


def fit() -> np.ndarray:
    r = np.cos(np.linspace(0.0, np.pi, 4001)) * HALF_LN2
    g = target(r)
    A = np.vstack([r**k for k in range(DEGREE_Q + 1)]).T
    w = r * r / np.exp(r)  # an error in q moves P by r^2 * error: relative to e^r
    lawson = np.full_like(r, 1.0 / r.size)
    for _ in range(60):
        W = w * lawson
        c, *_ = np.linalg.lstsq(A * W[:, None], g * W, rcond=None)
        err = np.abs((A @ c - g) * w)
        lawson = lawson * np.sqrt(err / err.max()) + 1e-12
        lawson /= lawson.sum()
    return c


def main() -> None:
    c = fit()
    c32 = c.astype(np.float32)
    r = np.linspace(-HALF_LN2, HALF_LN2, 200001)
    p = 1 + r + r * r * np.polyval(c32[::-1].astype(np.float64), r)
    rel = np.abs(p / np.exp(r) - 1).max()
    print(f"max relative error of 1 + r + r^2 q(r), float32 coefficients: {rel:.3g} = {rel / 2.0**-24:.3f} * 2^-24")
    for k in range(DEGREE_Q, -1, -1):
        print(f"    coefficient of r^{k + 2}: {float(c32[k])!r}f")


if __name__ == "__main__":
    main()
