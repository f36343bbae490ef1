"""Fit G, the polynomial of fastopt's float64 normal tail (math::normal_tail(double) in
cpp/include/fastopt/math_double.hpp).

Phi(-a) = t e^{-a^2/2 + G(t)} with t = c / (c + a), c = 2 sqrt 2, for a in [0, 38.7] (Phi(-a)
rounds to 0 beyond 38.4854, e^{-a^2/2} beyond 38.6040). G(t) = log(Phi(-a) e^{a^2/2} / t) is
smooth and bounded there (-1.89 .. -0.69). It is fitted as a polynomial of degree 26 in s = K1 t + K0, which maps t's
range onto [-1, 1]: a Chebyshev fit (mpmath.chebyfit) at 50 digits, 4.3e-18 absolute error.
c, K1 and K0 are the doubles the C++ uses, so the fit is of the function the code evaluates.

Run: python tools/normal_tail_fit.py  (needs mpmath; takes a minute; prints the constants and
the coefficients, highest power first). tools/normal_tail_ulp.cpp measures the result.
"""

from __future__ import annotations

import mpmath as mp

mp.mp.dps = 50
A_END = mp.mpf("38.7")
DEGREE = 26


def main() -> None:
    c = mp.mpf(float(2 * mp.sqrt(2)))
    t_lo = c / (c + A_END)
    k1, k0 = float(2 / (1 - t_lo)), float(-(1 + t_lo) / (1 - t_lo))

    def g(s):
        t = (s - mp.mpf(k0)) / mp.mpf(k1)
        a = c / t - c
        tail = mp.erfc(a / mp.sqrt(2)) / 2
        return mp.log(tail * mp.exp(a * a / 2) / t)

    poly, err = mp.chebyfit(g, [-1, 1], DEGREE + 1, error=True)
    print(f"// degree {DEGREE}, fit error {mp.nstr(err, 3)}")
    print(f"c = {float(c)!r}, K1 = {k1!r}, K0 = {k0!r}")
    print(",\n".join(repr(float(p)) for p in poly))


if __name__ == "__main__":
    main()
