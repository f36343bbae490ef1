// fastopt/map16.hpp: the loop of the kernels written with AVX-512 intrinsics over float
// arrays (math::tanh_array, the sigmoid family's arrays in activations.hpp):
//   map16(x, y, n, f)     y[i] = f(x[i])
//   map16(a, b, y, n, f)  y[i] = f(a[i], b[i])
// f takes and returns 16 lanes (__m512). Full vectors two per iteration, then one masked load
// and store for the rest, with the same arithmetic, so an element's value does not depend on
// where the array (a thread's chunk) starts. y may be one of the inputs.
// map16<true>(...) realigns the inputs (below): for an f of a few instructions.
//
// Inputs at another offset from a 64-byte boundary than y. The drivers align the output
// (parallel_for_aligned peels the elements before its first 64-byte boundary), and NumPy
// arrays start at any 16-byte offset mod 64, so an input often sits elsewhere: every one of
// its vector loads then spans two cache lines. Over arrays in L2 that cost a light loop ~25%
// (float32 sigmoid_backward at 2^16 from Python, one thread: 7.1 us with the three arrays at
// one offset, 9.0 otherwise). When y is aligned, map16<true> reads such an input with aligned
// loads only, each vector put together from two neighbours by one vpermt2ps: 7.0 us. An f with
// an exp hides the split loads, and the vpermt2ps then only compete with its shuffles and
// multiplies (silu_backward 5% slower): it stays with map16<false>. (Copying the input to an
// aligned buffer in L1 a block at a time was slower than the split loads: the copies and the
// loop then take their turns at L2 instead of overlapping.)
#pragma once

#include <cstdint>

#include "fastopt/config.hpp"

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

FASTOPT_NAMESPACE_BEGIN

#if defined(__AVX512F__)
FASTOPT_INLINE int offset16(const void* p) { return static_cast<int>(reinterpret_cast<std::uintptr_t>(p) % 64 / 4); }

FASTOPT_INLINE __mmask16 first_lanes(std::int64_t count) {  // the lanes below count (0..16)
    return count >= 16 ? static_cast<__mmask16>(0xffff)
                       : static_cast<__mmask16>(count > 0 ? (1u << static_cast<unsigned>(count)) - 1u : 0u);
}

// src[j, j + 16) for j = 0, 16, 32, ... in turn, read with aligned loads of the 64-byte blocks
// src lies in: next() while j + 32 <= n (the next block is then all inside src), last(n - j)
// for the rest (masked: zeros past n). Nothing outside src[0, n) is read.
struct AlignedReader {
    int shift;        // src = block + shift
    const float* block;  // 64-byte aligned, holding src[j - shift + ...]: the current block
    __m512i index;    // lanes shift .. shift + 15 of (cur, the next block)
    __m512 cur;

    AlignedReader(const float* src, std::int64_t n)
        : shift(offset16(src)),
          block(src - shift),
          index(_mm512_add_epi32(_mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
                                 _mm512_set1_epi32(shift))),
          cur(_mm512_maskz_load_ps(static_cast<__mmask16>(first_lanes(n + shift) & (0xffffu << shift)), block)) {}

    FASTOPT_INLINE __m512 next() { return merge(_mm512_load_ps(block + 16)); }
    FASTOPT_INLINE __m512 last(std::int64_t left) {  // left = n - j, 0 < left < 32
        return merge(_mm512_maskz_load_ps(first_lanes(left - 16 + shift), block + 16));
    }
    FASTOPT_INLINE __m512 merge(__m512 next_block) {
        const __m512 v = _mm512_permutex2var_ps(cur, index, next_block);
        cur = next_block;
        block += 16;
        return v;
    }
};

template <bool Realign = false, class F>
FASTOPT_INLINE void map16(const float* x, float* y, std::int64_t n, const F& f) {
    std::int64_t j = 0;
    if (Realign && offset16(y) == 0 && offset16(x) != 0 && reinterpret_cast<std::uintptr_t>(x) % 4 == 0 && n >= 32) {
        AlignedReader rx(x, n);
        for (; j + 32 <= n; j += 16) _mm512_store_ps(y + j, f(rx.next()));
        for (; j < n; j += 16) _mm512_mask_store_ps(y + j, first_lanes(n - j), f(rx.last(n - j)));
        return;
    }
    for (; j + 32 <= n; j += 32) {
        const __m512 r0 = f(_mm512_loadu_ps(x + j)), r1 = f(_mm512_loadu_ps(x + j + 16));
        _mm512_storeu_ps(y + j, r0);
        _mm512_storeu_ps(y + j + 16, r1);
    }
    for (; j + 16 <= n; j += 16) _mm512_storeu_ps(y + j, f(_mm512_loadu_ps(x + j)));
    if (j < n) {
        const __mmask16 m = first_lanes(n - j);
        _mm512_mask_storeu_ps(y + j, m, f(_mm512_maskz_loadu_ps(m, x + j)));
    }
}

template <bool Realign = false, class F>
FASTOPT_INLINE void map16(const float* a, const float* b, float* y, std::int64_t n, const F& f) {
    std::int64_t j = 0;
    if (Realign && offset16(y) == 0 && (offset16(a) | offset16(b)) != 0 &&
        (reinterpret_cast<std::uintptr_t>(a) | reinterpret_cast<std::uintptr_t>(b)) % 4 == 0 && n >= 32) {
        AlignedReader ra(a, n), rb(b, n);
        for (; j + 32 <= n; j += 16) {
            const __m512 va = ra.next();
            _mm512_store_ps(y + j, f(va, rb.next()));
        }
        for (; j < n; j += 16) {
            const __m512 va = ra.last(n - j);
            _mm512_mask_store_ps(y + j, first_lanes(n - j), f(va, rb.last(n - j)));
        }
        return;
    }
    for (; j + 32 <= n; j += 32) {
        const __m512 r0 = f(_mm512_loadu_ps(a + j), _mm512_loadu_ps(b + j));
        const __m512 r1 = f(_mm512_loadu_ps(a + j + 16), _mm512_loadu_ps(b + j + 16));
        _mm512_storeu_ps(y + j, r0);
        _mm512_storeu_ps(y + j + 16, r1);
    }
    for (; j + 16 <= n; j += 16) _mm512_storeu_ps(y + j, f(_mm512_loadu_ps(a + j), _mm512_loadu_ps(b + j)));
    if (j < n) {
        const __mmask16 m = first_lanes(n - j);
        _mm512_mask_storeu_ps(y + j, m, f(_mm512_maskz_loadu_ps(m, a + j), _mm512_maskz_loadu_ps(m, b + j)));
    }
}
#endif

FASTOPT_NAMESPACE_END
