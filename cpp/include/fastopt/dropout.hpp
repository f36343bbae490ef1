// fastopt/dropout.hpp: dropout and its backward (fastopt::dropout in api.hpp; the extension's
// tables, cpp/src/isa/dropout.cpp, point at the same templates). The mask is a pure function
// of (seed, element index): Philox4x32-10 (fastopt/losses.hpp), so the result does not depend
// on the thread count.
#pragma once

#include <cstdint>

#include "fastopt/config.hpp"
#include "fastopt/drivers.hpp"
#include "fastopt/loss_grain.hpp"
#include "fastopt/losses.hpp"

FASTOPT_NAMESPACE_BEGIN
FASTOPT_DETAIL_BEGIN

// Element i is kept when lane i % 4 of Philox4x32-10(counter = i / 4, key = seed) is at least
// p * 2^32 (so P(keep) = 1 - p up to 2^-32). y = x * (keep ? 1 / (1 - p) : 0), as torch's
// x * mask / (1 - p): a dropped NaN or inf gives NaN, as in torch.
template <class T>
void dropout(const T* x, T* y, std::uint8_t* mask, std::int64_t n, double p, std::uint64_t seed, int threads) {
    const std::uint32_t k0 = static_cast<std::uint32_t>(seed), k1 = static_cast<std::uint32_t>(seed >> 32);
    const double tf = p * 4294967296.0;
    const std::uint64_t thresh = p >= 1.0 ? (std::uint64_t{1} << 32) : static_cast<std::uint64_t>(tf);
    const T scale = T(1) / static_cast<T>(1.0 - p);
    const bool drop_all = thresh >> 32 != 0;  // p = 1
    const std::uint32_t th32 = static_cast<std::uint32_t>(thresh);
    constexpr std::int64_t kB = 256;  // Philox groups (4 elements each) per step
    // Chunks of whole groups (parallel_for boundaries are multiples of kAlign = 64 groups).
    const std::int64_t groups = (n + 3) / 4;
    parallel_for(groups, kGrain / 4, threads, [&](std::int64_t g0, std::int64_t g1) {
        std::uint32_t r[4 * kB];
        for (std::int64_t gb = g0; gb < g1; gb += kB) {
            const std::int64_t nb = g1 - gb < kB ? g1 - gb : kB;
            // the random words, lane l of group j at r[4 j + l]
            FASTOPT_SIMD
            for (std::int64_t j = 0; j < nb; ++j) {
                const std::uint64_t c = static_cast<std::uint64_t>(gb + j);
                std::uint32_t a, b, d, e;
                philox4x32_10(static_cast<std::uint32_t>(c), static_cast<std::uint32_t>(c >> 32), k0, k1, a, b, d, e);
                r[4 * j] = a;
                r[4 * j + 1] = b;
                r[4 * j + 2] = d;
                r[4 * j + 3] = e;
            }
            const std::int64_t i0 = 4 * gb;
            std::int64_t len = 4 * nb;
            if (i0 + len > n) len = n - i0;  // the last, partial group
            const T* xs = x + i0;
            T* ys = y + i0;
            std::uint8_t* ms = mask + i0;
            const std::uint32_t th = th32;  // locals: closure members do not vectorize
            const T sc = scale;
            if (drop_all) {
                FASTOPT_SIMD
                for (std::int64_t i = 0; i < len; ++i) {
                    ms[i] = 0;
                    ys[i] = xs[i] * T(0);
                }
                continue;
            }
            FASTOPT_SIMD
            for (std::int64_t i = 0; i < len; ++i) {
                const bool keep = r[i] >= th;
                ms[i] = static_cast<std::uint8_t>(keep);
                ys[i] = xs[i] * (keep ? sc : T(0));
            }
        }
    });
}

template <class T>
void dropout_backward(const T* gy, const std::uint8_t* mask, T* gx, std::int64_t n, double p, int threads) {
    const T scale = T(1) / static_cast<T>(1.0 - p);
    const bool finite = scale - scale == T(0);  // p = 1: scale = inf, inf * 0 would be NaN
    parallel_for(n, kGrain, threads, [&](std::int64_t b, std::int64_t e) {
        const T sc = scale;  // a local: closure members do not vectorize
        if (finite) {
            // scale * (mask != 0), not a select: GCC leaves `mask[i] ? scale : 0` as a branch
            // per element, which a random mask mispredicts half the time (~30x slower). Same
            // values.
            FASTOPT_SIMD
            for (std::int64_t i = b; i < e; ++i) gx[i] = gy[i] * (sc * static_cast<T>(mask[i] != 0));
        } else {
            for (std::int64_t i = b; i < e; ++i) gx[i] = gy[i] * (mask[i] ? sc : T(0));
        }
    });
}

FASTOPT_DETAIL_END
FASTOPT_NAMESPACE_END
