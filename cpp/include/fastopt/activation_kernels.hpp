// fastopt/activation_kernels.hpp: the activation kernels over arrays: the elementwise rules of
// activations.hpp run by the drivers of drivers.hpp, and PReLU (fastopt::sigmoid and friends in
// api.hpp; the extension's tables, cpp/src/isa/activations.cpp, point at the same templates).
#pragma once

#include <cstdint>

#include "fastopt/activations.hpp"
#include "fastopt/config.hpp"
#include "fastopt/drivers.hpp"
#include "fastopt/params.hpp"

FASTOPT_NAMESPACE_BEGIN
FASTOPT_DETAIL_BEGIN


template <class Rule, class T>
void forward(const T* x, T* y, std::int64_t n, const ActivationParams& p, int threads) {
    unary_map<Rule>(x, y, n, Coef<T>(p), threads);
}

template <class Rule, class T>
void backward(const T* gy, const T* saved, T* gx, std::int64_t n, const ActivationParams& p,
              int threads) {
    binary_map<Rule>(gy, saved, gx, n, Coef<T>(p), threads);
}

// Channels along the last axis ((N, C) input, inner == 1): prelu_runs makes a run, a loop
// with its setup and remainder, per row of C elements. For C up to kPreluTileChannels the
// kernels below run instead over whole rows, `period` >= kPreluTile elements at a time (the
// backward's >= kPreluSumRun, for its per-position sums), with the weights read from a tiled
// copy: a run starting at channel c0 reads tile + c0.
constexpr std::int64_t kPreluTile = 1024;
constexpr std::int64_t kPreluTileChannels = 256;  // longer rows are runs long enough (C = 1000: 5% slower tiled)
constexpr std::int64_t kPreluSumRun = 256;  // the backward's runs: sums[] stays small in L1
// period + channels <= kPreluTile + 2 C and a backward run <= kPreluSumRun + C, for C <= 256:
constexpr std::int64_t kPreluTileSize = kPreluTile + 2 * kPreluTileChannels;
constexpr std::int64_t kPreluSumSize = kPreluSumRun + kPreluTileChannels;

FASTOPT_INLINE bool prelu_tiled(std::int64_t channels, std::int64_t inner) {
    return inner == 1 && channels > 1 && channels <= kPreluTileChannels;
}
FASTOPT_INLINE std::int64_t prelu_period(std::int64_t channels, std::int64_t at_least = kPreluTile) {  // whole rows
    return (at_least + channels - 1) / channels * channels;
}
template <class T>
void fill_prelu_tile(const T* w, std::int64_t channels, T* tile) {  // period + channels entries
    const std::int64_t count = prelu_period(channels) + channels;
    for (std::int64_t r = 0; r < count; r += channels)
        for (std::int64_t c = 0; c < channels; ++c) tile[r + c] = w[c];
}

template <class T>
void prelu_forward(const T* x, const T* w, T* y, std::int64_t outer, std::int64_t channels,
                   std::int64_t inner, int threads) {
    if (prelu_tiled(channels, inner)) {  // few channels: whole rows against a tiled copy of the weights
        const std::int64_t period = prelu_period(channels);
        parallel_for_aligned(y, sizeof(T), outer * channels, kGrain, threads, [&](std::int64_t begin, std::int64_t end) {
            alignas(64) T tile[kPreluTileSize];
            fill_prelu_tile(w, channels, tile);
            const T* wc = tile + begin % channels;
            for (std::int64_t i0 = begin; i0 < end; i0 += period) {
                const std::int64_t len = end - i0 < period ? end - i0 : period;
                const T* xs = x + i0;
                T* ys = y + i0;
                FASTOPT_SIMD
                for (std::int64_t k = 0; k < len; ++k) ys[k] = xs[k] > T(0) ? xs[k] : wc[k] * xs[k];
            }
        });
        return;
    }
    parallel_for_aligned(y, sizeof(T), outer * channels * inner, kGrain, threads, [&](std::int64_t begin, std::int64_t end) {
        prelu_runs(begin, end, channels, inner, [&](std::int64_t i0, std::int64_t len, std::int64_t c, std::int64_t ws) {
            const T* xs = x + i0;
            T* ys = y + i0;
            // The two weight layouts get their own loops: with wc[k * ws] for a runtime ws, GCC
            // makes a gather, and one shared weight (ws == 0, torch's default nn.PReLU()) runs
            // ~10x slower than a copy.
            if (ws == 0) {
                const T wc = w[c];
                FASTOPT_SIMD
                for (std::int64_t k = 0; k < len; ++k) ys[k] = xs[k] > T(0) ? xs[k] : wc * xs[k];
            } else {
                const T* wc = w + c;
                FASTOPT_SIMD
                for (std::int64_t k = 0; k < len; ++k) ys[k] = xs[k] > T(0) ? xs[k] : wc[k] * xs[k];
            }
        });
    });
}

