// fastopt/class_major.hpp: blocks of short rows between row-major memory and a class-major buffer
// (row i of the block in lane i of each class's vector), for the kernels over rows too short to
// vectorize along (cross_entropy's rows_small, softmax and log_softmax over rows of at most 32:
// cross_entropy.hpp, softmax.hpp; their statistics over such a block: class_major_stats.hpp).
// Compiled for the including translation unit's ISA: intrinsics only under the ISA's macros,
// plain loops otherwise.
#pragma once

#include <cstdint>

#if defined(__AVX512F__) || defined(__AVX2__)
#include <immintrin.h>
#endif

#include "fastopt/config.hpp"

FASTOPT_NAMESPACE_BEGIN
FASTOPT_DETAIL_BEGIN

constexpr std::int64_t kSmallRows = 64;  // rows per block: the class-major buffers' stride

// The block transposes between nb <= kSmallRows row-major rows of C <= 32 classes (stride C)
// and a class-major buffer (stride kSmallRows, 64-byte aligned): to_class_major sets
// xt[c * R + i] = xb[i * C + c], to_row_major sets gb[i * C + c] = et[c * R + i]. As plain
// loops (the generic build) one side is strided, so GCC makes them scalar: an element at a
// time, half of cross_entropy's rows_small time at C = 10. The versions below transpose
// tiles in registers instead (float: 16 x 16 on AVX-512, 8 x 8 on AVX2; double: 8 x 8 and
// 4 x 4): masked loads and stores of a tile's classes from each row, so nothing outside the
// rows [0, nb) and classes [0, C) is read or written. Data is moved, not computed: same
// values. (The double tiles took float64 cross_entropy (65536, 10) from
// 1.27-1.39 to 1.13-1.26 ms on 1 thread, softmax from 1.06-1.17 to 0.92-0.95.)
template <class T>
FASTOPT_INLINE void to_class_major(const T* xb, std::int64_t C, std::int64_t nb, T* xt) {
    for (std::int64_t c = 0; c < C; ++c) {
        T* xc = xt + c * kSmallRows;
        FASTOPT_SIMD
        for (std::int64_t i = 0; i < nb; ++i) xc[i] = xb[i * C + c];
    }
}

template <class T>
FASTOPT_INLINE void to_row_major(const T* et, std::int64_t C, std::int64_t nb, T* gb) {
    for (std::int64_t i = 0; i < nb; ++i) {
        FASTOPT_SIMD
        for (std::int64_t c = 0; c < C; ++c) gb[i * C + c] = et[c * kSmallRows + i];
    }
}

#if defined(__AVX512F__)
// The plain shuffle intrinsics are masked builtins on an "undefined" register, which GCC 12
// reports as -Wmaybe-uninitialized once inlined; these all-ones-mask forms are the same
// instructions without the warning.
FASTOPT_INLINE __m512 unpacklo32(__m512 a, __m512 b) { return _mm512_mask_unpacklo_ps(a, 0xffff, a, b); }
FASTOPT_INLINE __m512 unpackhi32(__m512 a, __m512 b) { return _mm512_mask_unpackhi_ps(a, 0xffff, a, b); }
FASTOPT_INLINE __m512 unpacklo64(__m512 a, __m512 b) {
    const __m512d x = _mm512_castps_pd(a);
    return _mm512_castpd_ps(_mm512_mask_unpacklo_pd(x, 0xff, x, _mm512_castps_pd(b)));
}
FASTOPT_INLINE __m512 unpackhi64(__m512 a, __m512 b) {
    const __m512d x = _mm512_castps_pd(a);
    return _mm512_castpd_ps(_mm512_mask_unpackhi_pd(x, 0xff, x, _mm512_castps_pd(b)));
}
template <int Imm>
FASTOPT_INLINE __m512 shuffle128(__m512 a, __m512 b) { return _mm512_mask_shuffle_f32x4(a, 0xffff, a, b, Imm); }

