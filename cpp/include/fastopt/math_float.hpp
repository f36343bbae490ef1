// fastopt/math_float.hpp: the float32 transcendentals (include fastopt/math.hpp, which says
// why they are written out). Each hand-written AVX-512 form (exp16_nonpositive, tanh_array's
// table) sits next to the plain function it mirrors; the plain one stays the definition.
//
// Measured accuracy (max error in ULP against the double-precision libm result rounded to
// float, all float inputs in the valid range; tests/test_accuracy.py re-measures the
// activations built on these):
//   exp     valid everywhere; overflow to +inf above 88.72, gradual underflow, 0 below -103.97;
//           0.89 ULP (0.98 without FMA), every float, subnormal results included
//           (exp_nonpositive: the same values for x <= 0, without the overflow clamp)
//   expm1   valid everywhere
//   log_sum log of a double in [1, 2^127) (a softmax row sum), to float; NaN passes
//   log1p_unit  log(1 + e) for e in [0, 1] only, branch-free (softplus' log1p(exp(-|z|)))
//   tanh    valid everywhere; odd, tanh(-0) = -0
//   normal_cdf  valid everywhere; relative error in the left tail too: 6 ULP (8 without FMA),
//           every float (tools/gelu_ulp.cpp); exp_neg_half_square 1.1 (1.4)
// NaN propagates through every function.
#pragma once

#include <cstdint>

#include "fastopt/config.hpp"
#include "fastopt/map16.hpp"
#include "fastopt/math_bits.hpp"

#if defined(__AVX512F__)
#include <immintrin.h>  // exp16_nonpositive, tanh_array's register table lookups
#endif

