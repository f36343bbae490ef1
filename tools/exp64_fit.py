"""Fit the polynomial of fastopt's float64 exp (math::exp_reduced(double) in
cpp/include/fastopt/math_double.hpp).

exp(x) = e^r * 2^n with n = round(x / ln2) and |r| <= ln2 / 2 (plus the rounding of the
reduction). e^r is approximated by P(r) = 1 + r + r^2 q(r), q of degree 9, with the ten
coefficients of q chosen to minimize the maximum relative error of P over that interval:
weighted least squares on Chebyshev points in 40-digit arithmetic (mpmath), reweighted by
Lawson's method towards minimax. The first two coefficients stay exactly 1.

Prints the relative error of P with the coefficients rounded to double (1.1e-17, about 0.1 of
2^-53) and the coefficients, highest first. The error of the whole exp is measured in C++
against long double expl (see the note at the top of math_double.hpp: 0.93 ULP with FMA, 1.20
without, over 2.6e7 arguments).

Run: python tools/exp64_fit.py  (needs mpmath; about 5 s).
"""

from __future__ import annotations

import mpmath as mp

DEGREE_Q = 9
POINTS = 500
LAWSON_STEPS = 25


def main() -> None:
    mp.mp.dps = 40
    h = mp.log(2) / 2 * mp.mpf("1.0005")  # a margin for the rounding of r
    rs = [h * mp.cos(mp.pi * i / (POINTS - 1)) for i in range(POINTS)]

    def q_exact(r):
        return mp.mpf(1) / 2 if r == 0 else (mp.exp(r) - 1 - r) / (r * r)

    g = [q_exact(r) for r in rs]
    w = [r * r / mp.exp(r) for r in rs]  # an error in q moves P by r^2 * error: relative to e^r
    n = DEGREE_Q + 1
    lawson = [mp.mpf(1)] * POINTS
    for _ in range(LAWSON_STEPS):
        A = mp.matrix(POINTS, n)
        b = mp.matrix(POINTS, 1)
        for i, r in enumerate(rs):
            weight = w[i] * mp.sqrt(lawson[i])
            for k in range(n):
                A[i, k] = r**k * weight
            b[i] = g[i] * weight
        c, _ = mp.qr_solve(A, b)
        err = [abs((sum(c[k] * rs[i] ** k for k in range(n)) - g[i]) * w[i]) for i in range(POINTS)]
        top = max(err)
        lawson = [lawson[i] * (err[i] / top) + mp.mpf(10) ** -30 for i in range(POINTS)]
        total = sum(lawson)
        lawson = [v / total for v in lawson]

    coef = [float(c[k]) for k in range(n)]  # rounded to double, lowest first
    worst = mp.mpf(0)
    for i in range(6001):
        r = -h + 2 * h * i / 6000
        q = mp.mpf(0)
        for v in reversed(coef):
            q = q * r + mp.mpf(v)
        worst = max(worst, abs((1 + r + r * r * q) / mp.exp(r) - 1))
    print(f"max relative error of 1 + r + r^2 q(r), double coefficients: {mp.nstr(worst, 3)}"
          f" = {mp.nstr(worst / mp.mpf(2) ** -53, 3)} * 2^-53")
    for k in range(DEGREE_Q, -1, -1):
        print(f"    coefficient of r^{k + 2}: {coef[k]!r}")


if __name__ == "__main__":
    main()