// grad_x = x > 0 ? gy : w * gy, and grad_w[c] = sum of (x > 0 ? 0 : x * gy) over the
// channel, in one pass. The sum runs in double over fixed blocks (make_blocks) whose
// per-channel partials are combined in block order: bitwise the same for any thread count.
template <class T>
void prelu_backward(const T* gy, const T* x, const T* w, T* gx, T* gw, std::int64_t outer,
                    std::int64_t channels, std::int64_t inner, int threads) {
    const std::int64_t n = outer * channels * inner;
    if (n == 0) {
        for (std::int64_t c = 0; c < channels; ++c) gw[c] = T(0);
        return;
    }
    // At most 64 blocks, and at most 2^22 partial sums in all (32 MiB) for many channels.
    std::int64_t max_blocks = (std::int64_t{1} << 22) / channels;
    if (max_blocks > 64) max_blocks = 64;
    const Blocks blocks = make_blocks(n, kGrain, max_blocks);
    Scratch<double> partial(blocks.count * channels);
    // threads_for, as every other kernel: a sleeping pool's fork (~30 us) costs more than a
    // small call takes on one thread
    parallel_blocks(blocks.count, threads_for(n, kGrain, threads), [&](std::int64_t b) {
        double* acc = partial.data + b * channels;
        if (prelu_tiled(channels, inner)) {  // as prelu_forward; per position sums, then folded
            const std::int64_t period = prelu_period(channels, kPreluSumRun), lo = blocks.begin(b), hi = blocks.end(b, n);
            alignas(64) T tile[kPreluTileSize];
            alignas(64) double sums[kPreluSumSize];
            fill_prelu_tile(w, channels, tile);
            for (std::int64_t k = 0; k < period; ++k) sums[k] = 0.0;
            const std::int64_t c0 = lo % channels;
            const T* wc = tile + c0;
            for (std::int64_t i0 = lo; i0 < hi; i0 += period) {
                const std::int64_t len = hi - i0 < period ? hi - i0 : period;
                const T* g = gy + i0;
                const T* xs = x + i0;
                T* out = gx + i0;
                FASTOPT_SIMD
                for (std::int64_t k = 0; k < len; ++k) {
                    const T gk = g[k], xk = xs[k];  // both read before out (may be g or x) is written
                    const bool pos = xk > T(0);
                    sums[k] += pos ? 0.0 : static_cast<double>(xk) * static_cast<double>(gk);
                    out[k] = pos ? gk : wc[k] * gk;
                }
            }
            for (std::int64_t k = 0, c = c0; k < period; ++k) {  // sums[k] is channel (c0 + k) mod C
                acc[c] += sums[k];
                c = c + 1 == channels ? 0 : c + 1;
            }
            return;
        }
        prelu_runs(blocks.begin(b), blocks.end(b, n), channels, inner,
                   [&](std::int64_t i0, std::int64_t len, std::int64_t c, std::int64_t ws) {
            const T* g = gy + i0;
            const T* xs = x + i0;
            T* out = gx + i0;
            if (ws == 0) {
                const T wc = w[c];
                double sum = 0.0;
                FASTOPT_SIMD_REDUCTION(+ : sum)
                for (std::int64_t k = 0; k < len; ++k) {
                    const T gk = g[k], xk = xs[k];  // both read before out (may be g or x) is written
                    const bool pos = xk > T(0);
                    sum += pos ? 0.0 : static_cast<double>(xk) * static_cast<double>(gk);
                    out[k] = pos ? gk : wc * gk;
                }
                acc[c] += sum;
            } else {
                const T* wc = w + c;
                double* ac = acc + c;
                FASTOPT_SIMD
                for (std::int64_t k = 0; k < len; ++k) {
                    const T gk = g[k], xk = xs[k];
                    const bool pos = xk > T(0);
                    ac[k] += pos ? 0.0 : static_cast<double>(xk) * static_cast<double>(gk);
                    out[k] = pos ? gk : wc[k] * gk;
                }
            }
        });
    });
    for (std::int64_t c = 0; c < channels; ++c) {
        double total = 0.0;
        for (std::int64_t b = 0; b < blocks.count; ++b) total += partial.data[b * channels + c];
        gw[c] = static_cast<T>(total);
    }
}

FASTOPT_DETAIL_END
FASTOPT_NAMESPACE_END
