// fastopt/softmax.hpp: softmax and log_softmax along one axis of x viewed as (outer, len, inner),
// forward and backward (fastopt::softmax and friends in api.hpp; the extension's tables,
// cpp/src/isa/softmax.cpp, point at the same templates). The row statistics are in
// fastopt/losses.hpp, the class-major blocks of short rows in class_major*.hpp.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>

#include "fastopt/class_major.hpp"
#include "fastopt/class_major_stats.hpp"
#include "fastopt/config.hpp"
#include "fastopt/drivers.hpp"
#include "fastopt/loss_grain.hpp"
#include "fastopt/losses.hpp"

FASTOPT_NAMESPACE_BEGIN
FASTOPT_DETAIL_BEGIN

// Calls body(outer_index, d0, w) for every tile of up to kTile strided rows in the units
// [u0, u1) of the (outer, tiles) grid.
template <class Body>
FASTOPT_INLINE void for_tiles(std::int64_t u0, std::int64_t u1, std::int64_t inner, const Body& body) {
    const std::int64_t tiles = (inner + kTile - 1) / kTile;
    for (std::int64_t u = u0; u < u1; ++u) {
        const std::int64_t o = u / tiles;
        const std::int64_t d0 = (u % tiles) * kTile;
        body(o, d0, inner - d0 < kTile ? inner - d0 : kTile);
    }
}

constexpr std::int64_t kSmallLen = 32;  // softmax rows this short (contiguous) go class-major

// Short contiguous rows (per-row loops this short would stay in the scalar remainder): blocks
// of kSmallRows rows transposed to class-major (as cross_entropy's rows_small), where the max,
// exp and double sum run across the rows, then y = e / s or (x - m) - log(s), transposed back.
template <bool Log, class T>
void softmax_short_rows(const T* x, T* y, std::int64_t outer, std::int64_t len, int threads) {
    parallel_for(outer, row_grain(len), threads, [&](std::int64_t r0, std::int64_t r1) {
        constexpr std::int64_t R = kSmallRows;
        alignas(64) T xt[kSmallLen * R], et[kSmallLen * R], m[R], a[R];
        alignas(64) double s[R], ls[R];
        for (std::int64_t rb = r0; rb < r1; rb += R) {
            const std::int64_t nb = r1 - rb < R ? r1 - rb : R;
            to_class_major(x + rb * len, len, nb, xt);
            max_exp_sum(xt, et, m, s, len, nb);  // a row of -inf: NaN, as torch
            if constexpr (Log) {
                log_sums<T>(s, ls, nb);
                FASTOPT_SIMD
                for (std::int64_t i = 0; i < nb; ++i) a[i] = static_cast<T>(ls[i]);
                for (std::int64_t c = 0; c < len; ++c) {
                    const T* xc = xt + c * R;
                    T* ec = et + c * R;
                    FASTOPT_SIMD
                    for (std::int64_t i = 0; i < nb; ++i) ec[i] = (xc[i] - m[i]) - a[i];
                }
            } else {
                FASTOPT_SIMD
                for (std::int64_t i = 0; i < nb; ++i) a[i] = static_cast<T>(1.0 / s[i]);
                for (std::int64_t c = 0; c < len; ++c) {
                    T* ec = et + c * R;
                    FASTOPT_SIMD
                    for (std::int64_t i = 0; i < nb; ++i) ec[i] = ec[i] * a[i];
                }
            }
            to_row_major(et, len, nb, y + rb * len);
        }
    });
}

// Contiguous rows (inner == 1), vectorized along each row.
template <bool Log, class T>
void softmax_rows(const T* x, T* y, std::int64_t outer, std::int64_t len, int threads) {
    parallel_for(outer, row_grain(len), threads, [&](std::int64_t r0, std::int64_t r1) {
        for (std::int64_t r = r0; r < r1; ++r) {
            const T* xr = x + r * len;
            T* yr = y + r * len;
            T m;
            double s;
            if constexpr (Log) {
                row_stats(xr, len, m, s);
                const T ls = static_cast<T>(std::log(s));
                FASTOPT_SIMD
                for (std::int64_t j = 0; j < len; ++j) yr[j] = (xr[j] - m) - ls;
            } else {
                // y first holds exp(x - running max) (one exp per element), then is
                // rescaled per chunk; in place is safe (each element read before written)
                T cm[kMaxChunks];
                row_stats(xr, len, m, s, yr, cm);
                if (r + 1 < r1) prefetch_row(xr + len, len);  // read during this row's rescale
                const T inv = static_cast<T>(1.0 / s);
                const std::int64_t cs = stats_chunk(len);
                for (std::int64_t c0 = 0, k = 0; c0 < len; c0 += cs, ++k) {
                    const std::int64_t c1 = c0 + cs < len ? c0 + cs : len;
                    if (cm[k] == -std::numeric_limits<T>::infinity()) {
                        FASTOPT_SIMD
                        for (std::int64_t j = c0; j < c1; ++j) yr[j] = math::exp_nonpositive(xr[j] - m) * inv;
                    } else {
                        const T a = inv * math::exp_nonpositive(cm[k] - m);
                        FASTOPT_SIMD
                        for (std::int64_t j = c0; j < c1; ++j) yr[j] = yr[j] * a;
                    }
                }
            }
        }
    });
}

