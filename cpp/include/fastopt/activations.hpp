// fastopt/activations.hpp: one small struct per activation, forward and backward per element.
//
// Each rule is plain scalar C++ on T (float or double):
//   static T forward(T x, const Coef<T>& c);
//   static T backward(T grad_out, T saved, const Coef<T>& c);   // saved: x or y, see activations.def
// The drivers (drivers.hpp) run them inside `#pragma omp simd` loops, so a rule must be
// branch-free (ternaries become blends) and call only fastopt::math, never libm for float.
// On AVX-512 some rules also carry forward_array / backward_array over float arrays: the same
// steps written with intrinsics (map16.hpp's loops), where GCC's code from the rule is slower
// (the sigmoid family's 2^n, inputs at another offset than the output). Those give the rule's
// values bit for bit; test_activations.py compares them with the AVX2 build.
// Semantics follow torch.nn.functional's CPU kernels, including their NaN rules; where
// fastopt is deliberately more stable than torch, the rule says so.
#pragma once

#include <cstdint>
#include <limits>

#include "fastopt/config.hpp"
#include "fastopt/math.hpp"
#include "fastopt/params.hpp"


FASTOPT_NAMESPACE_BEGIN

template <class T>
struct Coef {
    T a, b;
    explicit Coef(const ActivationParams& p) : a(static_cast<T>(p.a)), b(static_cast<T>(p.b)) {}
};

// 1 / (1 + exp(-x)) without overflow: e = exp(-|x|) is in (0, 1], and sigmoid is 1 / (1 + e)
// for x >= 0, e / (1 + e) below: one division, rounded once.
template <class T>
FASTOPT_INLINE T stable_sigmoid(T x) {
    const T e = math::exp_nonpositive(-math::abs(x));
    return (x >= T(0) ? T(1) : e) / (T(1) + e);
}

// sigmoid(x) and sigmoid(-x) = 1 - sigmoid(x), both without cancellation (1 - s would lose
// the digits of a small 1 - s once s is rounded near 1).
template <class T>
FASTOPT_INLINE void stable_sigmoid_pair(T x, T& s, T& one_minus_s) {
    const T e = math::exp_nonpositive(-math::abs(x));
    const T r = T(1) / (T(1) + e);
    s = x >= T(0) ? r : e * r;
    one_minus_s = x >= T(0) ? e * r : r;
}

// The sigmoid family's float arrays on AVX-512 (the rules' forward_array / backward_array
// below): the rules' own steps on 16 lanes, the same values bit for bit (tests compare with
// the AVX2 build, which runs the per-element rules), but with exp16_nonpositive, whose 2^n is
// one vscalefps where GCC makes three instructions of exp_nonpositive's, and two vectors per
// iteration (map16.hpp): ~20% faster in cache than the compiler's loop over the rule.
#if defined(__AVX512F__)
namespace v16 {
FASTOPT_INLINE __m512 exp_neg_abs(__m512 x) {  // e^{-|x|}; -|x| by setting the sign bit (one vpord)
    const __m512i sign = _mm512_set1_epi32(static_cast<int>(0x80000000u));
    return math::exp16_nonpositive(_mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(x), sign)));
}
FASTOPT_INLINE __mmask16 nonnegative(__m512 x) { return _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_GE_OQ); }
FASTOPT_INLINE __m512 one_plus(__m512 e) { return _mm512_add_ps(_mm512_set1_ps(1.0f), e); }

FASTOPT_INLINE __m512 stable_sigmoid(__m512 x) {
    const __m512 e = exp_neg_abs(x);
    return _mm512_div_ps(_mm512_mask_blend_ps(nonnegative(x), e, _mm512_set1_ps(1.0f)), one_plus(e));
}

FASTOPT_INLINE void stable_sigmoid_pair(__m512 x, __m512& s, __m512& one_minus_s) {
    const __m512 e = exp_neg_abs(x);
    const __m512 r = _mm512_div_ps(_mm512_set1_ps(1.0f), one_plus(e));
    const __m512 er = _mm512_mul_ps(e, r);
    const __mmask16 pos = nonnegative(x);
    s = _mm512_mask_blend_ps(pos, er, r);
    one_minus_s = _mm512_mask_blend_ps(pos, r, er);
}
}  // namespace v16
#endif