FASTOPT_NAMESPACE_BEGIN
namespace math {

// 2^n for integer n in [-126, 127], built from the exponent bits.
FASTOPT_INLINE float pow2i(std::int32_t n) { return from_bits(static_cast<std::uint32_t>(n + 127) << 23); }

// e^r for |r| <= ln2/2 (the reduced argument of the exps below): 1 + r + r^2 q(r), q of degree
// 4, a minimax fit for the relative error of the whole (3.6e-9 with these float coefficients;
// tools/exp_fit.py). With FMA it is evaluated as one Horner chain, six FMAs; without, as
// 1 + (r + r^2 q), the small terms summed before the 1. exp_nonpositive is then within
// 0.88 ULP of e^x for every float x <= 0 (0.98 without FMA), subnormal results included.
// (Cephes' degree-7 polynomial, 1 + r + r^2 p(r), took two instructions more.)
inline constexpr float kExpPoly[5] = {1.381453825160861e-3f, 8.36874544620514e-3f, 4.166838899254799e-2f,
                                      1.666652113199234e-1f, 4.999999403953552e-1f};  // q's, r^6 .. r^2
FASTOPT_INLINE float exp_reduced(float r) {
    float p = kExpPoly[0];
    for (int k = 1; k < 5; ++k) p = p * r + kExpPoly[k];
#if defined(__FMA__) || defined(__ARM_FEATURE_FMA)
    p = p * r + 1.0f;
    return p * r + 1.0f;
#else
    return (p * (r * r) + r) + 1.0f;
#endif
}

// The exps' reduction constants: x = n ln2 + r with n = round(x log2(e)).
inline constexpr float kExpShifter = 12582912.0f;  // 1.5 * 2^23: x + it rounds x to an integer
inline constexpr float kLog2e = 1.44269504088896341f;
// The float exp's clamps: above kExpOverflowF (ln(FLT_MAX) = 88.72 plus a margin) e^x is
// +inf, below kExpUnderflowF (ln of half the smallest subnormal, -103.97, minus a margin) it
// is 0; clamping there keeps 2^n's integer arithmetic in range, and the results unchanged.
inline constexpr float kExpOverflowF = 88.8f;
inline constexpr float kExpUnderflowF = -104.0f;
inline constexpr float kLn2Hi = 0.693359375f;  // few bits: n * kLn2Hi is exact
inline constexpr float kLn2Lo = -2.12194440e-4f;  // ln2 - kLn2Hi

// e^x = e_r * 2^n for the exps below: sets e_r = e^{x - n ln2} with n = round(x / ln2)
// (Cody-Waite reduction with ln2 in two parts, the first exact, then exp_reduced) and returns
// t = n + 1.5 * 2^23 + Bias, a float whose low mantissa bits hold n + Bias. Each exp below
// differs only in how it applies 2^n. Bias is even, so t rounds x / ln2 to the same n (a tie
// rounds to even either way).
template <std::int32_t Bias = 0>
FASTOPT_INLINE float exp_split(float x, float& er) {
    static_assert(Bias % 2 == 0, "an odd bias would round ties of x / ln2 the other way");
    const float shifter = kExpShifter + static_cast<float>(Bias);
    const float t = x * kLog2e + shifter;
    const float n = t - shifter;
    float r = x - n * kLn2Hi;  // exact
    r = r - n * kLn2Lo;
    er = exp_reduced(r);
    return t;
}

// n of exp_split<0>'s t.
FASTOPT_INLINE std::int32_t exp_split_n(float t) { return static_cast<std::int32_t>(bits(t) - bits(kExpShifter)); }

// e^x for x already clamped to [kExpUnderflowF, kExpOverflowF] (or NaN): Cody-Waite
// reduction (exp_split) and 2^n applied as two factors, so results in the subnormal range
// round once.
FASTOPT_INLINE float exp_clamped(float x) {
    float er;
    const std::int32_t ni = exp_split_n(exp_split(x, er));
    const std::int32_t n1 = ni >> 1;
    const std::int32_t n2 = ni - n1;
    return er * pow2i(n1) * pow2i(n2);
}

// e^x for x in [-87, 88] only (normal results), as exp_clamped but with 2^n applied as one
// factor (exact in that range, so the same values): for callers that bound x themselves.
FASTOPT_INLINE float exp_normal(float x) {
    float er;
    const std::int32_t ni = exp_split_n(exp_split(x, er));
    return er * pow2i(ni);
}

// e^x: overflow to +inf above 88.72, gradual underflow, 0 below -103.97.
FASTOPT_INLINE float exp(float x) {
    const bool over = x > kExpOverflowF;
    const bool under = x < kExpUnderflowF;
    return exp_clamped(over ? kExpOverflowF : (under ? kExpUnderflowF : x));  // NaN passes through
}

// e^x for x <= 0 (or NaN) only, as in exp(-|x|): no overflow clamp. Equal to exp(x) there,
// bit for bit, with a cheaper 2^n: n is in [-150, 0], so e_r * 2^(n + 63) is normal and
// exact and the product with 2^-63 rounds once, as exp_clamped's two factors do. 2^(n + 63)
// is t's bits shifted into the exponent field (exp_split<190>: n + 63 + 127 in t's low bits),
// one instruction where exp_clamped needs a shift, a subtraction and two integer additions more.
FASTOPT_INLINE float exp_nonpositive(float x) {
    float er;
    const float t = exp_split<190>(x < kExpUnderflowF ? kExpUnderflowF : x, er);
    return er * from_bits(bits(t) << 23) * 1.08420217248550443e-19f;  // 2^-63
}

#if defined(__AVX512F__)
// exp_nonpositive for 16 floats, for kernels written with intrinsics (class_major_stats.hpp,
// cross_entropy_rows16.hpp): the same steps, with 2^n applied by vscalefps, which rounds
// e_r * 2^n once as exp_nonpositive's two factors do: the same values, three instructions fewer.
FASTOPT_INLINE __m512 exp16_nonpositive(__m512 x) {
    const __m512 lo = _mm512_set1_ps(kExpUnderflowF);
    x = _mm512_mask_max_ps(lo, 0xffff, lo, x);  // x < lo ? lo : x (NaN: vmaxps returns x)
    const __m512 shifter = _mm512_set1_ps(kExpShifter);
    const __m512 t = _mm512_fmadd_ps(x, _mm512_set1_ps(kLog2e), shifter);
    const __m512 n = _mm512_sub_ps(t, shifter);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(kLn2Hi), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(kLn2Lo), r);
    __m512 p = _mm512_set1_ps(kExpPoly[0]);  // exp_reduced, FMA form
    for (int k = 1; k < 5; ++k) p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(kExpPoly[k]));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    const __m512 er = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    return _mm512_mask_scalef_ps(er, 0xffff, er, n);
}
#endif

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

// expm1 for x <= 0, the name elu's rule uses for float and double alike (math_double.hpp has
// the double one).
FASTOPT_INLINE float expm1_nonpositive(float x) { return expm1(x); }