// r[k] (lane j) becomes r[j] (lane k): unpacks of 32- then 64-bit pairs within 128-bit lanes,
// then two rounds of 128-bit lane shuffles (64 shuffles).
FASTOPT_INLINE void transpose16(__m512 (&r)[16]) {
    __m512 t[16];
    for (int k = 0; k < 16; k += 2) {
        t[k] = unpacklo32(r[k], r[k + 1]);  // per lane: a0 b0 a1 b1
        t[k + 1] = unpackhi32(r[k], r[k + 1]);  // a2 b2 a3 b3
    }
    for (int k = 0; k < 16; k += 4) {  // per lane: a_j b_j c_j d_j in r[k + j]
        r[k] = unpacklo64(t[k], t[k + 2]);
        r[k + 1] = unpackhi64(t[k], t[k + 2]);
        r[k + 2] = unpacklo64(t[k + 1], t[k + 3]);
        r[k + 3] = unpackhi64(t[k + 1], t[k + 3]);
    }
    // r[4 q + j], 128-bit lane L: column 4 L + j of rows 4 q .. 4 q + 3
    for (int j = 0; j < 4; ++j) {
        const __m512 a = shuffle128<0x88>(r[j], r[4 + j]);  // (r_j.L0, r_j.L2, r_4+j.L0, r_4+j.L2)
        const __m512 b = shuffle128<0x88>(r[8 + j], r[12 + j]);
        const __m512 a1 = shuffle128<0xdd>(r[j], r[4 + j]);  // lanes 1 and 3
        const __m512 b1 = shuffle128<0xdd>(r[8 + j], r[12 + j]);
        t[j] = shuffle128<0x88>(a, b);  // column j
        t[8 + j] = shuffle128<0xdd>(a, b);  // column 8 + j
        t[4 + j] = shuffle128<0x88>(a1, b1);
        t[12 + j] = shuffle128<0xdd>(a1, b1);
    }
    for (int k = 0; k < 16; ++k) r[k] = t[k];
}

// The tile operations the shared transposes below need, for 16-float vectors.
struct Tile {
    static constexpr int W = 16;
    using V = __m512;
    using M = __mmask16;
    static M lanes(std::int64_t n) { return static_cast<M>(0xffffu >> (16 - n)); }  // 1 <= n <= 16
    static V load_masked(const float* p, M m) { return _mm512_maskz_loadu_ps(m, p); }
    static void store_masked(float* p, M m, V v) { _mm512_mask_storeu_ps(p, m, v); }
    static V load(const float* p) { return _mm512_load_ps(p); }
    static void store(float* p, V v) { _mm512_store_ps(p, v); }
    static V zero() { return _mm512_setzero_ps(); }
    static void transpose(V (&r)[W]) { transpose16(r); }
};

// r[k] (lane j) becomes r[j] (lane k) for 8 x 8 doubles: 64-bit unpacks within 128-bit lanes,
// then two rounds of 128-bit lane shuffles (24 shuffles).
FASTOPT_INLINE void transpose8d(__m512d (&r)[8]) {
    __m512d t[8];
    for (int k = 0; k < 8; k += 2) {
        t[k] = _mm512_mask_unpacklo_pd(r[k], 0xff, r[k], r[k + 1]);  // per lane: a0 b0
        t[k + 1] = _mm512_mask_unpackhi_pd(r[k], 0xff, r[k], r[k + 1]);  // a1 b1
    }
    // t[2 q + h], 128-bit lane L: column 2 L + h of rows 2 q, 2 q + 1
    for (int h = 0; h < 2; ++h)
        for (int q = 0; q < 4; q += 2) {
            r[2 * q + h] = _mm512_mask_shuffle_f64x2(t[2 * q + h], 0xff, t[2 * q + h], t[2 * q + 2 + h], 0x88);
            r[2 * q + 2 + h] = _mm512_mask_shuffle_f64x2(t[2 * q + h], 0xff, t[2 * q + h], t[2 * q + 2 + h], 0xdd);
        }
    // r[4 p + 2 g + h] (p: rows 4 p .. 4 p + 3), lanes: columns 4 g' + 2 g + h with g' = 0, 1
    for (int h = 0; h < 2; ++h)
        for (int g = 0; g < 2; ++g) {
            t[2 * g + h] = _mm512_mask_shuffle_f64x2(r[2 * g + h], 0xff, r[2 * g + h], r[4 + 2 * g + h], 0x88);
            t[4 + 2 * g + h] = _mm512_mask_shuffle_f64x2(r[2 * g + h], 0xff, r[2 * g + h], r[4 + 2 * g + h], 0xdd);
        }
    for (int k = 0; k < 8; ++k) r[k] = t[k];
}