struct Sigmoid {
    static constexpr bool kLightBackward = true;  // drivers.hpp: no software prefetch
    template <class T> static FASTOPT_INLINE T forward(T x, const Coef<T>&) { return stable_sigmoid(x); }
#if defined(__AVX512F__)
    static FASTOPT_INLINE void forward_array(const float* x, float* y, std::int64_t n, const Coef<float>&) {
        map16(x, y, n, [](__m512 v) { return v16::stable_sigmoid(v); });
    }
#endif
    // saved = y = sigmoid(x)
    template <class T> static FASTOPT_INLINE T backward(T gy, T y, const Coef<T>&) {
        return gy * (T(1) - y) * y;
    }
#if defined(__AVX512F__)
    // The same arithmetic on 16 lanes, the inputs realigned (map16.hpp): inputs at other
    // offsets from 64 bytes than the output's cost GCC's loop ~25% in cache (it also reads y
    // twice, folding its load into both uses); this runs at the aligned speed at any offset.
    static FASTOPT_INLINE void backward_array(const float* gy, const float* y, float* out, std::int64_t n,
                                              const Coef<float>&) {
        map16<true>(gy, y, out, n, [](__m512 g, __m512 v) {
            return _mm512_mul_ps(_mm512_mul_ps(g, _mm512_sub_ps(_mm512_set1_ps(1.0f), v)), v);
        });
    }
#endif
};

struct Tanh {
    static constexpr bool kLightBackward = true;  // drivers.hpp: no software prefetch
    template <class T> static FASTOPT_INLINE T forward(T x, const Coef<T>&) { return math::tanh(x); }
    // The same values for a float array; vector code with register lookups on AVX-512.
    static FASTOPT_INLINE void forward_array(const float* x, float* y, std::int64_t n, const Coef<float>&) {
        math::tanh_array(x, y, n);
    }
    // saved = y = tanh(x)
    template <class T> static FASTOPT_INLINE T backward(T gy, T y, const Coef<T>&) {
        return gy * (T(1) - y * y);
    }
#if defined(__AVX512F__)
    // The same (1 - y^2 contracted to one FMA, as GCC does with the rule), inputs realigned.
    static FASTOPT_INLINE void backward_array(const float* gy, const float* y, float* out, std::int64_t n,
                                              const Coef<float>&) {
        map16<true>(gy, y, out, n, [](__m512 g, __m512 v) {
            return _mm512_mul_ps(g, _mm512_fnmadd_ps(v, v, _mm512_set1_ps(1.0f)));
        });
    }
#endif
};

struct Relu {
    static constexpr bool kLightBackward = true;  // drivers.hpp: no software prefetch
    // torch's clamp_min(x, 0) is x < 0 ? 0 : x: NaN passes (NaN < 0 is false) and so does -0
    // (relu(-0.0) = -0.0); a negative subnormal gives +0.
    template <class T> static FASTOPT_INLINE T forward(T x, const Coef<T>&) { return x < T(0) ? T(0) : x; }
    // torch's threshold_backward: relu'(0) = 0, a NaN input passes the gradient.
    template <class T> static FASTOPT_INLINE T backward(T gy, T x, const Coef<T>&) {
        return x <= T(0) ? T(0) : gy;
    }
#if defined(__AVX512F__)
    // The same selects on 16 lanes, inputs realigned to the output (map16.hpp), for inputs at
    // other offsets from 64 bytes than the output's.
    static FASTOPT_INLINE void forward_array(const float* x, float* y, std::int64_t n, const Coef<float>&) {
        map16<true>(x, y, n, [](__m512 v) {
            return _mm512_maskz_mov_ps(static_cast<__mmask16>(~_mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_LT_OQ)), v);
        });
    }
    static FASTOPT_INLINE void backward_array(const float* gy, const float* x, float* out, std::int64_t n,
                                              const Coef<float>&) {
        map16<true>(gy, x, out, n, [](__m512 g, __m512 v) {
            return _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_NLE_UQ), g);  // !(x <= 0)
        });
    }
#endif
};

struct LeakyRelu {  // a = negative_slope
    static constexpr bool kLightBackward = true;  // drivers.hpp: no software prefetch
    template <class T> static FASTOPT_INLINE T forward(T x, const Coef<T>& c) { return x > T(0) ? x : x * c.a; }
    template <class T> static FASTOPT_INLINE T backward(T gy, T x, const Coef<T>& c) {
        return x > T(0) ? gy : gy * c.a;
    }
#if defined(__AVX512F__)
    static FASTOPT_INLINE void forward_array(const float* x, float* y, std::int64_t n, const Coef<float>& c) {
        const __m512 slope = _mm512_set1_ps(c.a);
        map16<true>(x, y, n, [slope](__m512 v) {
            return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_GT_OQ), _mm512_mul_ps(v, slope), v);
        });
    }
    static FASTOPT_INLINE void backward_array(const float* gy, const float* x, float* out, std::int64_t n,
                                              const Coef<float>& c) {
        const __m512 slope = _mm512_set1_ps(c.a);
        map16<true>(gy, x, out, n, [slope](__m512 g, __m512 v) {
            return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_GT_OQ), _mm512_mul_ps(g, slope), g);
        });
    }
