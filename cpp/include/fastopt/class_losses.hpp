// fastopt/class_losses.hpp: cross_entropy and nll_loss (fastopt::cross_entropy, fastopt::nll_loss in
// api.hpp; the extension's tables, cpp/src/isa/class_losses.cpp, point at the same templates):
// two passes over fixed blocks of samples (class_loss_passes); cross_entropy's per-row paths
// are in cross_entropy.hpp, its per-sample formulas in cross_entropy_rule.hpp.
#pragma once

#include <cstdint>

#include "fastopt/config.hpp"
#include "fastopt/cross_entropy.hpp"
#include "fastopt/cross_entropy_rule.hpp"
#include "fastopt/drivers.hpp"
#include "fastopt/loss_grain.hpp"
#include "fastopt/loss_params.hpp"
#include "fastopt/losses.hpp"

FASTOPT_NAMESPACE_BEGIN
FASTOPT_DETAIL_BEGIN

// Fixed blocks of samples (r = i * inner + d): at most 1024, ~kGrain logits each.
FASTOPT_INLINE Blocks sample_blocks(std::int64_t samples, std::int64_t c) {
    return make_blocks(samples, row_grain(c), 1024);
}

// Pass 1 of cross_entropy and nll_loss over the index targets of samples [r0, r1): the
// summed weights of the non-ignored ones ('mean' divides by their total, as torch), and
// whether one is out of range (a class outside [0, C) that is not ignore_index). Branch-free
// per target kind, so the loops vectorize; an out-of-range target reads weight[0] (ignored
// ones too, then dropped), so nothing is read out of bounds before the check has run.
struct TargetBlock {
    double weight_sum;
    bool bad;
};

template <class T, class I>
TargetBlock target_block(const I* t, const T* weight, const ClassLossParams& p, std::int64_t r0, std::int64_t r1) {
    const std::int64_t ig = p.ignore_index;
    const auto c = static_cast<std::uint64_t>(p.c);
    const auto ignored = [&](I v) { return static_cast<std::int64_t>(v) == ig; };
    const auto in_range = [&](I v) { return static_cast<std::uint64_t>(static_cast<std::int64_t>(v)) < c; };
    TargetBlock res;
    if (weight)
        res.weight_sum = sum_lanes(t, r0, r1, [&](I v) {
            return ignored(v) ? 0.0 : static_cast<double>(weight[in_range(v) ? v : 0]);
        });
    else
        res.weight_sum = sum_lanes(t, r0, r1, [&](I v) { return ignored(v) ? 0.0 : 1.0; });
    int bad = 0;
    FASTOPT_SIMD_REDUCTION(| : bad)
    for (std::int64_t r = r0; r < r1; ++r) bad |= static_cast<int>(!ignored(t[r]) && !in_range(t[r]));
    res.bad = bad != 0;
    return res;
}

// cross_entropy and nll_loss in two passes over fixed sample blocks, one fork-join
// (parallel_blocks_two_pass): pass 1 checks every index target and sums their weights
// (target_block); then, once, setup(divisor), which sets the gradient's scale; pass 2 runs
// loss(b), the summed losses of block b, and writes the outputs. A target out of range
// stops before pass 2: res.bad_target, nothing written (the binding names it).
// Probability targets need no check; 'mean' divides their sum by the number of samples.
template <class T, class Setup, class Loss>
LossSum class_loss_passes(const T* weight, const ClassLossParams& p, const Blocks& blocks, int team, const Setup& setup,
                          const Loss& loss) {
    const std::int64_t samples = p.n * p.inner;
    LossSum res;
    Scratch<double> weight_sum(blocks.count), partial(blocks.count);
    Scratch<unsigned char> bad(blocks.count);
    parallel_blocks_two_pass(
        blocks.count, team,
        [&](std::int64_t b) {
            if (p.target_kind == 2) return;
            const std::int64_t r0 = blocks.begin(b), r1 = blocks.end(b, samples);
            const TargetBlock tb =
                p.target_kind == 0 ? target_block(static_cast<const std::int32_t*>(p.target), weight, p, r0, r1)
                                   : target_block(static_cast<const std::int64_t*>(p.target), weight, p, r0, r1);
            weight_sum.data[b] = tb.weight_sum;
            bad.data[b] = tb.bad ? 1 : 0;
        },
        [&]() {
            if (p.target_kind == 2) {
                res.divisor = static_cast<double>(samples);
            } else {
                double total = 0.0;  // in block order: the same bits for any thread count
                for (std::int64_t b = 0; b < blocks.count; ++b) {
                    total += weight_sum.data[b];
                    res.bad_target = res.bad_target || bad.data[b] != 0;
                }
                res.divisor = total;
            }
            if (res.bad_target || samples == 0) return false;
            setup(res.divisor);
            return true;
        },
        [&](std::int64_t b) { partial.data[b] = loss(b); });
    if (!res.bad_target)
        for (std::int64_t b = 0; b < blocks.count && samples > 0; ++b) res.total += partial.data[b];
    return res;
}

