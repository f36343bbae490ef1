// fastopt/optim_step.hpp: multi-tensor optimizer steps, gradient norms and clipping (the
// optimizer steps and fastopt::clip_grad_norm of api.hpp; the extension's table,
// cpp/src/isa/optimizers.cpp, points at the same functions).
//
// A step is at most two passes over memory: an optional read-only pass over the grads (the
// global norm for max_grad_norm=, the non-finite check for found_inf=) and the update pass
// (LAMB needs a second update pass for its trust ratio). Both walk the same fixed blocks
// (multi_tensor.hpp), so reductions are bitwise identical for any thread count.
// Low-precision grads are widened, and low-precision params narrowed from their float32
// master copy, a tile at a time while the tile is in L1: memory is still crossed once.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>

#include "fastopt/config.hpp"
#include "fastopt/lowp.hpp"
#include "fastopt/multi_tensor.hpp"
#include "fastopt/optim_params.hpp"
#include "fastopt/optimizers.hpp"

FASTOPT_NAMESPACE_BEGIN
FASTOPT_DETAIL_BEGIN

constexpr std::int64_t kConvertTile = 1024;  // elements converted at a time (L1-resident)

template <class F>
FASTOPT_INLINE void with_flag(bool b, const F& f) {
    if (b) f(std::true_type{}); else f(std::false_type{});
}

// The grads of tile [lo, hi) as T values: the array itself when it holds T, else widened
// into `buf`. Returns the pointer to read as g[i - base], with `base` set accordingly.
template <class T>
const T* grad_tile(const void* grad, Elem type, std::int64_t lo, std::int64_t hi, T* buf, std::int64_t& base) {
    if (type == Elem::f32 || type == Elem::f64) {
        base = 0;
        return static_cast<const T*>(grad);
    }
    const auto* h = static_cast<const std::uint16_t*>(grad) + lo;
    const std::int64_t n = hi - lo;
    if (type == Elem::bf16) {
        FASTOPT_SIMD
        for (std::int64_t i = 0; i < n; ++i) buf[i] = static_cast<T>(bf16_to_float(h[i]));
    } else {
        FASTOPT_SIMD
        for (std::int64_t i = 0; i < n; ++i) buf[i] = static_cast<T>(f16_to_float(h[i]));
    }
    base = lo;
    return buf;
}

template <class T>
void narrow_tile(const T* master, void* lowp, Elem type, std::int64_t lo, std::int64_t hi) {
    auto* h = static_cast<std::uint16_t*>(lowp);
    if (type == Elem::bf16) {
        FASTOPT_SIMD
        for (std::int64_t i = lo; i < hi; ++i) h[i] = float_to_bf16(static_cast<float>(master[i]));
    } else {
        FASTOPT_SIMD
        for (std::int64_t i = lo; i < hi; ++i) h[i] = float_to_f16(static_cast<float>(master[i]));
    }
}

// Tiles of a block: the whole block at once when no conversion is needed.
// `narrow`: write the low-precision param copy after each tile (the pass moved the params).
template <class T, class Body>
FASTOPT_INLINE void for_each_tile(const TensorRef& t, Elem grad_type, Elem lowp_type, std::int64_t lo, std::int64_t hi,
                                  bool narrow, const Body& body) {
    narrow = narrow && t.param_lowp != nullptr;
    const bool convert = !(grad_type == Elem::f32 || grad_type == Elem::f64) || narrow;
    const std::int64_t tile = convert ? kConvertTile : hi - lo;
    T buf[kConvertTile];
    for (std::int64_t a = lo; a < hi; a += tile) {
        const std::int64_t b = a + tile < hi ? a + tile : hi;
        std::int64_t base = 0;
        const T* g = grad_tile<T>(t.grad, grad_type, a, b, buf, base);
        body(g, base, a, b);
        if (narrow) narrow_tile<T>(static_cast<const T*>(t.param), t.param_lowp, lowp_type, a, b);
    }
}

// How every update pass reads a grad: g / grad_scale * mul (mul = clip coefficient, negated
// for maximize), noting any non-finite result.
template <class T>
struct GradRead {
    T scale;  // grad_scale
    T mul;
};

template <class Rule, class T>
FASTOPT_INLINE int update_range(const Rule& rule, const T* g, std::int64_t base, std::int64_t lo, std::int64_t hi,
                                const GradRead<T>& rd) {
    int bad = 0;
    const T mul = rd.mul;
    if (rd.scale == T(1)) {
        FASTOPT_SIMD_REDUCTION(| : bad)
        for (std::int64_t i = lo; i < hi; ++i) {
            const T gi = g[i - base] * mul;
            bad |= (gi - gi != T(0));
            rule.update(i, gi);
        }
    } else {
        const T scale = rd.scale;
        FASTOPT_SIMD_REDUCTION(| : bad)
        for (std::int64_t i = lo; i < hi; ++i) {
            const T gi = (g[i - base] / scale) * mul;
            bad |= (gi - gi != T(0));
            rule.update(i, gi);
        }
    }
    return bad;
}