#endif
};

struct Softplus {  // a = beta, b = threshold
    // torch: beta*x > threshold ? x : log1p(exp(beta*x)) / beta, evaluated without overflow
    // as (max(z, 0) + log1p(exp(-|z|))) / beta.
    // The division by beta is a multiplication by 1 / beta (hoisted out of the loop): exact
    // when beta is a power of two (the default 1 included), within 1 more ULP otherwise.
    template <class T> static FASTOPT_INLINE T forward(T x, const Coef<T>& c) {
        const T z = x * c.a;
        const T inv_beta = T(1) / c.a;
        const T soft = ((z > T(0) ? z : T(0)) + math::log1p_unit(math::exp_nonpositive(-math::abs(z)))) * inv_beta;
        return z > c.b ? x : soft;
    }
    // torch computes exp(z) / (exp(z) + 1), which is NaN once exp(z) overflows (threshold
    // above ~88); fastopt uses the stable sigmoid, equal everywhere torch is finite.
    template <class T> static FASTOPT_INLINE T backward(T gy, T x, const Coef<T>& c) {
        const T z = x * c.a;
        return z > c.b ? gy : gy * stable_sigmoid(z);
    }
#if defined(__AVX512F__)
    static FASTOPT_INLINE void backward_array(const float* gy, const float* x, float* out, std::int64_t n,
                                              const Coef<float>& c) {
        // torch's defaults, beta = 1 and threshold = 20, need neither the product z = x beta
        // nor the select: above 17, e^-z < 2^-24, so sigmoid(z) rounds to 1 and gy * sigmoid(z)
        // is gy (+inf included; a NaN z fails z > threshold either way). Three instructions of
        // ~24 per vector fewer.
        if (c.a == 1.0f && c.b >= 17.0f) {
            map16(gy, x, out, n, [](__m512 g, __m512 v) { return _mm512_mul_ps(g, v16::stable_sigmoid(v)); });
            return;
        }
        const __m512 beta = _mm512_set1_ps(c.a), threshold = _mm512_set1_ps(c.b);
        map16(gy, x, out, n, [beta, threshold](__m512 g, __m512 v) {
            const __m512 z = _mm512_mul_ps(v, beta);
            const __m512 soft = _mm512_mul_ps(g, v16::stable_sigmoid(z));
            return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(z, threshold, _CMP_GT_OQ), soft, g);
        });
    }
#endif
};

struct Elu {  // a = alpha
    // x < 0 ? alpha * expm1(x) : x, as torch: both zeros and NaN come back as they went in
    // (with x <= 0, elu(+-0) would be alpha * (+-0), the wrong sign for alpha < 0).
    template <class T> static FASTOPT_INLINE T forward(T x, const Coef<T>& c) {
        return x < T(0) ? math::expm1_nonpositive(x) * c.a : x;
    }
    // From the input, as torch's elu_backward(is_result=false); a NaN input passes gy.
    template <class T> static FASTOPT_INLINE T backward(T gy, T x, const Coef<T>& c) {
        return x <= T(0) ? gy * c.a * math::exp(x) : gy;
    }
};

struct Gelu {  // approximate='none': x * Phi(x)
    // Phi(x) from the normal tail Phi(-|x|) (math.hpp), 1 - tail for x > 0: no cancellation
    // for x < 0, where torch's 0.5 * (1 + erf(x / sqrt 2)) loses all digits beyond x < -5.
    // A NaN x gets a NaN or 0 tail (float: 0) and gives NaN through the factor x.
    template <class T> static FASTOPT_INLINE T forward(T x, const Coef<T>&) {
        T gauss;
        const T tail = math::normal_tail(x, gauss);
        return x * (x > T(0) ? T(1) - tail : tail);
    }
    // d/dx = Phi(x) + x * phi(x), phi(x) = e^{-x^2/2} / sqrt(2 pi): one exp serves both.
    template <class T> static FASTOPT_INLINE T backward(T gy, T x, const Coef<T>&) {
        T gauss;
        const T tail = math::normal_tail(x, gauss);
        const T cdf = x > T(0) ? T(1) - tail : tail;
        return gy * (cdf + (x * T(0.39894228040143267794)) * gauss);
    }
};

