// Memory kernels that measure the bandwidth ceilings the benchmark compares against.
#include <cstdint>

#include "fastopt/drivers.hpp"
#include "kernel_table.hpp"

FASTOPT_NAMESPACE_BEGIN
namespace {

// y = x with ordinary stores, like every fastopt kernel (no streaming stores), so the write
// costs a write-allocate read as theirs do. (CMake passes -fno-tree-loop-distribute-patterns
// so GCC does not turn the loop into a memcpy call, whose large-size path streams.)
template <class T>
void copy(const T* x, T* y, std::int64_t n, int threads) {
    parallel_for(n, kGrain, threads, [&](std::int64_t begin, std::int64_t end) {
        FASTOPT_SIMD
        for (std::int64_t i = begin; i < end; ++i) y[i] = x[i];
    });
}

// a += s * b: an in-place update, which needs no write-allocate (the line written was read).
template <class T>
void axpy(T* a, const T* b, T s, std::int64_t n, int threads) {
    parallel_for(n, kGrain, threads, [&](std::int64_t begin, std::int64_t end) {
        FASTOPT_SIMD
        for (std::int64_t i = begin; i < end; ++i) a[i] = a[i] + s * b[i];
    });
}

// The sum of x: a read-only pass, as fast as the reads allow (64 running sums in T, four
// AVX-512 registers: no conversion and no dependency chain in the way). A bandwidth probe,
// not an accurate sum.
template <class T>
double sum(const T* x, std::int64_t n, int threads) {
    constexpr int kLanes = 64;
    const Blocks blocks = make_blocks(n, kGrain, 4096);
    Scratch<double> part(blocks.count);
    parallel_blocks(blocks.count, threads_for(n, kGrain, threads), [&](std::int64_t b) {
        T lane[kLanes] = {};
        std::int64_t i = blocks.begin(b);
        const std::int64_t hi = blocks.end(b, n);
        for (; i + kLanes <= hi; i += kLanes)
            for (int j = 0; j < kLanes; ++j) lane[j] += x[i + j];
        double acc = 0;
        for (int j = 0; j < kLanes; ++j) acc += lane[j];
        for (; i < hi; ++i) acc += x[i];
        part.data[b] = acc;
    });
    double total = 0;
    for (std::int64_t b = 0; b < blocks.count; ++b) total += part.data[b];
    return total;
}

}  // namespace

const RooflineTable& roofline_table() {
    static const RooflineTable table{{&copy<float>, &axpy<float>, &sum<float>},
                                     {&copy<double>, &axpy<double>, &sum<double>}};
    return table;
}

// Every file of an ISA's object library is compiled with the same flags, so this one speaks
// for all of them: false means their `omp simd` loops were left to the auto-vectorizer
// (config.hpp).
bool simd_pragmas() { return FASTOPT_SIMD_PRAGMAS != 0; }

FASTOPT_NAMESPACE_END