// The tile operations for 8-double vectors.
struct TileD {
    static constexpr int W = 8;
    using V = __m512d;
    using M = __mmask8;
    static M lanes(std::int64_t n) { return static_cast<M>(0xffu >> (8 - n)); }  // 1 <= n <= 8
    static V load_masked(const double* p, M m) { return _mm512_maskz_loadu_pd(m, p); }
    static void store_masked(double* p, M m, V v) { _mm512_mask_storeu_pd(p, m, v); }
    static V load(const double* p) { return _mm512_load_pd(p); }
    static void store(double* p, V v) { _mm512_store_pd(p, v); }
    static V zero() { return _mm512_setzero_pd(); }
    static void transpose(V (&r)[W]) { transpose8d(r); }
};

#elif defined(__AVX2__)
// r[k] (lane j) becomes r[j] (lane k): 32-bit unpacks, 64-bit shuffles, 128-bit permutes.
FASTOPT_INLINE void transpose8(__m256 (&r)[8]) {
    __m256 t[8];
    for (int k = 0; k < 8; k += 2) {
        t[k] = _mm256_unpacklo_ps(r[k], r[k + 1]);
        t[k + 1] = _mm256_unpackhi_ps(r[k], r[k + 1]);
    }
    for (int k = 0; k < 8; k += 4) {  // r[k + j], 128-bit lane L: column 4 L + j of rows k .. k + 3
        r[k] = _mm256_shuffle_ps(t[k], t[k + 2], 0x44);
        r[k + 1] = _mm256_shuffle_ps(t[k], t[k + 2], 0xee);
        r[k + 2] = _mm256_shuffle_ps(t[k + 1], t[k + 3], 0x44);
        r[k + 3] = _mm256_shuffle_ps(t[k + 1], t[k + 3], 0xee);
    }
    for (int j = 0; j < 4; ++j) {
        t[j] = _mm256_permute2f128_ps(r[j], r[4 + j], 0x20);
        t[4 + j] = _mm256_permute2f128_ps(r[j], r[4 + j], 0x31);
    }
    for (int k = 0; k < 8; ++k) r[k] = t[k];
}

// The tile operations the shared transposes below need, for 8-float vectors.
struct Tile {
    static constexpr int W = 8;
    using V = __m256;
    using M = __m256i;
    static M lanes(std::int64_t n) {  // lanes [0, n) set
        return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(n)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    }
    static V load_masked(const float* p, M m) { return _mm256_maskload_ps(p, m); }
    static void store_masked(float* p, M m, V v) { _mm256_maskstore_ps(p, m, v); }
    static V load(const float* p) { return _mm256_load_ps(p); }
    static void store(float* p, V v) { _mm256_store_ps(p, v); }
    static V zero() { return _mm256_setzero_ps(); }
    static void transpose(V (&r)[W]) { transpose8(r); }
};

// r[k] (lane j) becomes r[j] (lane k) for 4 x 4 doubles: 64-bit unpacks, 128-bit permutes.
FASTOPT_INLINE void transpose4d(__m256d (&r)[4]) {
    const __m256d t0 = _mm256_unpacklo_pd(r[0], r[1]), t1 = _mm256_unpackhi_pd(r[0], r[1]);
    const __m256d t2 = _mm256_unpacklo_pd(r[2], r[3]), t3 = _mm256_unpackhi_pd(r[2], r[3]);
    r[0] = _mm256_permute2f128_pd(t0, t2, 0x20);
    r[1] = _mm256_permute2f128_pd(t1, t3, 0x20);
    r[2] = _mm256_permute2f128_pd(t0, t2, 0x31);
    r[3] = _mm256_permute2f128_pd(t1, t3, 0x31);
}