struct GeluTanh {  // approximate='tanh': 0.5 x (1 + tanh(u)), u = sqrt(2/pi) (x + 0.044715 x^3)
    static constexpr double kBeta = 0.79788456080286535588;  // sqrt(2 / pi)
    static constexpr double kKappa = 0.044715;
    template <class T> static FASTOPT_INLINE T inner(T x) { return T(kBeta) * (x + T(kKappa) * x * x * x); }
    // 0.5 (1 + tanh(u)) = sigmoid(2u), which has no cancellation for negative x.
    template <class T> static FASTOPT_INLINE T forward(T x, const Coef<T>&) {
        return x * stable_sigmoid(T(2) * inner(x));
    }
    // d/dx = s + x * 2 s (1 - s) * u'(x), s = sigmoid(2u), u' = sqrt(2/pi) (1 + 3 * 0.044715 x^2).
    // Where s (1 - s) underflows to 0 for a finite x, the second term is exactly 0 (it would
    // otherwise be 0 * inf = NaN for |x| > 1.8e19 in float32, as it is in torch).
    template <class T> static FASTOPT_INLINE T backward(T gy, T x, const Coef<T>&) {
        T s, sc;
        stable_sigmoid_pair(T(2) * inner(x), s, sc);
        const T w = s * sc;
        const T slope = x * T(2) * w * (T(kBeta) * (T(1) + T(3 * kKappa) * x * x));
        const bool negligible = w == T(0) && math::abs(x) < std::numeric_limits<T>::infinity();
        return gy * (s + (negligible ? T(0) : slope));  // +-inf: NaN, as torch
    }
};

struct Silu {  // x * sigmoid(x)
    // x / (1 + e) for x >= 0, x e / (1 + e) below (e = exp(-|x|)): stable_sigmoid's one
    // division, with x folded into its numerator.
    template <class T> static FASTOPT_INLINE T forward(T x, const Coef<T>&) {
        const T e = math::exp_nonpositive(-math::abs(x));
        return (x >= T(0) ? x : x * e) / (T(1) + e);
    }
    template <class T> static FASTOPT_INLINE T backward(T gy, T x, const Coef<T>&) {
        T s, sc;
        stable_sigmoid_pair(x, s, sc);
        return gy * s * (T(1) + x * sc);
    }
#if defined(__AVX512F__)
    static FASTOPT_INLINE void forward_array(const float* x, float* y, std::int64_t n, const Coef<float>&) {
        map16(x, y, n, [](__m512 v) {
            const __m512 e = v16::exp_neg_abs(v);
            const __m512 num = _mm512_mask_blend_ps(v16::nonnegative(v), _mm512_mul_ps(v, e), v);
            return _mm512_div_ps(num, v16::one_plus(e));
        });
    }
    static FASTOPT_INLINE void backward_array(const float* gy, const float* x, float* out, std::int64_t n,
                                              const Coef<float>&) {
        map16(gy, x, out, n, [](__m512 g, __m512 v) {
            __m512 s, sc;
            v16::stable_sigmoid_pair(v, s, sc);
            return _mm512_mul_ps(_mm512_mul_ps(g, s), _mm512_fmadd_ps(v, sc, _mm512_set1_ps(1.0f)));
        });
    }
#endif
};

// ---- PReLU: a weight per channel (axis 1), viewed as (outer, channels, inner) ---------------
//
// Walks [begin, end) of the flat array in runs of constant channel (inner > 1) or, when
// inner == 1 and channels > 1, in runs along the channel axis with a weight vector.
// op(i_first, count, w_ptr, w_stride) handles one run; w_stride is 0 or 1.
template <class Op>
FASTOPT_INLINE void prelu_runs(std::int64_t begin, std::int64_t end, std::int64_t channels,
                               std::int64_t inner, const Op& op) {
    std::int64_t i = begin;
    if (inner == 1 && channels > 1) {
        while (i < end) {
            const std::int64_t c = i % channels;
            std::int64_t len = channels - c;
            if (len > end - i) len = end - i;
            op(i, len, c, std::int64_t{1});
            i += len;
        }
    } else {
        while (i < end) {
            const std::int64_t c = (i / inner) % channels;
            std::int64_t len = inner - i % inner;
            if (len > end - i) len = end - i;
            op(i, len, c, std::int64_t{0});
            i += len;
        }
    }
}

FASTOPT_NAMESPACE_END
