// fastopt/math.hpp: float32 transcendentals that vectorize, with stated accuracy.
//
// std::exp and friends stay scalar libm calls inside a `#pragma omp simd` loop (unless
// -ffast-math, which fastopt never uses), so the float versions here are branch-free
// polynomial code: ternaries become blends, bit casts replace frexp/ldexp, there are no
// tables. They are written for `a * b + c` to be contracted to FMA where the ISA has it
// (-ffp-contract=fast) and are accurate with or without that contraction.
// The double overloads call the C library for now (correctly rounded or within 1 ULP).
//
// Measured accuracy (max error in ULP against the double-precision libm result rounded to
// float, all float inputs in the valid range; tests/test_accuracy.py re-measures the
// activations built on these):
//   exp     valid everywhere; overflow to +inf above 88.72, gradual underflow, 0 below -103.97
//           (exp_nonpositive: the same values for x <= 0, without the overflow clamp)
//   expm1   valid everywhere
//   log1p   valid for x >= -1 (log1p(-1) = -inf, NaN below)
//           (log1p_unit: for x in [0, 1] only, branch-free; softplus' log1p(exp(-|z|)))
//   tanh    valid everywhere; odd, tanh(-0) = -0
//   erfc    valid everywhere; small relative error down to its underflow near x = 10.05
//   normal_cdf  valid everywhere; relative error in the left tail too: 6 ULP (8 without FMA),
//           every float (tools/gelu_ulp.cpp); normal_pdf and exp_neg_half_square 1.1 (1.4)
// NaN propagates through every function.
#pragma once

#include <cmath>
#include <cstdint>

#include "fastopt/config.hpp"

