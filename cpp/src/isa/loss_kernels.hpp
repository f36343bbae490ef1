// loss_kernels.hpp: what the loss translation units of one ISA share (each compiled once per
// ISA, see CMakeLists). Each concern's file fills its entries of LossKernels (loss_table.cpp
// calls them in turn):
//   softmax.cpp           softmax, log_softmax and their backwards
//   class_losses.cpp      cross_entropy and nll_loss (cross_entropy.hpp: the per-row paths)
//   pointwise_losses.cpp  mse, l1, smooth_l1, huber, bce_with_logits
//   dropout.cpp           dropout and its backward
// and the grains they split their work by.
//
// Determinism: every loss sum runs over fixed blocks of samples (make_blocks depends on the
// sample count only) accumulated in double and combined in block order, and every per-sample
// value is computed the same way whatever the chunking: the results are bitwise identical
// for any thread count. Dropout's mask is a pure function of (seed, element index).
#pragma once

#include <cstdint>

#include "fastopt/config.hpp"
#include "fastopt/parallel.hpp"
#include "kernel_table.hpp"

FASTOPT_NAMESPACE_BEGIN

template <class T>
void set_softmax_kernels(LossKernels<T>& k);
template <class T>
void set_class_loss_kernels(LossKernels<T>& k);
template <class T>
void set_pointwise_loss_kernels(LossKernels<T>& k);
template <class T>
void set_dropout_kernels(LossKernels<T>& k);

namespace {

// Rows per parallel grain for rows of `len` elements: about kGrain elements of work.
FASTOPT_INLINE std::int64_t row_grain(std::int64_t len) {
    const std::int64_t g = kGrain / (len > 0 ? len : 1);
    return g > 1 ? g : 1;
}

// The threads a loss over `work` elements runs on.
FASTOPT_INLINE int team_for(std::int64_t work, int threads) { return threads_for(work, kGrain, threads); }

}  // namespace
FASTOPT_NAMESPACE_END