template <class T>
struct Pass {
    const StepRequest& rq;
    const TensorBlocks& blocks;
    GradRead<T> rd;

    const TensorRef& tensor_of(std::int64_t b) const { return rq.tensors[blocks.tensor.data[b]]; }

    // The update of block b with rule type Rule; returns the non-finite flag.
    template <class Rule>
    int block(std::int64_t b) const {
        const TensorRef& t = tensor_of(b);
        const Rule rule(t, rq.hyper);
        int bad = 0;
        for_each_tile<T>(t, rq.grad, rq.lowp, blocks.begin.data[b], blocks.end.data[b], true,
                         [&](const T* g, std::int64_t base, std::int64_t lo, std::int64_t hi) {
                             bad |= update_range(rule, g, base, lo, hi, rd);
                         });
        return bad;
    }

    // body(block) -> int flag, over every block in parallel; returns the OR of the flags.
    template <class Body>
    bool run(const Body& body) const {
        Scratch<int> flags(rq.threads > 0 ? rq.threads : 1);
        for_each_block(blocks, rq.threads, [&](std::int64_t b, int tid) { flags.data[tid] |= body(b); });
        int any = 0;
        for (int i = 0; i < (rq.threads > 0 ? rq.threads : 1); ++i) any |= flags.data[i];
        return any != 0;
    }
};

// The passes named in optimizers.def: bool pass<T>(const Pass<T>&) runs one optimizer's step
// over every block (choosing the rule's compile-time flags from the hyper-parameters) and
// returns whether a grad read was non-finite. A new elementwise optimizer is its rule in
// optimizers.hpp, its pass here and its row in optimizers.def.
template <class T>
bool sgd_pass(const Pass<T>& ps) {
    const OptimHyper& h = ps.rq.hyper;
    const bool momentum = h.momentum != 0;
    bool found = false;
    with_flag(h.weight_decay != 0, [&](auto L2) {
        with_flag(momentum, [&](auto M) {
            with_flag(momentum && h.nesterov, [&](auto N) {
                found = ps.run([&](std::int64_t b) {
                    int bad = 0;
                    with_flag(M && ps.tensor_of(b).first, [&](auto F) {
                        bad = ps.template block<SgdRule<T, L2, M, N, F>>(b);
                    });
                    return bad;
                });
            });
        });
    });
    return found;
}

template <class T>
bool adagrad_pass(const Pass<T>& ps) {
    bool found = false;
    with_flag(ps.rq.hyper.weight_decay != 0, [&](auto L2) {
        found = ps.run([&](std::int64_t b) { return ps.template block<AdagradRule<T, L2>>(b); });
    });
    return found;
}

template <class T>
bool rmsprop_pass(const Pass<T>& ps) {
    const OptimHyper& h = ps.rq.hyper;
    bool found = false;
    with_flag(h.weight_decay != 0, [&](auto L2) {
        with_flag(h.centered, [&](auto C) {
            with_flag(h.momentum > 0, [&](auto M) {
                found = ps.run([&](std::int64_t b) { return ps.template block<RmspropRule<T, L2, C, M>>(b); });
            });
        });
    });
    return found;
}

template <class T>
bool adam_pass(const Pass<T>& ps) {
    const OptimHyper& h = ps.rq.hyper;
    bool found = false;
    with_flag(!h.decoupled && h.weight_decay != 0, [&](auto L2) {
        with_flag(h.amsgrad, [&](auto A) {
            found = ps.run([&](std::int64_t b) { return ps.template block<AdamRule<T, L2, A>>(b); });
        });
    });
    return found;
}

template <class T>
bool adamax_pass(const Pass<T>& ps) {
    bool found = false;
    with_flag(ps.rq.hyper.weight_decay != 0, [&](auto L2) {
        found = ps.run([&](std::int64_t b) { return ps.template block<AdamaxRule<T, L2>>(b); });
    });
    return found;
}

template <class T>
bool lion_pass(const Pass<T>& ps) {
    return ps.run([&](std::int64_t b) { return ps.template block<LionRule<T>>(b); });
}