FASTOPT_NAMESPACE_BEGIN
namespace math {

FASTOPT_INLINE std::uint32_t bits(float x) { return __builtin_bit_cast(std::uint32_t, x); }
FASTOPT_INLINE float from_bits(std::uint32_t b) { return __builtin_bit_cast(float, b); }

FASTOPT_INLINE float abs(float x) { return from_bits(bits(x) & 0x7fffffffu); }
FASTOPT_INLINE double abs(double x) { return __builtin_fabs(x); }

// 2^n for integer n in [-126, 127], built from the exponent bits.
FASTOPT_INLINE float pow2i(std::int32_t n) { return from_bits(static_cast<std::uint32_t>(n + 127) << 23); }

// e^r for |r| <= ln2/2 (the reduced argument of the exps below): Cephes' degree-7 polynomial.
FASTOPT_INLINE float exp_reduced(float r) {
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    return p * (r * r) + r + 1.0f;
}

// e^{hi + lo} for hi exact and |lo| <= 2, without rounding hi + lo first: the reduction
// r = hi - n ln2 is exact, so lo is added to a small r. Cody-Waite reduction with ln2 in two
// parts, Cephes' degree-7 polynomial for e^r, and 2^n applied as two factors so results in
// the subnormal range round once.
FASTOPT_INLINE float exp_sum(float hi, float lo) {
    const float s = hi + lo;
    const bool over = s > 88.8f;     // overflows to +inf below
    const bool under = s < -104.0f;  // underflows to 0 below
    hi = over ? 88.8f : (under ? -104.0f : hi);  // NaN passes through
    lo = (over || under) ? 0.0f : lo;
    const float shifter = 12582912.0f;  // 1.5 * 2^23
    const float t = (hi + lo) * 1.44269504088896341f + shifter;  // round(s / ln2)
    const float n = t - shifter;
    const std::int32_t ni = static_cast<std::int32_t>(bits(t) - bits(shifter));
    float r = hi - n * 0.693359375f;  // exact: n * 0.693359375 has few bits
    r = r + lo;
    r = r - n * -2.12194440e-4f;
    const float er = exp_reduced(r);
    const std::int32_t n1 = ni >> 1;
    const std::int32_t n2 = ni - n1;
    return er * pow2i(n1) * pow2i(n2);  // NaN stays NaN through every step
}

// exp_sum(x, 0) for x already clamped to [-104, 88.8] (or NaN), without the additions of lo:
// x + 0.0f cannot be folded away (it turns -0 into +0), so exp_sum(x, 0) pays for them, and
// for the selects that clamp lo. The same operations otherwise, so the same results.
FASTOPT_INLINE float exp_clamped(float x) {
    const float shifter = 12582912.0f;  // 1.5 * 2^23
    const float t = x * 1.44269504088896341f + shifter;  // round(x / ln2)
    const float n = t - shifter;
    const std::int32_t ni = static_cast<std::int32_t>(bits(t) - bits(shifter));
    float r = x - n * 0.693359375f;  // exact
    r = r - n * -2.12194440e-4f;
    const float er = exp_reduced(r);
    const std::int32_t n1 = ni >> 1;
    const std::int32_t n2 = ni - n1;
    return er * pow2i(n1) * pow2i(n2);
}

// e^x for x in [-87, 88] only (normal results), as exp_clamped but with 2^n applied as one
// factor (exact in that range, so the same values): for callers that bound x themselves.
FASTOPT_INLINE float exp_normal(float x) {
    const float shifter = 12582912.0f;
    const float t = x * 1.44269504088896341f + shifter;
    const float n = t - shifter;
    const std::int32_t ni = static_cast<std::int32_t>(bits(t) - bits(shifter));
    float r = x - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    const float er = exp_reduced(r);
    return er * pow2i(ni);
}

// e^x: overflow to +inf above 88.72, gradual underflow, 0 below -103.97.
FASTOPT_INLINE float exp(float x) {
    const bool over = x > 88.8f;
    const bool under = x < -104.0f;
    return exp_clamped(over ? 88.8f : (under ? -104.0f : x));  // NaN passes through
}

// e^x for x <= 0 (or NaN) only, as in exp(-|x|): no overflow clamp. Equal to exp(x) there.
FASTOPT_INLINE float exp_nonpositive(float x) { return exp_clamped(x < -104.0f ? -104.0f : x); }

// e^x - 1. Taylor polynomial to degree 8 for |x| <= 0.5 (error < 6e-9 relative), exp(x) - 1
// beyond, where the subtraction loses at most a factor 2.6 of relative accuracy.
FASTOPT_INLINE float expm1(float x) {
    float p = 2.4801587301587302e-5f;  // 1/8!
    p = p * x + 1.9841269841269841e-4f;
    p = p * x + 1.3888888888888889e-3f;
    p = p * x + 8.3333333333333333e-3f;
    p = p * x + 4.1666666666666667e-2f;
    p = p * x + 1.6666666666666667e-1f;
    p = p * x + 0.5f;
    const float small = (x * x) * p + x;
    const float large = exp(x) - 1.0f;
    const float y = abs(x) <= 0.5f ? small : large;
    return x == 0.0f ? x : y;  // keeps -0
}

// log(x) for finite x > 0 (normal). Cephes logf: x = 2^e m, m in [sqrt(1/2), sqrt(2)),
// degree-9 polynomial in f = m - 1.
FASTOPT_INLINE float log_positive(float x) {
    const std::uint32_t b = bits(x);
    std::int32_t e = static_cast<std::int32_t>(b >> 23) - 127;
    float m = from_bits((b & 0x007fffffu) | 0x3f800000u);  // [1, 2)
    const bool big = m > 1.41421356237309505f;
    m = big ? m * 0.5f : m;
    e = big ? e + 1 : e;
    const float f = m - 1.0f;
    const float z = f * f;
    float p = 7.0376836292e-2f;
    p = p * f - 1.1514610310e-1f;
    p = p * f + 1.1676998740e-1f;
    p = p * f - 1.2420140846e-1f;
    p = p * f + 1.4249322787e-1f;
    p = p * f - 1.6668057665e-1f;
    p = p * f + 2.0000714765e-1f;
    p = p * f - 2.4999993993e-1f;
    p = p * f + 3.3333331174e-1f;
    const float fe = static_cast<float>(e);
    float y = p * f * z;
    y = y + fe * -2.12194440e-4f;
    y = y - 0.5f * z;
    return f + y + fe * 0.693359375f;
}

// log(1 + x): u = 1 + x rounded, then log(u) * x / (u - 1) corrects the rounding of u
// (Goldberg); x itself when u == 1.
FASTOPT_INLINE float log1p(float x) {
    const float u = 1.0f + x;
    const float um1 = u - 1.0f;
    const float safe_u = (u > 0.0f && u < 3.0e38f) ? u : 1.0f;  // keep log_positive in range
    const float safe_um1 = um1 == 0.0f ? 1.0f : um1;
    float y = log_positive(safe_u) * (x / safe_um1);
    y = um1 == 0.0f ? x : y;
    y = u >= 3.0e38f ? log_positive(x) : y;  // u rounded up near the top: log1p(x) = log(x)
    y = x == -1.0f ? -__builtin_inff() : y;
    y = x < -1.0f ? __builtin_nanf("") : y;
    y = x == __builtin_inff() ? x : y;
    return x != x ? x : y;
}

// log(1 + e) for e in [0, 1] (or NaN), the range of softplus' log1p(exp(-|z|)). u = 1 + e
// rounds; c = e - (u - 1) is that rounding error, exactly (u - 1 is exact in [1, 2]), and
// log(1 + e) = log(u + c) = log(u) + c / u to well below an ULP. For e < 2^-24, u = 1 and the
// result is c = e. No special cases, so no selects: unlike log1p above (whose range checks,
// once inlined after exp, leave GCC 12 with boolean PHIs it cannot vectorize), this one
// keeps a loop over log1p_unit(exp(...)) vectorized.
FASTOPT_INLINE float log1p_unit(float e) {
    const float u = 1.0f + e;
    const float c = e - (u - 1.0f);
    return log_positive(u) + c / u;  // NaN: c is NaN
}

// tanh(x): Cephes' odd polynomial for |x| < 0.625, 1 - 2 / (e^{2|x|} + 1) with the sign of x
// beyond (saturates to exactly +-1).
FASTOPT_INLINE float tanh(float x) {
    const float z = x * x;
    float p = -5.70498872745e-3f;
    p = p * z + 2.06390887954e-2f;
    p = p * z - 5.37397155531e-2f;
    p = p * z + 1.33314422036e-1f;
    p = p * z - 3.33332819422e-1f;
    const float small = (p * z) * x + x;
    const float ax = abs(x);
    // tanh rounds to 1 for |x| > 9.01, so 2|x| is capped at 20 (NaN passes): e^{2|x|} then
    // needs no range clamps and a single scaling.
    const float cx = ax > 10.0f ? 10.0f : ax;
    const float big = 1.0f - 2.0f / (exp_normal(2.0f * cx) + 1.0f);
    const float sbig = from_bits(bits(big) | (bits(x) & 0x80000000u));
    const float y = ax < 0.625f ? small : sbig;
    return x == 0.0f ? x : y;
}

// -x^2 / 2 as hi + lo with hi exact: x = xh + xl with xh holding 12 significant bits, so
// xh * xh is exact and lo is small (|lo| <= x^2 / 2048). Rounding x * x instead would cost
// ~x^2 * 2^-24 relative error in e^{-x^2/2} (dozens of ULP at x = 10). |x| is capped at 16,
// where e^-128 is already 0 in float, so the square stays finite (NaN passes).
FASTOPT_INLINE void neg_half_square(float x, float& hi, float& lo) {
    x = abs(x) > 16.0f ? 16.0f : x;
    const float xh = from_bits(bits(x) & 0xfffff000u);
    const float xl = x - xh;
    hi = -0.5f * (xh * xh);
    lo = -0.5f * ((2.0f * xh + xl) * xl);
}

// erfc(z) for z >= 0 as t * e^{P(t) - z^2}, t = 1 / (1 + z/2), P the degree-9 Chebyshev fit
// of Numerical Recipes' erfcc (fractional error < 1.2e-7). -z^2 = hi + lo (hi exact) is
// passed in; the small lo joins P in the exponent, and one exp_sum takes both parts.
FASTOPT_INLINE float erfc_nonneg(float z, float hi, float lo) {
    const float t = 1.0f / (1.0f + 0.5f * z);
    float p = 0.17087277f;
    p = p * t - 0.82215223f;
    p = p * t + 1.48851587f;
    p = p * t - 1.13520398f;
    p = p * t + 0.27886807f;
    p = p * t - 0.18628806f;
    p = p * t + 0.09678418f;
    p = p * t + 0.37409196f;
    p = p * t + 1.00002368f;
    p = p * t - 1.26551223f;
    return t * exp_sum(hi, p + lo);
}

// erfc(x) = 1 - erf(x), without cancellation for large x; erfc(-x) = 2 - erfc(x).
FASTOPT_INLINE float erfc(float x) {
    const float z = abs(x);
    float hi, lo;
    neg_half_square(z * 1.41421356237309505f, hi, lo);  // -z^2 (sqrt2 z rounds; see normal_cdf)
    const float r = erfc_nonneg(z, hi, lo);
    const float y = x < 0.0f ? 2.0f - r : r;
    return x != x ? x : y;
}

// ---- The standard normal distribution, for GELU --------------------------------------------
//
// For a = |x|: Phi(-a) = e^{-a^2/2} R(a), where R(a) = Phi(-a) e^{a^2/2} (Mills' ratio over
// sqrt(2 pi)) is smooth and bounded, 0.5 at a = 0 falling like 1/(a sqrt(2 pi)). One exp and
// one rational function give Phi(-a) with small relative error for every a, and the same
// e^{-a^2/2} gives the density: no separate central formula to blend in, no cancellation,
// and GELU's backward shares all of the work with its forward. Phi(x) = 1 - Phi(-a) for
// x > 0, where Phi(-a) <= 0.5 (no cancellation either).
// a is clamped to kNormalTailEnd, where e^{-a^2/2} comes out exactly 0 (see below); from
// a = 14.4445 on, the zero replaces a Phi(-a) < 2^-155, so x Phi(x) still rounds right
// (to -0), and x phi(x) (GELU's backward) loses at most 3 subnormal ULPs (< 5e-45).
constexpr float kNormalTailEnd = 14.46875f;

// e^{-a^2/2} for a in [0, kNormalTailEnd] (or NaN), with a^2 formed exactly and gradual
// underflow; exactly 0 for a in [14.4445, kNormalTailEnd]. Within 1.06 ULP of the exact
// value (1.31 without FMA), all normal results. e^{-a^2/2} = 2^n e^{r2/2} with
// n = -round(a^2 / (2 ln2)) in [-151, 0] and r2 = -a^2 - 2n ln2, |r2| <= ln2 (+ 2e-5):
//  - r2 is formed without rounding a^2: with FMA, fma(-a, a, -2n ln2_hi) holds a * a
//    exactly and rounds once; without, a = ah + al with ah of 12 bits (ah * ah exact, the
//    rest small). 2n ln2_hi is exact (ln2_hi has 9 bits); -2n ln2_lo is added after.
//  - e^{r2/2}: degree-6 minimax polynomial (relative error 4e-9), its coefficients scaled
//    by 2^-24 so that the scale 2^(n+24) is a normal float for every n: the one product
//    p * 2^(n+24) rounds once, also into the subnormal range.
//  - 2^(n+24) comes from t = a^2 * (-log2(e)/2) + (1.5 * 2^23 + 151): the addition rounds
//    to an integer, so t's low bits are n + 151, and bits(t) << 23 is the float with biased
//    exponent n + 151. At n = -151 (a >= 14.4445) that is +0: the tail ends without a select.
FASTOPT_INLINE float exp_neg_half_square(float a) {
    const float shifter = 12583063.0f;  // 1.5 * 2^23 + 151
    const float t = a * (a * -0.72134752044448170368f) + shifter;
    const float n = t - shifter;
#if defined(__FMA__) || defined(__ARM_FEATURE_FMA)
    float r2 = __builtin_fmaf(-a, a, n * -1.38671875f);
#else
    const float ah = from_bits(bits(a) & 0xfffff000u);
    const float al = a - ah;
    float r2 = (n * -1.38671875f - ah * ah) - (ah + a) * al;  // the first difference is exact
#endif
    r2 = n * 4.24388880e-4f + r2;  // -2n ln2_lo
    constexpr float k = 0x1p-24f;
    float p = 2.1585216018138453e-05f * k;
    p = p * r2 + 2.6152329519391060e-04f * k;
    p = p * r2 + 2.6042743120342493e-03f * k;
    p = p * r2 + 2.0833151414990425e-02f * k;
    p = p * r2 + 1.2499998509883880e-01f * k;
    p = p * r2 + 0.5f * k;
    p = p * r2 + k;
    return p * from_bits(bits(t) << 23);  // NaN stays NaN
}

// R(a) = Phi(-a) e^{a^2/2} for a in [0, kNormalTailEnd]: a (4, 5) rational minimax fit in a
// (relative error 1.5e-8 with these float coefficients; R(0) = 0.5 exactly). The
// coefficients are all positive, so Horner's rule does not cancel, but for large a each
// step's rounding passes on almost whole: within 5.4 ULP of R (6.3 without FMA), the
// largest error in GELU. (A polynomial in t = 1/(1 + 0.3a) would need degree 9, cost two
// more instructions and evaluate no better, 4.3 ULP.)
FASTOPT_INLINE float normal_tail_ratio(float a) {
    float num = 4.0832762606441975e-03f;
    num = num * a + 4.0426049381494522e-02f;
    num = num * a + 1.8264427781105042e-01f;
    num = num * a + 4.3753466010093690e-01f;
    num = num * a + 0.5f;
    float den = 1.0235132649540901e-02f;
    den = den * a + 1.0133967548608780e-01f;
    den = den * a + 4.6790394186973570e-01f;
    den = den * a + 1.2001086473464966e+00f;
    den = den * a + 1.6729543209075928e+00f;
    den = den * a + 1.0f;
    return num / den;
}

// |x| clamped to kNormalTailEnd; NaN becomes kNormalTailEnd (callers that need NaN back,
// normal_cdf, select it; GELU gets it from its factor x). An integer min on the bits (|x|
// orders like its bits): GCC 12 keeps that one vpminud, where from a float select it
// propagated the clamp's constant into both arms of every later operation (10 more
// instructions per vector). x86-64's baseline (SSE2) has no packed 32-bit min, so there
// the float select is the cheaper one (a minps; the 4-lane loop takes the extra work).
FASTOPT_INLINE float normal_tail_arg(float x) {
#if defined(__SSE2__) && !defined(__SSE4_1__)
    const float ax = abs(x);
    return ax < kNormalTailEnd ? ax : kNormalTailEnd;
#else
    const std::uint32_t b = bits(x) & 0x7fffffffu;
    const std::uint32_t end = 0x41678000u;  // bits(kNormalTailEnd)
    return from_bits(b < end ? b : end);
#endif
}

// Phi(-|x|), and gauss = e^{-x^2/2}. NaN x gives 0 for both (see normal_tail_arg).
FASTOPT_INLINE float normal_tail(float x, float& gauss) {
    const float a = normal_tail_arg(x);
    gauss = exp_neg_half_square(a);
    return gauss * normal_tail_ratio(a);
}

// The standard normal CDF Phi(x), with small relative error for x < 0 too (where torch's
// 0.5 * (1 + erf(x / sqrt 2)) cancels). NaN propagates.
FASTOPT_INLINE float normal_cdf(float x) {
    float gauss;
    const float tail = normal_tail(x, gauss);
    const float y = x > 0.0f ? 1.0f - tail : tail;
    return x != x ? x : y;
}

// The standard normal density phi(x) = e^{-x^2/2} / sqrt(2 pi). NaN propagates.
FASTOPT_INLINE float normal_pdf(float x) {
    const float y = exp_neg_half_square(normal_tail_arg(x)) * 0.39894228040143267794f;
    return x != x ? x : y;
}

// ---- float64: the C library, for now (scalar calls; correct, not vectorized) ----------------
FASTOPT_INLINE double exp(double x) { return std::exp(x); }
FASTOPT_INLINE double exp_nonpositive(double x) { return std::exp(x); }
FASTOPT_INLINE double expm1(double x) { return std::expm1(x); }
FASTOPT_INLINE double log1p(double x) { return std::log1p(x); }
FASTOPT_INLINE double log1p_unit(double x) { return std::log1p(x); }
FASTOPT_INLINE double tanh(double x) { return std::tanh(x); }
FASTOPT_INLINE double erfc(double x) { return std::erfc(x); }
FASTOPT_INLINE double normal_cdf(double x) { return 0.5 * std::erfc(x * -0.70710678118654752440); }
FASTOPT_INLINE double normal_pdf(double x) { return std::exp(-0.5 * x * x) * 0.39894228040143267794; }
// Phi(-|x|) and e^{-x^2/2}, as the float version.
FASTOPT_INLINE double normal_tail(double x, double& gauss) {
    gauss = std::exp(-0.5 * x * x);
    return 0.5 * std::erfc(abs(x) * 0.70710678118654752440);
}

}  // namespace math
FASTOPT_NAMESPACE_END
