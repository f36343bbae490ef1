// fastopt/loss_grain.hpp: how the softmax, loss and dropout kernels split their work (the
// grains of parallel_for, the team of a loss).
//
// Determinism: every loss sum runs over fixed blocks of samples (make_blocks depends on the
// sample count only) accumulated in double and combined in block order, and every per-sample
// value is computed the same way whatever the chunking: the results are bitwise identical
// for any thread count. Dropout's mask is a pure function of (seed, element index).
#pragma once

#include <cstdint>

#include "fastopt/config.hpp"
#include "fastopt/parallel.hpp"

FASTOPT_NAMESPACE_BEGIN
FASTOPT_DETAIL_BEGIN

// Rows per parallel grain for rows of `len` elements: about kGrain elements of work.
FASTOPT_INLINE std::int64_t row_grain(std::int64_t len) {
    const std::int64_t g = kGrain / (len > 0 ? len : 1);
    return g > 1 ? g : 1;
}

// The threads a loss over `work` elements runs on.
FASTOPT_INLINE int team_for(std::int64_t work, int threads) { return threads_for(work, kGrain, threads); }

FASTOPT_DETAIL_END
FASTOPT_NAMESPACE_END