// Strided rows (inner > 1), vectorized across tiles of up to kTile neighbouring rows.
template <bool Log, class T>
void softmax_tiles(const T* x, T* y, std::int64_t outer, std::int64_t len, std::int64_t inner, int threads) {
    const std::int64_t units = outer * ((inner + kTile - 1) / kTile);
    parallel_for(units, row_grain(len * kTile), threads, [&](std::int64_t u0, std::int64_t u1) {
        for_tiles(u0, u1, inner, [&](std::int64_t o, std::int64_t d0, std::int64_t w) {
            const T* xt = x + o * len * inner + d0;
            T* yt = y + o * len * inner + d0;
            T m[kTile];
            double s[kTile];
            T a[kTile];
            tile_stats(xt, len, inner, w, m, s);
            for (std::int64_t k = 0; k < w; ++k) a[k] = static_cast<T>(Log ? math::log_sum64(s[k]) : 1.0 / s[k]);
            for (std::int64_t c = 0; c < len; ++c) {
                const T* xc = xt + c * inner;
                T* yc = yt + c * inner;
                if constexpr (Log) {
                    FASTOPT_SIMD
                    for (std::int64_t k = 0; k < w; ++k) yc[k] = (xc[k] - m[k]) - a[k];
                } else {
                    FASTOPT_SIMD
                    for (std::int64_t k = 0; k < w; ++k) yc[k] = math::exp_nonpositive(xc[k] - m[k]) * a[k];
                }
            }
        });
    });
}

// softmax:     y = exp(x - m) / s
// log_softmax: y = (x - m) - log(s)
// over the rows of x viewed as (outer, len, inner), m the row max and s = sum exp(x - m).
template <bool Log, class T>
void softmax_fwd(const T* x, T* y, std::int64_t outer, std::int64_t len, std::int64_t inner, int threads) {
    if (outer * len * inner == 0) return;
    if (inner == 1 && len <= kSmallLen)
        softmax_short_rows<Log>(x, y, outer, len, threads);
    else if (inner == 1)
        softmax_rows<Log>(x, y, outer, len, threads);
    else
        softmax_tiles<Log>(x, y, outer, len, inner, threads);
}

// softmax:     gx = y * (gy - sum(gy * y))
// log_softmax: gx = gy - exp(y) * sum(gy)
template <bool Log, class T>
void softmax_bwd(const T* gy, const T* y, T* gx, std::int64_t outer, std::int64_t len, std::int64_t inner,
                 int threads) {
    if (outer * len * inner == 0) return;
    if (inner == 1) {
        parallel_for(outer, row_grain(len), threads, [&](std::int64_t r0, std::int64_t r1) {
            for (std::int64_t r = r0; r < r1; ++r) {
                const T* g = gy + r * len;
                const T* yr = y + r * len;
                T* out = gx + r * len;
                double acc = 0.0;
                if constexpr (Log) {
                    FASTOPT_SIMD_REDUCTION(+ : acc)
                    for (std::int64_t j = 0; j < len; ++j) acc += static_cast<double>(g[j]);
                    const T sum = static_cast<T>(acc);
                    FASTOPT_SIMD
                    for (std::int64_t j = 0; j < len; ++j) out[j] = g[j] - math::exp(yr[j]) * sum;
                } else {
                    FASTOPT_SIMD_REDUCTION(+ : acc)
                    for (std::int64_t j = 0; j < len; ++j) acc += static_cast<double>(g[j]) * static_cast<double>(yr[j]);
                    const T dot = static_cast<T>(acc);
                    FASTOPT_SIMD
                    for (std::int64_t j = 0; j < len; ++j) out[j] = yr[j] * (g[j] - dot);
                }
            }
        });
        return;
    }
    const std::int64_t units = outer * ((inner + kTile - 1) / kTile);
    parallel_for(units, row_grain(len * kTile), threads, [&](std::int64_t u0, std::int64_t u1) {
        for_tiles(u0, u1, inner, [&](std::int64_t o, std::int64_t d0, std::int64_t w) {
            const std::int64_t base = o * len * inner + d0;
            double acc[kTile];
            T sum[kTile];
            for (std::int64_t k = 0; k < w; ++k) acc[k] = 0.0;
            for (std::int64_t c = 0; c < len; ++c) {
                const T* g = gy + base + c * inner;
                const T* yc = y + base + c * inner;
                if constexpr (Log) {
                    FASTOPT_SIMD
                    for (std::int64_t k = 0; k < w; ++k) acc[k] += static_cast<double>(g[k]);
                } else {
                    FASTOPT_SIMD
                    for (std::int64_t k = 0; k < w; ++k) acc[k] += static_cast<double>(g[k]) * static_cast<double>(yc[k]);
                }
            }
            for (std::int64_t k = 0; k < w; ++k) sum[k] = static_cast<T>(acc[k]);
            for (std::int64_t c = 0; c < len; ++c) {
                const T* g = gy + base + c * inner;
                const T* yc = y + base + c * inner;
                T* out = gx + base + c * inner;
                if constexpr (Log) {
                    FASTOPT_SIMD
                    for (std::int64_t k = 0; k < w; ++k) out[k] = g[k] - math::exp(yc[k]) * sum[k];
                } else {
                    FASTOPT_SIMD
                    for (std::int64_t k = 0; k < w; ++k) out[k] = yc[k] * (g[k] - sum[k]);
                }
            }
        });
    });
}

FASTOPT_DETAIL_END
FASTOPT_NAMESPACE_END
