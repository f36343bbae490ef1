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

}  // namespace

const RooflineTable& roofline_table() {
    static const RooflineTable table{{&copy<float>}, {&copy<double>}};
    return table;
}

FASTOPT_NAMESPACE_END
