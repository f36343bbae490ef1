// fastopt/multi_tensor.hpp: one parallel pass over a list of tensors, split by total work.
//
// Every tensor is cut into blocks of at most kTensorBlock elements (boundaries at multiples
// of kAlign inside the tensor). The blocks depend only on the tensor sizes, never on the
// thread count, so per-block partial results (norms, sums, flags) combined in block order
// are bitwise identical for any number of threads. The threads get contiguous runs of blocks
// of about equal element count: 200 tensors of mixed sizes cost the same fork-join and the
// same balance as one flat tensor of their total size.
#pragma once

#include <cstdint>

#include "fastopt/config.hpp"
#include "fastopt/drivers.hpp"
#include "fastopt/parallel.hpp"

FASTOPT_NAMESPACE_BEGIN

constexpr std::int64_t kTensorBlock = 16384;

struct TensorBlocks {
    std::int64_t count = 0;   // number of blocks
    std::int64_t total = 0;   // elements over all tensors
    Scratch<std::int64_t> tensor, begin, end, offset;  // offset: global index of `begin`

    template <class SizeOf>
    TensorBlocks(std::int64_t tensors, const SizeOf& size_of)
        : count(blocks_in(tensors, size_of)), tensor(count), begin(count), end(count), offset(count) {
        std::int64_t b = 0;
        for (std::int64_t t = 0; t < tensors; ++t) {
            const std::int64_t n = size_of(t);
            for (std::int64_t s = 0; s < n; s += kTensorBlock) {
                tensor.data[b] = t;
                begin.data[b] = s;
                end.data[b] = s + kTensorBlock < n ? s + kTensorBlock : n;
                offset.data[b] = total + s;
                ++b;
            }
            total += n;
        }
    }

    template <class SizeOf>
    static std::int64_t blocks_in(std::int64_t tensors, const SizeOf& size_of) {
        std::int64_t c = 0;
        for (std::int64_t t = 0; t < tensors; ++t) c += (size_of(t) + kTensorBlock - 1) / kTensorBlock;
        return c;
    }
};

// body(block_index, thread_index) for every block; thread `t` of `team` takes the blocks whose
// first element lies in [t*total/team, (t+1)*total/team). Returns the team size used, so a
// caller may keep per-thread results in an array of `threads` entries.
template <class Body>
int for_each_block(const TensorBlocks& blocks, int threads, const Body& body) {
    const int team = threads_for(blocks.total, kGrain, threads);
    if (team <= 1 || blocks.count <= 1) {
        FpEnvScope fp;
        for (std::int64_t b = 0; b < blocks.count; ++b) body(b, 0);
        return 1;
    }
#if defined(_OPENMP)
#pragma omp parallel num_threads(team)
    {
        FpEnvScope fp;  // each worker computes in the IEEE default environment (parallel.hpp)
        const std::int64_t t = omp_get_thread_num();
        const std::int64_t lo = blocks.total * t / team;
        const std::int64_t hi = blocks.total * (t + 1) / team;
        // Blocks are sorted by offset: find the first with offset >= lo.
        std::int64_t first = 0, last = blocks.count;
        while (first < last) {
            const std::int64_t mid = (first + last) / 2;
            if (blocks.offset.data[mid] < lo) first = mid + 1; else last = mid;
        }
        for (std::int64_t b = first; b < blocks.count && blocks.offset.data[b] < hi; ++b)
            body(b, static_cast<int>(t));
    }
    return team;
#else
    FpEnvScope fp;
    for (std::int64_t b = 0; b < blocks.count; ++b) body(b, 0);
    return 1;
#endif
}

FASTOPT_NAMESPACE_END
