// fastopt/loss_params.hpp: the ISA-independent request and result types of the loss kernels
// (cross_entropy, nll_loss and the pointwise losses). They cross the dispatch boundary, so they
// live outside the per-ISA namespace (as params.hpp and optim_params.hpp).
#pragma once

#include <cstdint>

namespace fastopt {

enum class Reduction : int { none = 0, mean = 1, sum = 2 };

// Elementwise losses: one kernel each (LossKernels::pointwise[PointwiseLoss] in the extension).
enum class PointwiseLoss : int {
#define FASTOPT_POINTWISE_LOSS(name, public_name, args) name,
#include "fastopt/losses.def"
    count
};
constexpr int kNumPointwiseLosses = static_cast<int>(PointwiseLoss::count);

// cross_entropy / nll_loss over logits viewed as (n, c, inner): sample r = (i, d) reads
// x[i, :, d]. Index targets must be in [0, c) or equal ignore_index (the kernels check them
// and report bad_target, writing nothing, when one is not).
struct ClassLossParams {
    std::int64_t n = 0, c = 0, inner = 1;
    int target_kind = 0;            // 0: int32 indices, 1: int64 indices, 2: probabilities (T)
    const void* target = nullptr;   // n * inner indices, or n * c * inner probabilities
    std::int64_t ignore_index = -100;
    double label_smoothing = 0.0;
    Reduction reduction = Reduction::mean;
    double grad_scale = 1.0;
};

struct PointwiseParams {
    double beta = 1.0;               // smooth_l1: beta; huber: delta
    Reduction reduction = Reduction::mean;
    double grad_scale = 1.0;
};

// total: the sum of the per-sample losses (double, fixed blocks); divisor: what 'mean'
// divides it by (sum of target weights, or the sample count). bad_target (cross_entropy,
// nll_loss): an index target was out of range; the kernel wrote nothing, total is 0.
struct LossSum {
    double total = 0.0;
    double divisor = 0.0;
    bool bad_target = false;
};

// The loss a call returns for reduction 'mean' or 'sum' (the Python bindings and api.hpp both
// use this): 'mean' divides the total by the divisor (0 / 0 = NaN, as torch).
inline double reduced_loss(const LossSum& s, Reduction r) {
    return r == Reduction::mean ? s.total / s.divisor : s.total;
}

}  // namespace fastopt
