// fastopt/class_major_stats.hpp: the row statistics of a class-major block (class_major.hpp): per row
// the max, e = exp(x - m) and the double sum of e, and the logs of the sums, for softmax.hpp's
// short rows and cross_entropy.hpp's rows_small. The float AVX-512 form sits next to the plain
// one it mirrors (the same values).
#pragma once

#include <cstdint>
#include <limits>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#include "fastopt/class_major.hpp"
#include "fastopt/config.hpp"
#include "fastopt/losses.hpp"
#include "fastopt/math.hpp"

FASTOPT_NAMESPACE_BEGIN
FASTOPT_DETAIL_BEGIN

// Per row i < nb of a class-major block: m[i] = max_c xt[c][i] (NaN skipped), et[c][i] =
// exp(xt[c][i] - m[i]) (NaN for a NaN or all -inf row), s[i] = sum_c et[c][i] in double, the
// classes added in order. The float version on AVX-512 is below (same values).
template <class T>
FASTOPT_INLINE void max_exp_sum(const T* xt, T* et, T* m, double* s, std::int64_t C, std::int64_t nb) {
    tile_stats(xt, C, kSmallRows, nb, m, s, et);
}

// ls[i] = log(s[i]) for the row sums s in [1, C] (NaN for a NaN row), vectorized (std::log is
// a scalar call per row): float: math::log_sum, to float precision (the results are float32
// anyway); double: math::log_sum64.
template <class T>
FASTOPT_INLINE void log_sums(const double* s, double* ls, std::int64_t nb) {
    if constexpr (sizeof(T) == 4) {
        FASTOPT_SIMD
        for (std::int64_t i = 0; i < nb; ++i) ls[i] = static_cast<double>(math::log_sum(s[i]));
    } else {
        FASTOPT_SIMD
        for (std::int64_t i = 0; i < nb; ++i) ls[i] = math::log_sum64(s[i]);
    }
}

#if defined(__AVX512F__)
// max_exp_sum for float on AVX-512, 16 rows at a time (the rows in lanes, so m and s stay in
// registers across the classes). The max is `x > m ? x : m` (vmaxps(x, m): NaN skipped), the
// exp math::exp16_nonpositive (the values of math::exp_nonpositive); the sum adds the same
// terms in the same order as the plain version. Lanes past nb read zeros and are not stored.
FASTOPT_INLINE void max_exp_sum(const float* xt, float* et, float* m, double* s, std::int64_t C, std::int64_t nb) {  // overloads the template above
    for (std::int64_t i = 0; i < nb; i += 16) {
        const __mmask16 k = nb - i >= 16 ? __mmask16(0xffff) : static_cast<__mmask16>((1u << (nb - i)) - 1u);
        __m512 mi = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
        for (std::int64_t c = 0; c < C; ++c) {
            const __m512 v = _mm512_load_ps(xt + c * kSmallRows + i);
            mi = _mm512_mask_max_ps(mi, 0xffff, v, mi);
        }
        mi = _mm512_maskz_mov_ps(k, mi);
        __m512d s0 = _mm512_setzero_pd(), s1 = _mm512_setzero_pd();
        for (std::int64_t c = 0; c < C; ++c) {
            const __m512 e = math::exp16_nonpositive(_mm512_sub_ps(_mm512_load_ps(xt + c * kSmallRows + i), mi));
            _mm512_store_ps(et + c * kSmallRows + i, e);
            const __m512d ed = _mm512_castps_pd(e);
            const __m256 e0 = _mm256_castpd_ps(_mm512_mask_extractf64x4_pd(_mm256_setzero_pd(), 0xf, ed, 0));
            const __m256 e1 = _mm256_castpd_ps(_mm512_mask_extractf64x4_pd(_mm256_setzero_pd(), 0xf, ed, 1));
            s0 = _mm512_add_pd(s0, _mm512_mask_cvtps_pd(s0, 0xff, e0));
            s1 = _mm512_add_pd(s1, _mm512_mask_cvtps_pd(s1, 0xff, e1));
        }
        _mm512_mask_storeu_ps(m + i, k, mi);
        _mm512_mask_storeu_pd(s + i, static_cast<__mmask8>(k), s0);
        _mm512_mask_storeu_pd(s + i + 8, static_cast<__mmask8>(k >> 8), s1);
    }
}
#endif

FASTOPT_DETAIL_END
FASTOPT_NAMESPACE_END