// The tile operations for 4-double vectors.
struct TileD {
    static constexpr int W = 4;
    using V = __m256d;
    using M = __m256i;
    static M lanes(std::int64_t n) {  // lanes [0, n) set
        return _mm256_cmpgt_epi64(_mm256_set1_epi64x(n), _mm256_setr_epi64x(0, 1, 2, 3));
    }
    static V load_masked(const double* p, M m) { return _mm256_maskload_pd(p, m); }
    static void store_masked(double* p, M m, V v) { _mm256_maskstore_pd(p, m, v); }
    static V load(const double* p) { return _mm256_load_pd(p); }
    static void store(double* p, V v) { _mm256_store_pd(p, v); }
    static V zero() { return _mm256_setzero_pd(); }
    static void transpose(V (&r)[W]) { transpose4d(r); }
};
#endif

#if defined(__AVX512F__) || defined(__AVX2__)
// The tiled transposes, one W x W tile at a time: masked loads or stores of a tile's classes
// from each row, so nothing outside the rows [0, nb) and classes [0, C) is read or written.
// each_tile calls f(i0, c0, nr, nc, mask) per tile: rows [i0, i0 + nr), classes [c0, c0 + nc).
// The float tiles are Tile, the double ones TileD (half as many lanes).
template <class TL, class F>
FASTOPT_INLINE void each_tile(std::int64_t C, std::int64_t nb, const F& f) {
    constexpr int W = TL::W;
    for (std::int64_t i0 = 0; i0 < nb; i0 += W) {
        const std::int64_t nr = nb - i0 < W ? nb - i0 : W;
        for (std::int64_t c0 = 0; c0 < C; c0 += W) {
            const std::int64_t nc = C - c0 < W ? C - c0 : W;
            f(i0, c0, nr, nc, TL::lanes(nc));
        }
    }
}

template <class TL, class T>
FASTOPT_INLINE void to_class_major_tiles(const T* xb, std::int64_t C, std::int64_t nb, T* xt) {
    each_tile<TL>(C, nb, [&](std::int64_t i0, std::int64_t c0, std::int64_t nr, std::int64_t nc, typename TL::M mask) {
        const T* src = xb + i0 * C + c0;
        typename TL::V r[TL::W];
        for (int k = 0; k < TL::W; ++k) r[k] = k < nr ? TL::load_masked(src + k * C, mask) : TL::zero();
        TL::transpose(r);
        for (int k = 0; k < nc; ++k) TL::store(xt + (c0 + k) * kSmallRows + i0, r[k]);
    });
}

template <class TL, class T>
FASTOPT_INLINE void to_row_major_tiles(const T* et, std::int64_t C, std::int64_t nb, T* gb) {
    each_tile<TL>(C, nb, [&](std::int64_t i0, std::int64_t c0, std::int64_t nr, std::int64_t nc, typename TL::M mask) {
        typename TL::V r[TL::W];
        for (int k = 0; k < TL::W; ++k) r[k] = k < nc ? TL::load(et + (c0 + k) * kSmallRows + i0) : TL::zero();
        TL::transpose(r);
        T* dst = gb + i0 * C + c0;
        for (int k = 0; k < nr; ++k) TL::store_masked(dst + k * C, mask, r[k]);
    });
}

// Overloads of the templates above (exact matches win).
FASTOPT_INLINE void to_class_major(const float* xb, std::int64_t C, std::int64_t nb, float* xt) {
    to_class_major_tiles<Tile>(xb, C, nb, xt);
}
FASTOPT_INLINE void to_class_major(const double* xb, std::int64_t C, std::int64_t nb, double* xt) {
    to_class_major_tiles<TileD>(xb, C, nb, xt);
}
FASTOPT_INLINE void to_row_major(const float* et, std::int64_t C, std::int64_t nb, float* gb) {
    to_row_major_tiles<Tile>(et, C, nb, gb);
}
FASTOPT_INLINE void to_row_major(const double* et, std::int64_t C, std::int64_t nb, double* gb) {
    to_row_major_tiles<TileD>(et, C, nb, gb);
}
#endif

FASTOPT_DETAIL_END
FASTOPT_NAMESPACE_END