// log(2^e (1 + f)) for f in [sqrt(1/2) - 1, sqrt(2) - 1): Cephes logf's degree-9 polynomial
// in f, e ln2 added in two parts.
FASTOPT_INLINE float log_reduced(float f, std::int32_t e) {
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

// log(x) for finite x > 0 (normal). Cephes logf: x = 2^e m, m in [sqrt(1/2), sqrt(2)),
// degree-9 polynomial in f = m - 1.
FASTOPT_INLINE float log_positive(float x) {
    const std::uint32_t b = bits(x);
    std::int32_t e = static_cast<std::int32_t>(b >> 23) - 127;
    float m = from_bits((b & 0x007fffffu) | 0x3f800000u);  // [1, 2)
    const bool big = m > 1.41421356237309505f;
    m = big ? m * 0.5f : m;
    e = big ? e + 1 : e;
    return log_reduced(m - 1.0f, e);
}

// log(s) rounded to float, for a double s in [1, 2^127) (a softmax row's sum of exps, at least
// the 1 of its maximum) or NaN. The reduction runs in double, where m - 1 is exact, so only
// f's rounding to float (2^-25 relative) adds to log_positive's error: no division, no range
// checks, accurate near s = 1 too (log1p(float(s - 1)) cost a division and six selects).
FASTOPT_INLINE float log_sum(double s) {
    const std::uint64_t b = bits(s);
    std::int32_t e = static_cast<std::int32_t>(b >> 52) - 1023;  // s > 0: no sign bit
    double m = from_bits((b & std::uint64_t{0x000fffffffffffff}) | std::uint64_t{0x3ff0000000000000});  // [1, 2)
    const bool big = m > 1.4142135623730951;
    m = big ? m * 0.5 : m;
    e = big ? e + 1 : e;
    const float y = log_reduced(static_cast<float>(m - 1.0), e);
    return s == s ? y : static_cast<float>(s);
}

// log(1 + e) for e in [0, 1] (or NaN), the range of softplus' log1p(exp(-|z|)), as
// 2 atanh(s) with s = e / (2 + e) in [0, 1/3]: 2s + s^3 Q(s^2), Q a degree-3 fit to the
// series 2/3 + 2w/5 + 2w^2/7 + ... on w in [0, 1/9] (truncation < 6e-9 relative). One
// division and four FMAs instead of log's range reduction and degree-9 polynomial plus a
// correction division. d = 2 + e rounds; its error delta = e - (d - 2) is exact, and
// e / (d + delta) = s (1 - delta / d) with 1/d taken as 1/2 - e/6 (4% off, on a 2^-24
// correction). Max 2 ULP over every e (1 ULP for 93%); softplus stays within 2 ULP.
// No special cases, so no selects: the loop over log1p_unit(exp(...)) vectorizes (a general
// log1p, with its range checks, leaves GCC 12 with PHIs it cannot vectorize).
FASTOPT_INLINE float log1p_unit(float e) {
    const float d = 2.0f + e;
    const float delta = e - (d - 2.0f);
    float s = e / d;  // NaN: NaN
    s = s - s * (delta * (0.5f - 0.16666667f * e));
    const float w = s * s;
    float q = 0.28012854f;
    q = q * w + 0.28001624f;
    q = q * w + 0.4002154f;
    q = q * w + 0.6666642f;
    return (s * w) * q + (s + s);
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

// tanh_array(x, y, n): y[i] = tanh(x[i]). On AVX-512 a second algorithm, faster there: tanh(x) =
// sign(x) y(t), t = min(|x|, 9.5), with y a degree-4 polynomial on each of 32 intervals of t,
// no exp and no division. The interval is read off the bits of u = 0.87 t + 0.6: its exponent
// and top 3 mantissa bits (bits(u) >> 20, taken mod 32) give 8 intervals per octave of u over
// the 4 octaves u spans, so they are 0.029 wide at 0 and 1.0 wide near 9, where tanh is flat.
// On interval i, y = c0 + s (c1 + s (c2 + s (c3 + s c4))) with s = t - b[i], exact (b is within
// a factor 2 of every t of its interval). The interval at 0 has b = 0, c0 = 0, c1 = 1: y keeps
// full relative accuracy down to the subnormals, which it returns unchanged, and
// tanh(-0) = -0. Each 32-entry column sits in two registers and is looked up with one
// vpermt2ps per coefficient (GCC makes gathers or scalar loads of table[i], so this is
// written with intrinsics): 16 arithmetic instructions per 16 floats, against 32 with a
// vdivps for tanh() above. tools/tanh_table.py fits the table (error below 0.36 ULP before the final
// rounding); tools/tanh_ulp.py measures 1 ULP over all floats. Odd exactly; exactly +-1 from
// |x| = 8.9439 (tanh rounds to 1 from 9.0109: 1 ULP in between); NaN -> NaN, +-inf -> +-1.
// Without AVX-512 (table lookups would be gathers there) tanh_array is a loop over tanh().
#if defined(__AVX512F__)
struct TanhTable {
    alignas(64) float b[32];
    alignas(64) float c[5][32];  // c[j][i]: coefficient of s^j on interval i
};

// Generated by tools/tanh_table.py: ALPHA = 0.870000005, C = 0.600000024, T = 9.5,
// degree 4; fit error before the final rounding at most 0.355 ULP.
inline constexpr TanhTable kTanhTable = {
    {1.73708189f, 2.02135038f, 2.33153582f, 2.61354184f, 2.97110772f, 3.19464898f, 3.47689819f, 3.77790165f,
      4.19607735f, 4.75247955f, 5.33340073f, 5.91575241f, 6.45491648f, 6.93146753f, 7.62461233f, 8.31778622f,
      9.25141239f, 0.0f, 0.0564696416f, 0.132509068f, 0.205708608f, 0.263854116f, 0.34120962f, 0.426604569f,
      0.53004539f, 0.674082696f, 0.815683067f, 0.966431499f, 1.1082859f, 1.24381375f, 1.39428675f, 1.5113467f},  // b
    {
        {0.939887285f, 0.965505362f, 0.981301606f, 0.989319026f, 0.994761348f, 0.996646762f, 0.998091817f, 0.998954415f,
          0.999546826f, 0.999851048f, 0.999953389f, 0.999985456f, 0.999995053f, 0.999998093f, 0.999999523f, 0.999999881f,
          1.0f, 0.0f, 0.0564096943f, 0.131738916f, 0.202855304f, 0.25789687f, 0.328556865f, 0.402479798f,
          0.485415787f, 0.587659061f, 0.672713399f, 0.747131944f, 0.803455651f, 0.846539795f, 0.884110451f, 0.907177746f},  // c0
        {0.116611548f, 0.0677989572f, 0.0370467044f, 0.0212475471f, 0.0104500121f, 0.00669512711f, 0.00381265976f, 0.00209004711f,
          0.000905893219f, 0.00029780544f, 9.31941468e-05f, 2.9078521e-05f, 9.8923756e-06f, 3.81536393e-06f, 9.53448478e-07f, 2.38430175e-07f,
          3.6881282e-08f, 1.0f, 0.996817887f, 0.982644796f, 0.958849669f, 0.933489203f, 0.892050385f, 0.838010013f,
          0.764371753f, 0.654657304f, 0.547457159f, 0.441794217f, 0.354459286f, 0.283370525f, 0.218348771f, 0.177028537f},  // c1
        {-0.109605856f, -0.0654657036f, -0.0363533534f, -0.021020934f, -0.0103927245f, -0.00667244708f, -0.00380540872f, -0.00208764523f,
          -0.000905535067f, -0.000297946885f, -9.32313269e-05f, -2.90838707e-05f, -9.90462013e-06f, -3.82126336e-06f, -9.54270718e-07f, -2.37609811e-07f,
          -2.06267984e-07f, 5.50759466e-07f, -0.0562327504f, -0.129453599f, -0.194507807f, -0.240746051f, -0.293090045f, -0.337282151f,
          -0.371038526f, -0.38471362f, -0.368278503f, -0.330081463f, -0.284793347f, -0.239883035f, -0.193044603f, -0.160595939f},  // c2
        {0.0642211288f, 0.040704459f, 0.0234170742f, 0.0137753747f, 0.00682550156f, 0.00443999143f, 0.00254000793f, 0.00139538059f,
          0.000615634199f, 0.000202421143f, 6.3400119e-05f, 1.97928966e-05f, 6.70966983e-06f, 2.51384358e-06f, 6.48232174e-07f, 1.58726252e-07f,
          5.60946951e-08f, -0.333452612f, -0.328926384f, -0.31031248f, -0.280005455f, -0.249084532f, -0.201038793f, -0.14358972f,
          -0.0749000013f, 0.00747835543f, 0.0648728237f, 0.0990422145f, 0.11045029f, 0.108494699f, 0.09783867f, 0.0866769031f},  // c3
        {-0.0234228969f, -0.0169810578f, -0.010862546f, -0.00656737201f, -0.00383207412f, -0.00220817421f, -0.00125912961f, -0.000711935339f,
          -0.000306907954f, -9.78070893e-05f, -3.09816241e-05f, -9.80764798e-06f, -3.12004636e-06f, -9.87943622e-07f, -3.11228575e-07f, -9.86353186e-08f,
          3.00190777e-07f, 0.00728043355f, 0.0408239551f, 0.0854887515f, 0.121875577f, 0.148639023f, 0.165155858f, 0.170183718f,
          0.159767002f, 0.123161748f, 0.077991724f, 0.0368248783f, 0.00646189321f, -0.0123464214f, -0.022090476f, -0.0252645425f},  // c4
    },
};
inline constexpr float kTanhAlpha = 0.87f;  // u = t * kTanhAlpha + kTanhC
inline constexpr float kTanhC = 0.6f;
inline constexpr float kTanhClamp = 9.5f;  // y(9.5) rounds to 1; u(9.5) = 8.865 keeps the index in range

// y[i] = tanh(x[i]) for i < n (y == x allowed).
FASTOPT_INLINE void tanh_array(const float* x, float* y, std::int64_t n) {
    const TanhTable& k = kTanhTable;
    const __m512 b_lo = _mm512_load_ps(k.b), b_hi = _mm512_load_ps(k.b + 16);
    __m512 c_lo[5], c_hi[5];
    for (int j = 0; j < 5; ++j) {
        c_lo[j] = _mm512_load_ps(k.c[j]);
        c_hi[j] = _mm512_load_ps(k.c[j] + 16);
    }
    const __m512 clamp = _mm512_set1_ps(kTanhClamp);
    const __m512 alpha = _mm512_set1_ps(kTanhAlpha);
    const __m512 offset = _mm512_set1_ps(kTanhC);
    const __m512i sign = _mm512_set1_epi32(static_cast<int>(0x80000000u));
    // _mm512_min_ps and _mm512_srli_epi32 are masked builtins on an "undefined" register,
    // which GCC 12 reports as -Wmaybe-uninitialized once inlined; the min is written with an
    // all-ones mask and the shift with a vector operator instead (the same vminps and vpsrld).
    typedef std::uint32_t u32x16 __attribute__((vector_size(64)));
    const auto tanh16 = [&](__m512 v) {
        // min(clamp, |v|): vminps returns its second operand when one is NaN, so NaN passes
        // (vrangeps would do both in one instruction but returns the number for a quiet NaN).
        const __m512 t = _mm512_mask_min_ps(clamp, 0xffff, clamp, _mm512_abs_ps(v));
        const __m512i i = __builtin_bit_cast(__m512i, __builtin_bit_cast(u32x16, _mm512_fmadd_ps(t, alpha, offset)) >> 20);
        const __m512 s = _mm512_sub_ps(t, _mm512_permutex2var_ps(b_lo, i, b_hi));  // low 5 bits of i
        __m512 p = _mm512_permutex2var_ps(c_lo[4], i, c_hi[4]);
        p = _mm512_fmadd_ps(p, s, _mm512_permutex2var_ps(c_lo[3], i, c_hi[3]));
        p = _mm512_fmadd_ps(p, s, _mm512_permutex2var_ps(c_lo[2], i, c_hi[2]));
        p = _mm512_fmadd_ps(p, s, _mm512_permutex2var_ps(c_lo[1], i, c_hi[1]));
        p = _mm512_fmadd_ps(p, s, _mm512_permutex2var_ps(c_lo[0], i, c_hi[0]));
        // p | (v & sign): 0xf8 is the truth table of a | (b & c)
        return _mm512_castsi512_ps(
            _mm512_ternarylogic_epi32(_mm512_castps_si512(p), _mm512_castps_si512(v), sign, 0xf8));
    };
    map16(x, y, n, tanh16);
}
#else
FASTOPT_INLINE void tanh_array(const float* x, float* y, std::int64_t n) {
    FASTOPT_SIMD
    for (std::int64_t i = 0; i < n; ++i) y[i] = tanh(x[i]);
}
#endif

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

}  // namespace math
FASTOPT_NAMESPACE_END