// LAMB: pass 1 updates the moments and sums ||p||^2 and ||u||^2 per block; the per-tensor
// sums (block order) give the trust ratios; pass 2 moves the params.
template <class T>
bool lamb_passes(const Pass<T>& ps) {
    const StepRequest& rq = ps.rq;
    const TensorBlocks& blocks = ps.blocks;
    Scratch<double> p2(blocks.count), u2(blocks.count);
    const bool found = ps.run([&](std::int64_t b) {
        const TensorRef& t = ps.tensor_of(b);
        const LambRule<T> rule(t, rq.hyper);
        int bad = 0;
        double sp = 0, su = 0;
        for_each_tile<T>(t, rq.grad, rq.lowp, blocks.begin.data[b], blocks.end.data[b], false,
                         [&](const T* g, std::int64_t base, std::int64_t lo, std::int64_t hi) {
                             const T* p = static_cast<const T*>(t.param);
                             const T scale = ps.rd.scale, mul = ps.rd.mul;
                             int f = 0;
                             double ap = 0, au = 0;
                             FASTOPT_PRAGMA(omp simd reduction(| : f) reduction(+ : ap, au))
                             for (std::int64_t i = lo; i < hi; ++i) {
                                 const T gi = (g[i - base] / scale) * mul;
                                 f |= (gi - gi != T(0));
                                 const double x = p[i];
                                 const double u = rule.moments(i, gi);
                                 ap += x * x;
                                 au += u * u;
                             }
                             bad |= f;
                             sp += ap;
                             su += au;
                         });
        p2.data[b] = sp;
        u2.data[b] = su;
        return bad;
    });
    // Per-tensor ratio: lr * ||p|| / ||u|| (1 where either norm is 0).
    Scratch<T> step_of(rq.count);
    {
        std::int64_t b = 0;
        for (std::int64_t t = 0; t < rq.count; ++t) {
            double sp = 0, su = 0;
            for (; b < blocks.count && blocks.tensor.data[b] == t; ++b) {
                sp += p2.data[b];
                su += u2.data[b];
            }
            const double wn = std::sqrt(sp), un = std::sqrt(su);
            const double ratio = wn > 0 && un > 0 ? wn / un : 1.0;
            step_of.data[t] = static_cast<T>(rq.hyper.lr * ratio);
        }
    }
    for_each_block(blocks, rq.threads, [&](std::int64_t b, int) {
        const TensorRef& t = ps.tensor_of(b);
        const LambRule<T> rule(t, rq.hyper);
        const T s = step_of.data[blocks.tensor.data[b]];
        const std::int64_t lo = blocks.begin.data[b], hi = blocks.end.data[b];
        FASTOPT_SIMD
        for (std::int64_t i = lo; i < hi; ++i) rule.apply(i, s);
        if (t.param_lowp)
            for (std::int64_t a = lo; a < hi; a += kConvertTile)
                narrow_tile<T>(static_cast<const T*>(t.param), t.param_lowp, rq.lowp, a, a + kConvertTile < hi ? a + kConvertTile : hi);
    });
    return found;
}

// The read-only pass: sum of squares of g / grad_scale (in double) and whether any of them is
// inf/NaN. No separate flag: a non-finite value makes its block's sum inf or NaN, and finite
// float or double squares cannot overflow a double sum of any realistic length.
template <class T>
double grad_sumsq(const StepRequest& rq, const TensorBlocks& blocks, T scale, bool& bad_out) {
    Scratch<double> part(blocks.count);
    for_each_block(blocks, rq.threads, [&](std::int64_t b, int) {
        const TensorRef& t = rq.tensors[blocks.tensor.data[b]];
        T buf[kConvertTile];
        double acc = 0;
        const bool native = rq.grad == Elem::f32 || rq.grad == Elem::f64;
        const std::int64_t lo0 = blocks.begin.data[b], hi0 = blocks.end.data[b];
        const std::int64_t tile = native ? hi0 - lo0 : kConvertTile;
        for (std::int64_t lo = lo0; lo < hi0; lo += tile) {
            const std::int64_t hi = lo + tile < hi0 ? lo + tile : hi0;
            std::int64_t base = 0;
            const T* g = grad_tile<T>(t.grad, rq.grad, lo, hi, buf, base);
            // sum_lanes, not an omp simd reduction (drivers.hpp); g is indexed from `base`
            if (scale == T(1)) {
                acc += sum_lanes(g, lo - base, hi - base, [](T x) { return static_cast<double>(x) * static_cast<double>(x); });
            } else {
                acc += sum_lanes(g, lo - base, hi - base, [scale](T x) {
                    const double d = x / scale;
                    return d * d;
                });
            }
        }
        part.data[b] = acc;
    });
    double sum = 0;
    bool bad = false;
    for (std::int64_t b = 0; b < blocks.count; ++b) {
        sum += part.data[b];
        bad |= !std::isfinite(part.data[b]);
    }
    bad_out = bad;
    return sum;
}

// torch.nn.utils.clip_grad_norm_'s coefficient, in T as torch computes it:
// min(1, max_norm * (1 / (norm + kClipEps))); NaN when the norm is NaN.
template <class T>
T clip_coefficient(T norm, double max_norm) {
    const T coef = (T(1) / (norm + static_cast<T>(kClipEps))) * static_cast<T>(max_norm);
    return coef < T(1) || coef != coef ? coef : T(1);
}