template <class T>
LossSum cross_entropy(const T* x, const T* weight, T* grad, T* loss_none, const ClassLossParams& p, int threads) {
    const std::int64_t samples = p.n * p.inner;
    const int team = team_for(samples * p.c, threads);
    const Blocks blocks = sample_blocks(samples, p.c);
    double wsum = static_cast<double>(p.c);
    if (weight) {
        wsum = 0.0;
        for (std::int64_t j = 0; j < p.c; ++j) wsum += static_cast<double>(weight[j]);
    }
    CE<T> ce{x, weight, grad, loss_none, p,
             CeRule{p.label_smoothing, p.label_smoothing / static_cast<double>(p.c), wsum, 0.0}};
    const auto setup = [&](double divisor) {
        ce.rule.scale = p.reduction == Reduction::mean ? p.grad_scale / divisor : p.grad_scale;
    };
    return class_loss_passes(weight, p, blocks, team, setup, [&](std::int64_t b) {
        const std::int64_t r0 = blocks.begin(b), r1 = blocks.end(b, samples);
        double acc = 0.0;
        if (p.inner == 1 && p.c <= kSmallC)
            return p.target_kind == 2 ? ce.rows_small_prob(r0, r1, loss_none) : ce.rows_small(r0, r1, loss_none);
        if (p.inner == 1) {
            for (std::int64_t r = r0; r < r1; ++r) {
                const double l = ce.row(r);
                if (loss_none) loss_none[r] = static_cast<T>(l);
                acc += l;
            }
            return acc;
        }
        double l[kTile];
        for (std::int64_t r = r0; r < r1;) {
            const std::int64_t i = r / p.inner, d = r % p.inner;
            std::int64_t nw = p.inner - d;
            if (nw > kTile) nw = kTile;
            if (nw > r1 - r) nw = r1 - r;
            ce.tile(i, d, nw, l);
            for (std::int64_t k = 0; k < nw; ++k) {
                if (loss_none) loss_none[r + k] = static_cast<T>(l[k]);
                acc += l[k];
            }
            r += nw;
        }
        return acc;
    });
}

// Zeroes the gradient entries of samples [r0, r1) of x viewed as (n, C, inner): sample
// r = (i, d) owns x[(i C + c) inner + d] for every class c, so a block of samples owns whole
// rows (inner == 1) or, per (i, c), a run of consecutive d.
template <class T>
void zero_samples(T* grad, const ClassLossParams& p, std::int64_t r0, std::int64_t r1) {
    const std::int64_t C = p.c, inner = p.inner;
    const auto zero = [grad](std::int64_t lo, std::int64_t hi) {
        FASTOPT_SIMD
        for (std::int64_t j = lo; j < hi; ++j) grad[j] = T(0);
    };
    if (inner == 1) {
        zero(r0 * C, r1 * C);
        return;
    }
    for (std::int64_t i = r0 / inner; i * inner < r1; ++i) {
        const std::int64_t d0 = r0 > i * inner ? r0 - i * inner : 0;
        const std::int64_t d1 = r1 < (i + 1) * inner ? r1 - i * inner : inner;
        for (std::int64_t c = 0; c < C; ++c) zero((i * C + c) * inner + d0, (i * C + c) * inner + d1);
    }
}

// nll_loss: x holds log-probabilities; loss = -w_t x[t], gradient -scale w_t at t, 0 elsewhere.
template <class T>
LossSum nll(const T* x, const T* weight, T* grad, T* loss_none, const ClassLossParams& p, int threads) {
    const std::int64_t samples = p.n * p.inner;
    const int team = team_for(samples * p.c, threads);
    const Blocks blocks = sample_blocks(samples, p.c);
    double scale = 0.0;
    const auto setup = [&](double divisor) { scale = p.reduction == Reduction::mean ? p.grad_scale / divisor : p.grad_scale; };
    return class_loss_passes(weight, p, blocks, team, setup, [&](std::int64_t b) {
        const std::int64_t r0 = blocks.begin(b), r1 = blocks.end(b, samples);
        if (grad) zero_samples(grad, p, r0, r1);  // the gradient entries of this block's samples
        double acc = 0.0;
        for (std::int64_t r = r0; r < r1; ++r) {
            const std::int64_t t = target_at(p, r);
            double l = 0.0;
            if (t != p.ignore_index) {
                // (N, C) needs no division (a 64-bit one per sample cost more than the rest)
                const std::int64_t i = p.inner == 1 ? r : r / p.inner, d = p.inner == 1 ? 0 : r % p.inner;
                const std::int64_t at = (i * p.c + t) * p.inner + d;
                const double wt = weight ? static_cast<double>(weight[t]) : 1.0;
                l = -wt * static_cast<double>(x[at]);
                if (grad) grad[at] = static_cast<T>(-scale * wt);
            }
            if (loss_none) loss_none[r] = static_cast<T>(l);
            acc += l;
        }
        return acc;
    });
}

FASTOPT_DETAIL_END
FASTOPT_NAMESPACE_END
