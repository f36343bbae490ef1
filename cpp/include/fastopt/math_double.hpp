// fastopt/math_double.hpp: the float64 transcendentals (include fastopt/math.hpp). exp,
// exp_nonpositive, expm1_nonpositive, log1p_unit, log_sum64, tanh and normal_tail are written
// out as the float ones are, so loops over them vectorize (std::exp is a scalar libm call:
// float64 sigmoid ran 8x slower than torch's).
//
// Max error against long double libm over 3e7 arguments each (with FMA / without): exp 0.93 /
// 1.21 ULP (all of [-700, 710]; 1.0 in the lowest normal binade, subnormal results within one
// subnormal step), expm1_nonpositive 1.13 / 1.10, log1p_unit 1.58 / 1.58, log_sum64 1.59 /
// 1.59, tanh 1.44 / 1.45 (at |x| just above 0.625); normal_tail over 2e7: 3.0 / 3.7, its
// e^{-x^2/2} 1.03 / 1.27. NaN propagates through every function.
#pragma once

#include <cstdint>

#include "fastopt/config.hpp"
#include "fastopt/math_bits.hpp"

FASTOPT_NAMESPACE_BEGIN
namespace math {

// 2^n for integer n in [-1022, 1023], built from the exponent bits.
FASTOPT_INLINE double pow2i(std::int64_t n) { return from_bits(static_cast<std::uint64_t>(n + 1023) << 52); }

// e^r for |r| <= ln2/2 (with a margin for r's rounding): 1 + r + r^2 q(r), q of degree 9, a
// minimax fit for the relative error of the whole (1.1e-17, 0.1 * 2^-53, with these double
// coefficients; tools/exp64_fit.py), one Horner chain of eleven FMAs. The degree-13 Taylor
// polynomial it replaced took two more, for float64 kernels 5-10% of their time (exp 0.87 ->
// 0.93 ULP).
inline constexpr double kExpPolyD[10] = {
    2.500004564455501e-08,  2.763031197145571e-07, 2.7557586751148416e-06, 2.480149293365168e-05,
    1.9841269505790045e-04, 1.3888888943775328e-03, 8.333333333494996e-03,  4.166666666652967e-02,
    1.666666666666641e-01,  5.000000000000011e-01};  // q's, r^11 .. r^2
FASTOPT_INLINE double exp_reduced(double r) {
    double p = kExpPolyD[0];
    for (int k = 1; k < 10; ++k) p = p * r + kExpPolyD[k];
    p = p * r + 1.0;
    return p * r + 1.0;
}

inline constexpr double kExpShifterD = 6755399441055744.0;  // 1.5 * 2^52: x + it rounds x to an integer
inline constexpr double kLog2eD = 1.4426950408889634074;
inline constexpr double kLn2HiD = 6.93147180369123816490e-01;  // 32 bits (fdlibm): n * kLn2HiD is exact
inline constexpr double kLn2LoD = 1.90821492927058770002e-10;  // ln2 - kLn2HiD
// The double exp's clamps: e^x is +inf from kExpOverflowD (ln(DBL_MAX) = 709.78 plus a
// margin) and 0 from kExpUnderflowD (below -745.13).
inline constexpr double kExpOverflowD = 710.0;
inline constexpr double kExpUnderflowD = -746.0;

// e^x: overflow to +inf above 709.78, gradual underflow (rounded once), 0 below -745.13. Cody-
// Waite reduction x = n ln2 + r (ln2 in two parts), exp_reduced, and 2^n as two factors
// 2^n1 2^n2 (n1 = n / 2 rounded, from a second shifter sum, so no 64-bit arithmetic shift,
// which AVX2 lacks), each in the normal range: an overflow or a subnormal result rounds once,
// in the last product. For x <= 0, exp_nonpositive below is cheaper (the same values).
// Accuracy: see the top of this file; tests/test_accuracy.py checks it through the float64
// sigmoid.
FASTOPT_INLINE double exp(double x) {
    x = x > kExpOverflowD ? kExpOverflowD : x;  // NaN passes through
    x = x < kExpUnderflowD ? kExpUnderflowD : x;
    const double t = x * kLog2eD + kExpShifterD;
    const double n = t - kExpShifterD;
    double r = x - n * kLn2HiD;  // exact
    r = r - n * kLn2LoD;
    const double er = exp_reduced(r);
    const double t1 = n * 0.5 + kExpShifterD;  // n1 = round(n / 2): any tie will do
    const auto ni = static_cast<std::int64_t>(bits(t) - bits(kExpShifterD));
    const auto n1 = static_cast<std::int64_t>(bits(t1) - bits(kExpShifterD));
    return er * pow2i(n1) * pow2i(ni - n1);  // NaN stays NaN
}

// e^x for x <= 0 (or NaN) only, as in exp(-|x|): exp's values there, bit for bit, with no
// overflow clamp and a cheaper 2^n, as the float exp_nonpositive: n is in [-1076, 0], so
// e_r * 2^(n + 65) is normal and exact and the product with 2^-65 rounds once, as exp's two
// factors do. The shifter carries n's bias (65 + 1023, even: the same rounding of x / ln2),
// so 2^(n + 65) is t's bits shifted into the exponent field, one instruction where exp needs
// a second shifter sum, three integer operations more and a second product.
FASTOPT_INLINE double exp_nonpositive(double x) {
    x = x < kExpUnderflowD ? kExpUnderflowD : x;  // NaN passes through
    constexpr double shifter = kExpShifterD + 1088.0;
    const double t = x * kLog2eD + shifter;
    const double n = t - shifter;
    double r = x - n * kLn2HiD;  // exact
    r = r - n * kLn2LoD;
    return exp_reduced(r) * from_bits(bits(t) << 52) * 2.7105054312137610850e-20;  // 2^-65
}

// e^x - 1 for x <= 0 (or NaN; a larger x is taken as 0), elu's: x = n ln2 + r as in exp,
// e^r - 1 = r + r^2 q(r) with q the Taylor polynomial of degree 12 (truncation 3e-19
// relative), then 2^n (e^r - 1) + (2^n - 1) with one rounding (an FMA where the ISA has it).
// n is in [-58, 0], so 2^n is normal and 2^n - 1 exact down to n = -53 (below, the result
// rounds to -1 anyway). Keeps -0.
inline constexpr double kExpm1TaylorD[13] = {
    1.0 / 87178291200.0, 1.0 / 6227020800.0, 1.0 / 479001600.0, 1.0 / 39916800.0, 1.0 / 3628800.0,
    1.0 / 362880.0,      1.0 / 40320.0,      1.0 / 5040.0,      1.0 / 720.0,      1.0 / 120.0,
    1.0 / 24.0,          1.0 / 6.0,          0.5};  // 1/14! .. 1/2!, q's r^12 .. r^0
FASTOPT_INLINE double expm1_nonpositive(double x) {
    double xc = x > 0.0 ? 0.0 : x;
    xc = xc < -40.0 ? -40.0 : xc;  // e^-40 - 1 rounds to -1; NaN passes through
    const double t = xc * kLog2eD + kExpShifterD;
    const double n = t - kExpShifterD;
    double r = xc - n * kLn2HiD;  // exact
    r = r - n * kLn2LoD;
    double q = kExpm1TaylorD[0];
    for (int k = 1; k < 13; ++k) q = q * r + kExpm1TaylorD[k];
    const double em1 = r + (r * r) * q;
    const double s = pow2i(static_cast<std::int64_t>(bits(t) - bits(kExpShifterD)));
    const double y = s * em1 + (s - 1.0);
    return x == 0.0 ? x : y;
}

// log(1 + e) for e in [0, 1] (or NaN), softplus' log1p(exp(-|z|)): the float version's
// 2 atanh(s), s = e / (2 + e) in [0, 1/3], with the series 2s + 2s^3/3 + 2s^5/5 + ... to
// s^35 (truncation below 2e-19 relative) and the same correction for the rounding of 2 + e.
FASTOPT_INLINE double log1p_unit(double e) {
    const double d = 2.0 + e;
    const double delta = e - (d - 2.0);  // exact
    double s = e / d;
    s = s - s * (delta * (0.5 - 0.16666666666666666 * e));
    const double w = s * s;
    double q = 2.0 / 35.0;
    for (int k = 16; k >= 1; --k) q = q * w + 2.0 / (2 * k + 1);  // 2/33 .. 2/3
    return (s * w) * q + (s + s);
}

// log(s) in double for s in [1, 2^1024) (a row sum of exps, at least the 1 of its maximum)
// or NaN: s = 2^e (1 + f) with f in [0, 1) exact, e ln2 (two parts) + log1p_unit(f). 1.6 ULP.
// For loops over many rows (std::log is a scalar call each).
FASTOPT_INLINE double log_sum64(double s) {
    const std::uint64_t b = bits(s);
    const double e = static_cast<double>(static_cast<std::int64_t>(b >> 52) - 1023);  // s > 0: no sign bit
    const double f = from_bits((b & std::uint64_t{0x000fffffffffffff}) | std::uint64_t{0x3ff0000000000000}) - 1.0;
    const double y = e * kLn2HiD + (log1p_unit(f) + e * kLn2LoD);
    return s == s ? y : s;
}

// tanh(x): Cephes' rational approximation x + x^3 P(x^2) / Q(x^2) for |x| < 0.625, 1 - 2e /
// (1 + e) with e = e^{-2|x|} and the sign of x beyond (exactly +-1 from |x| = 19.06, where 2e
// / (1 + e) drops below half an ULP of 1). e from exp_nonpositive: 1 - 2 / (e^{2|x|} + 1), the
// form before, took 17% longer for 0.06 ULP less (1.38 / 1.34).
FASTOPT_INLINE double tanh(double x) {
    const double z = x * x;
    const double p = (-9.64399179425052238628e-1 * z - 9.92877231001918586564e1) * z - 1.61468768441708447952e3;
    const double q = ((z + 1.12811678491632931402e2) * z + 2.23548839060100448583e3) * z + 4.84406305325125486048e3;
    const double small = x + x * z * (p / q);
    const double ax = abs(x);
    const double e = exp_nonpositive(-2.0 * ax);  // NaN passes
    const double big = 1.0 - (e + e) / (1.0 + e);
    const double sbig = from_bits(bits(big) | (bits(x) & (std::uint64_t{1} << 63)));
    const double y = ax < 0.625 ? small : sbig;
    return x == 0.0 ? x : y;
}

// a * b - p exactly, for p = a * b rounded: one FMA where the ISA has it, else Dekker's
// product with a and b split at 26 bits (exact for |a|, |b| < 2^995).
FASTOPT_INLINE double product_error(double a, double b, double p) {
#if defined(__FMA__) || defined(__ARM_FEATURE_FMA)
    return __builtin_fma(a, b, -p);
#else
    constexpr std::uint64_t head = ~std::uint64_t{0} << 27;
    const double ah = from_bits(bits(a) & head), al = a - ah;
    const double bh = from_bits(bits(b) & head), bl = b - bh;
    return ((ah * bh - p) + ah * bl + al * bh) + al * bl;
#endif
}

// The normal tail Phi(-a) for a = |x| in [0, kNormalTailEndD] (Phi(-a) rounds to 0 beyond
// 38.4854, e^{-a^2/2} beyond 38.6040) as t e^{-a^2/2 + G(t)}, t = c / (c + a), c = 2 sqrt 2: G(t) = log(Phi(-a)
// e^{a^2/2} / t) is smooth and bounded on t's range (-1.89 .. -0.69), and a polynomial of
// degree 26 in s = K1 t + K0 (s in [-1, 1]) fits it within 4.3e-18 (tools/normal_tail_fit.py:
// a Chebyshev fit with mpmath at 50 digits). Each part is kept exact or
// nearly so, because the exponent is large (a^2/2 up to 741) and any relative rounding in it
// becomes an absolute one:
//  - -a^2/2 = hi + lo exactly (product_error);
//  - t's own roundings (c + a, the division) are measured (two-sum, FMA remainder) as a
//    relative error delta, which moves s to the exact t's and enters the exponent as + delta
//    (e^delta = 1 + delta): t's error would otherwise count ~2.3 times (t G'(t) reaches 1.26);
//  - G's last Horner step is split exactly (Fast2Sum), and so is r0 + G, r0 = hi - k ln2;
//  - e^(...) then is one reduction by j ln2, exp_reduced and 2^(k + j) in two factors (the
//    subnormal results round once).
// gauss = e^{-a^2/2} from the same k and r0. Against long double erfcl over 2e7 arguments in
// [0, 38.7] (tools/normal_tail_ulp.cpp): Phi(-a) within 3.0 ULP (3.7 without FMA; 2.45 by
// mpmath at that worst point), gauss within 1.03 (1.27). The libm-based version was within
// ~1 ULP of erfc for erfc's own argument but rounded a / sqrt 2 and a^2 first (up to ~1000 ULP
// in the far tail), and a scalar call per element kept float64 gelu 3x slower than torch's:
// 2^20, 1 thread, 16.6 -> 3.9 ms (torch 5.0), its backward 19.6 -> 4.9 (6.4).
inline constexpr double kNormalTailEndD = 38.7;
inline constexpr double kNormalTailC = 2.8284271247461903;
inline constexpr double kNormalTailK1 = 2.1461719444313276;  // s = K1 t + K0 maps t in [c / (c + 38.7), 1]
inline constexpr double kNormalTailK0 = -1.1461719444313276;  // to [-1, 1]
inline constexpr double kNormalTailG[27] = {  // s^26 .. s^0 (tools/normal_tail_fit.py)
    5.719689736410438e-11, 7.1267257389894e-10, -2.659565360076071e-09, -3.0196575754922448e-09,
    2.3572879052721213e-08, -1.91903415647909e-08, -8.862212720412354e-08, 2.3415006662669203e-07,
    3.110270842391251e-08, -1.0952499223508e-06, 1.490712102390294e-06, 2.5667203964395315e-06,
    -9.6769255324415e-06, 1.7484774124590437e-06, 3.7356432909901855e-05, -4.965320726246006e-05,
    -9.890022084166659e-05, 0.00030249669524541275, 0.00013585198311802193, -0.0014145416167780356,
    0.0004184318363645704, 0.006546101180330862, -0.005106462756115529, -0.03978928869538831,
    0.0325788395355743, 0.6322215149705371, -1.3189241365359279};

// Phi(-|x|), and gauss = e^{-x^2/2}. |x| is clamped to kNormalTailEndD (NaN too: callers
// that need NaN back select it; GELU gets it from its factor x).
FASTOPT_INLINE double normal_tail(double x, double& gauss) {
    const double ax = abs(x);
    const double a = ax < kNormalTailEndD ? ax : kNormalTailEndD;
    const double p = a * a;
    const double hi = -0.5 * p;
    const double lo = -0.5 * product_error(a, a, p);
    // t = c / (c + a) = q (1 + delta)
    const double d = kNormalTailC + a;
    const double dv = d - kNormalTailC;
    const double ed = (kNormalTailC - (d - dv)) + (a - dv);  // c + a = d + ed exactly
    const double q = kNormalTailC / d;
    const double rem = -product_error(q, d, q * d) + (kNormalTailC - q * d);  // c - q d
    const double delta = (rem - ed * q) * (1.0 / kNormalTailC);
    const double s = (kNormalTailK1 * q + kNormalTailK0) + (kNormalTailK1 * q) * delta;
    double g = kNormalTailG[0];
    // GCC unrolls a constant loop whole only up to 16 trips (max-completely-peel-times);
    // left as a loop, it keeps the caller's loop over elements scalar (15x slower).
#if defined(__GNUC__)
#pragma GCC unroll 26
#endif
    for (int k = 1; k < 26; ++k) g = g * s + kNormalTailG[k];
    const double gs = g * s;
    const double gh = kNormalTailG[26] + gs;  // G = gh + gl exactly (|G[26]| >= |gs|)
    const double gl = gs - (gh - kNormalTailG[26]);
    // e^{-a^2/2}: hi = k ln2 + r0, r0 exact
    const double tk = hi * kLog2eD + kExpShifterD;
    const double k = tk - kExpShifterD;
    const double r0 = hi - k * kLn2HiD;
    const double t1 = k * 0.5 + kExpShifterD;
    const auto kk = static_cast<std::int64_t>(bits(tk) - bits(kExpShifterD));
    const auto k1 = static_cast<std::int64_t>(bits(t1) - bits(kExpShifterD));
    gauss = exp_reduced(r0 + (lo - k * kLn2LoD)) * pow2i(k1) * pow2i(kk - k1);
    // e^{r0 + G + ...}: y = r0 + gh exactly (|gh| >= 0.69 > |r0|), y = j ln2 + y2, y2 exact
    const double y = gh + r0;
    const double ey = r0 - (y - gh);
    const double tj = y * kLog2eD + kExpShifterD;
    const double j = tj - kExpShifterD;
    const double y2 = y - j * kLn2HiD;
    const double n = k + j;  // in [-1075, -1]
    const double er = exp_reduced(y2 + ((((ey + gl) + lo) + delta) - n * kLn2LoD));
    const double tn = n + kExpShifterD;
    const double t2 = n * 0.5 + kExpShifterD;
    const auto nn = static_cast<std::int64_t>(bits(tn) - bits(kExpShifterD));
    const auto n1 = static_cast<std::int64_t>(bits(t2) - bits(kExpShifterD));
    return (q * er) * pow2i(n1) * pow2i(nn - n1);
}

}  // namespace math
FASTOPT_NAMESPACE_END