template <class T>
StepReport step_impl(const StepRequest& rq) {
    StepReport report;
    const TensorBlocks blocks(rq.count, [&](std::int64_t t) { return rq.tensors[t].n; });
    const T scale = static_cast<T>(rq.grad_scale);
    T mul = rq.hyper.maximize ? T(-1) : T(1);
    if (rq.max_grad_norm > 0 || rq.skip_if_nonfinite) {
        bool bad = false;
        const double sumsq = grad_sumsq<T>(rq, blocks, scale, bad);
        if (bad && rq.skip_if_nonfinite) {
            report.found_inf = true;
            report.skipped = true;
            return report;
        }
        if (rq.max_grad_norm > 0) {
            const T norm = static_cast<T>(std::sqrt(sumsq));
            report.grad_norm = norm;
            mul *= clip_coefficient<T>(norm, rq.max_grad_norm);
        }
    }
    const Pass<T> ps{rq, blocks, GradRead<T>{scale, mul}};
    switch (rq.opt) {  // one case per optimizers.def row
#define FASTOPT_OPTIMIZER(name, pass) \
    case Optimizer::name: report.found_inf = pass(ps); break;
#include "fastopt/optimizers.def"
    }
    return report;
}

inline StepReport step(const StepRequest& rq) {
    return rq.compute == Elem::f64 ? step_impl<double>(rq) : step_impl<float>(rq);
}

// ---- clip_grad_norm_ ----------------------------------------------------------------------

template <class T>
double norm_impl(const NormRequest& rq) {
    const TensorBlocks blocks(rq.count, [&](std::int64_t t) { return rq.sizes[t]; });
    Scratch<double> part(blocks.count);
    Scratch<int> nan(blocks.count);
    const double p = rq.norm_type;
    const bool inf_norm = std::isinf(p);
    for_each_block(blocks, rq.threads, [&](std::int64_t b, int) {
        const T* g = static_cast<const T*>(rq.grads[blocks.tensor.data[b]]);
        const std::int64_t lo = blocks.begin.data[b], hi = blocks.end.data[b];
        double acc = 0;
        int f = 0;
        if (inf_norm) {
            FASTOPT_SIMD_REDUCTION2(max : acc, | : f)
            for (std::int64_t i = lo; i < hi; ++i) {
                const double a = std::abs(static_cast<double>(g[i]));
                acc = a > acc ? a : acc;
                f |= (a != a);
            }
        } else if (p == 2) {  // sum_lanes, not an omp simd reduction: see drivers.hpp
            acc = sum_lanes(g, lo, hi, [](T x) { return static_cast<double>(x) * static_cast<double>(x); });
        } else if (p == 1) {
            acc = sum_lanes(g, lo, hi, [](T x) { return std::abs(static_cast<double>(x)); });
        } else {
            for (std::int64_t i = lo; i < hi; ++i) acc += std::pow(std::abs(static_cast<double>(g[i])), p);
        }
        part.data[b] = acc;
        nan.data[b] = f;
    });
    double acc = 0;
    bool any_nan = false;
    for (std::int64_t b = 0; b < blocks.count; ++b) {
        if (inf_norm) acc = part.data[b] > acc ? part.data[b] : acc;
        else acc += part.data[b];
        any_nan |= nan.data[b] != 0;
    }
    if (inf_norm) return any_nan ? std::numeric_limits<double>::quiet_NaN() : acc;
    if (p == 1) return acc;
    if (p == 2) return std::sqrt(acc);
    return std::pow(acc, 1.0 / p);
}

inline double grad_norm(const NormRequest& rq) { return rq.elem == Elem::f64 ? norm_impl<double>(rq) : norm_impl<float>(rq); }

template <class T>
void scale_impl(const NormRequest& rq, double factor) {
    const TensorBlocks blocks(rq.count, [&](std::int64_t t) { return rq.sizes[t]; });
    const T c = static_cast<T>(factor);
    for_each_block(blocks, rq.threads, [&](std::int64_t b, int) {
        T* g = static_cast<T*>(rq.grads[blocks.tensor.data[b]]);
        const std::int64_t lo = blocks.begin.data[b], hi = blocks.end.data[b];
        FASTOPT_SIMD
        for (std::int64_t i = lo; i < hi; ++i) g[i] = g[i] * c;
    });
}

inline void scale_grads(const NormRequest& rq, double factor) {
    if (rq.elem == Elem::f64) scale_impl<double>(rq, factor); else scale_impl<float>(rq, factor);
}

FASTOPT_DETAIL_END
FASTOPT_NAMESPACE_END
