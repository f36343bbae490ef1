// fastopt/drivers.hpp: the loops that walk memory once and apply a rule per element.
//
// One `#pragma omp simd` loop per driver, with no vector width in the source: the flags of
// the ISA translation unit give 4, 8 or 16 lanes, and the compiler handles the tail.
// In-place use (out == input) is allowed: every iteration reads its inputs before it writes.
#pragma once

#include <cstddef>
#include <cstdint>

#include "fastopt/config.hpp"
#include "fastopt/parallel.hpp"

FASTOPT_NAMESPACE_BEGIN

// y[i] = Rule::forward(x[i], coef)
template <class Rule, class T, class Coef>
void unary_map(const T* x, T* y, std::int64_t n, const Coef& coef, int threads) {
    parallel_for(n, kGrain, threads, [&](std::int64_t begin, std::int64_t end) {
        FASTOPT_SIMD
        for (std::int64_t i = begin; i < end; ++i) y[i] = Rule::forward(x[i], coef);
    });
}

// out[i] = Rule::backward(a[i], b[i], coef)
template <class Rule, class T, class Coef>
void binary_map(const T* a, const T* b, T* out, std::int64_t n, const Coef& coef, int threads) {
    parallel_for(n, kGrain, threads, [&](std::int64_t begin, std::int64_t end) {
        FASTOPT_SIMD
        for (std::int64_t i = begin; i < end; ++i) out[i] = Rule::backward(a[i], b[i], coef);
    });
}

// Fixed-size blocks for deterministic reductions: the number of blocks and their bounds
// depend only on n, never on the thread count, so per-block partial sums combined in
// block order give bitwise identical results for any number of threads.
struct Blocks {
    std::int64_t count;  // >= 1 when n > 0
    std::int64_t size;   // multiple of kAlign
    std::int64_t begin(std::int64_t b) const { return b * size; }
    std::int64_t end(std::int64_t b, std::int64_t n) const { return b * size + size < n ? b * size + size : n; }
};

FASTOPT_INLINE Blocks make_blocks(std::int64_t n, std::int64_t min_block, std::int64_t max_blocks) {
    std::int64_t count = (n + min_block - 1) / min_block;
    if (count > max_blocks) count = max_blocks;
    if (count < 1) count = 1;
    std::int64_t size = (n + count - 1) / count;
    size = (size + kAlign - 1) / kAlign * kAlign;
    if (size < kAlign) size = kAlign;
    return Blocks{(n + size - 1) / size > 0 ? (n + size - 1) / size : 1, size};
}

// A zero-initialised scratch array. Plain new[]/delete[] rather than std::vector: a
// std::vector instantiated in an ISA translation unit is a weak symbol the linker may share
// between the ISA builds (see config.hpp); this struct lives in the ISA namespace.
template <class T>
struct Scratch {
    explicit Scratch(std::int64_t n) : data(new T[static_cast<std::size_t>(n)]()) {}
    ~Scratch() { delete[] data; }
    Scratch(const Scratch&) = delete;
    Scratch& operator=(const Scratch&) = delete;
    T* data;
};

// body(block) for block in [0, count), statically spread over the team.
template <class Body>
void parallel_blocks(std::int64_t count, int threads, const Body& body) {
    const int team = threads < count ? threads : static_cast<int>(count);
    if (team <= 1) {
        FpEnvScope fp;
        for (std::int64_t b = 0; b < count; ++b) body(b);
        return;
    }
#if defined(_OPENMP)
#pragma omp parallel num_threads(team)
    {
        FpEnvScope fp;  // each worker computes in the IEEE default environment (parallel.hpp)
#pragma omp for schedule(static)
        for (std::int64_t b = 0; b < count; ++b) body(b);
    }
#else
    FpEnvScope fp;
    for (std::int64_t b = 0; b < count; ++b) body(b);
#endif
}

FASTOPT_NAMESPACE_END
