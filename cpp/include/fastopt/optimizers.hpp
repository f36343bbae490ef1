// fastopt/optimizers.hpp: one struct per optimizer, the update of one element.
//
// Each rule holds the typed pointers of one tensor and the scalars of one step, and
// `update(i, g)` applies torch.optim's algorithm to element i, in torch's order of operations
// (the order is in the comments; see also docs/optimizer-api.md). `g` arrives already divided
// by grad_scale, multiplied by the clip coefficient and negated for maximize.
// The flags that change which arrays are touched are template parameters, so every variant
// is a straight-line loop body; scalars that only change values stay runtime values.
// Scalars are computed in double from the hyper-parameters and rounded once to T, as torch
// does with its Python-float hyper-parameters.
#pragma once

#include <cmath>
#include <cstdint>

#include "fastopt/config.hpp"
#include "fastopt/optim_params.hpp"

FASTOPT_NAMESPACE_BEGIN

// torch.lerp(a, b, w) with a scalar weight: a + w*(b-a) for |w| < 0.5, else b - (b-a)*(1-w),
// written as base + coef*(b-a) so the choice is one blend, not two formulas.
template <class T>
struct Lerp {
    T coef;
    bool small;
    explicit Lerp(double weight)
        : coef(std::abs(static_cast<T>(weight)) < static_cast<T>(0.5)
                   ? static_cast<T>(weight)
                   : -(static_cast<T>(1) - static_cast<T>(weight))),
          small(std::abs(static_cast<T>(weight)) < static_cast<T>(0.5)) {}
    FASTOPT_INLINE T operator()(T a, T b) const { return (small ? a : b) + coef * (b - a); }
};

// SGD. g += wd*p (L2); buf = momentum*buf + (1-dampening)*g (buf = g on the first step);
// g = g + momentum*buf (Nesterov) or buf; p -= lr*g.
template <class T, bool kL2, bool kMomentum, bool kNesterov, bool kFirst>
struct SgdRule {
    T* p;
    T* buf;
    T lr, wd, momentum, keep;  // keep = 1 - dampening
    SgdRule(const TensorRef& t, const OptimHyper& h)
        : p(static_cast<T*>(t.param)), buf(static_cast<T*>(t.state[0])), lr(static_cast<T>(h.lr)),
          wd(static_cast<T>(h.weight_decay)), momentum(static_cast<T>(h.momentum)),
          keep(static_cast<T>(1 - h.dampening)) {}
    FASTOPT_INLINE void update(std::int64_t i, T g) const {
        T x = p[i];
        if (kL2) g = g + wd * x;
        if (kMomentum) {
            const T b = kFirst ? g : buf[i] * momentum + keep * g;
            buf[i] = b;
            g = kNesterov ? g + momentum * b : b;
        }
        p[i] = x - lr * g;
    }
};

// Adagrad. g += wd*p; sum += g*g; p -= clr * g / (sqrt(sum) + eps),
// clr = lr / (1 + (step-1)*lr_decay).
template <class T, bool kL2>
struct AdagradRule {
    T* p;
    T* sum;
    T clr, wd, eps;
    AdagradRule(const TensorRef& t, const OptimHyper& h)
        : p(static_cast<T*>(t.param)), sum(static_cast<T*>(t.state[0])),
          clr(static_cast<T>(h.lr / (1 + static_cast<double>(t.step - 1) * h.lr_decay))),
          wd(static_cast<T>(h.weight_decay)), eps(static_cast<T>(h.eps)) {}
    FASTOPT_INLINE void update(std::int64_t i, T g) const {
        T x = p[i];
        if (kL2) g = g + wd * x;
        const T s = sum[i] + g * g;
        sum[i] = s;
        p[i] = x - clr * (g / (std::sqrt(s) + eps));
    }
};

// RMSprop. g += wd*p; sq = alpha*sq + (1-alpha)*g*g; centered: ga = lerp(ga, g, 1-alpha),
// avg = sqrt(sq - ga*ga) + eps, else sqrt(sq) + eps; momentum: buf = momentum*buf + g/avg,
// p -= lr*buf; else p -= lr * g/avg.
template <class T, bool kL2, bool kCentered, bool kMomentum>
struct RmspropRule {
    T* p;
    T* sq;
    T* ga;
    T* buf;
    T lr, wd, alpha, one_minus_alpha, eps, momentum;
    Lerp<T> lerp;
    RmspropRule(const TensorRef& t, const OptimHyper& h)
        : p(static_cast<T*>(t.param)), sq(static_cast<T*>(t.state[0])), ga(static_cast<T*>(t.state[1])),
          buf(static_cast<T*>(t.state[2])), lr(static_cast<T>(h.lr)), wd(static_cast<T>(h.weight_decay)),
          alpha(static_cast<T>(h.alpha)), one_minus_alpha(static_cast<T>(1 - h.alpha)),
          eps(static_cast<T>(h.eps)), momentum(static_cast<T>(h.momentum)), lerp(1 - h.alpha) {}
    FASTOPT_INLINE void update(std::int64_t i, T g) const {
        T x = p[i];
        if (kL2) g = g + wd * x;
        const T s = sq[i] * alpha + one_minus_alpha * g * g;
        sq[i] = s;
        T avg;
        if (kCentered) {
            const T a = lerp(ga[i], g);
            ga[i] = a;
            avg = std::sqrt(s - a * a) + eps;
        } else {
            avg = std::sqrt(s) + eps;
        }
        if (kMomentum) {
            const T b = buf[i] * momentum + g / avg;
            buf[i] = b;
            p[i] = x - lr * b;
        } else {
            p[i] = x - lr * (g / avg);
        }
    }
};

// Adam / AdamW. Adam: g += wd*p; AdamW: p *= 1 - lr*wd. m = lerp(m, g, 1-b1);
// v = b2*v + (1-b2)*g*g; amsgrad: vmax = max(vmax, v) and v := vmax; then torch's
// p -= lr/bc1 * m / (sqrt(v)/sqrt(bc2) + eps), evaluated as
// p -= (lr/bc1 * sqrt(bc2)) * m / (sqrt(v) + eps*sqrt(bc2)): the same number up to a few
// rounding errors of the (small) update, with one division instead of two, which is what
// bounds Adam's speed when its arrays are in cache (the form DeepSpeed's CPU Adam uses too).
template <class T, bool kL2, bool kAmsgrad>
struct AdamRule {
    T* p;
    T* m;
    T* v;
    T* vmax;
    T wd, decay, b2, one_minus_b2, step_size, eps;
    Lerp<T> lerp;
    AdamRule(const TensorRef& t, const OptimHyper& h)
        : p(static_cast<T*>(t.param)), m(static_cast<T*>(t.state[0])), v(static_cast<T*>(t.state[1])),
          vmax(static_cast<T*>(t.state[2])), wd(static_cast<T>(h.weight_decay)),
          decay(static_cast<T>(h.decoupled ? 1 - h.lr * h.weight_decay : 1)), b2(static_cast<T>(h.beta2)),
          one_minus_b2(static_cast<T>(1 - h.beta2)),
          step_size(static_cast<T>(h.lr / (1 - std::pow(h.beta1, static_cast<double>(t.step))) *
                                   std::sqrt(1 - std::pow(h.beta2, static_cast<double>(t.step))))),
          eps(static_cast<T>(h.eps * std::sqrt(1 - std::pow(h.beta2, static_cast<double>(t.step))))),
          lerp(1 - h.beta1) {}
    FASTOPT_INLINE void update(std::int64_t i, T g) const {
        T x = p[i] * decay;  // decay is exactly 1 for Adam
        if (kL2) g = g + wd * x;
        const T mi = lerp(m[i], g);
        m[i] = mi;
        T vi = v[i] * b2 + one_minus_b2 * g * g;
        v[i] = vi;
        if (kAmsgrad) {
            const T mx = vmax[i];
            vi = mx > vi || mx != mx ? mx : vi;  // torch.maximum propagates NaN
            vmax[i] = vi;
        }
        p[i] = x - step_size * (mi / (std::sqrt(vi) + eps));
    }
};

// Adamax. g += wd*p; m = lerp(m, g, 1-b1); u = max(b2*u, |g| + eps) (torch.maximum: NaN in,
// NaN out); p += (-lr/bc1) * m / u, bc1 = 1 - b1^step (torch's addcdiv order).
template <class T, bool kL2>
struct AdamaxRule {
    T* p;
    T* m;
    T* u;
    T wd, b2, eps, neg_clr;
    Lerp<T> lerp;
    AdamaxRule(const TensorRef& t, const OptimHyper& h)
        : p(static_cast<T*>(t.param)), m(static_cast<T*>(t.state[0])), u(static_cast<T*>(t.state[1])),
          wd(static_cast<T>(h.weight_decay)), b2(static_cast<T>(h.beta2)), eps(static_cast<T>(h.eps)),
          neg_clr(static_cast<T>(-h.lr / (1 - std::pow(h.beta1, static_cast<double>(t.step))))),
          lerp(1 - h.beta1) {}
    FASTOPT_INLINE void update(std::int64_t i, T g) const {
        const T x = p[i];
        if (kL2) g = g + wd * x;
        const T mi = lerp(m[i], g);
        m[i] = mi;
        const T decayed = u[i] * b2, fresh = std::abs(g) + eps;
        const T ui = decayed > fresh || decayed != decayed ? decayed : fresh;
        u[i] = ui;
        p[i] = x + (neg_clr * mi) / ui;
    }
};

// Lion. c = b1*m + (1-b1)*g; p = p*(1 - lr*wd) - lr*sign(c); m = b2*m + (1-b2)*g.
template <class T>
struct LionRule {
    T* p;
    T* m;
    T lr, decay, b1, one_minus_b1, b2, one_minus_b2;
    LionRule(const TensorRef& t, const OptimHyper& h)
        : p(static_cast<T*>(t.param)), m(static_cast<T*>(t.state[0])), lr(static_cast<T>(h.lr)),
          decay(static_cast<T>(1 - h.lr * h.weight_decay)), b1(static_cast<T>(h.beta1)),
          one_minus_b1(static_cast<T>(1 - h.beta1)), b2(static_cast<T>(h.beta2)),
          one_minus_b2(static_cast<T>(1 - h.beta2)) {}
    FASTOPT_INLINE void update(std::int64_t i, T g) const {
        const T mi = m[i];
        const T c = mi * b1 + one_minus_b1 * g;
        const T sign = c > 0 ? T(1) : (c < 0 ? T(-1) : (c == 0 ? T(0) : c));  // NaN stays NaN
        p[i] = p[i] * decay - lr * sign;
        m[i] = mi * b2 + one_minus_b2 * g;
    }
};

// LAMB, in two passes. Pass 1 (`moments`): m = b1*m + (1-b1)*g; v = b2*v + (1-b2)*g*g, and
// returns u = (m/bc1) / (sqrt(v/bc2) + eps) + wd*p for the norms. Pass 2 (`apply`):
// recomputes the same u from m, v, p and sets p -= lr * ratio * u.
template <class T>
struct LambRule {
    T* p;
    T* m;
    T* v;
    T b1, one_minus_b1, b2, one_minus_b2, inv_bc1, inv_bc2, eps, wd;
    LambRule(const TensorRef& t, const OptimHyper& h)
        : p(static_cast<T*>(t.param)), m(static_cast<T*>(t.state[0])), v(static_cast<T*>(t.state[1])),
          b1(static_cast<T>(h.beta1)), one_minus_b1(static_cast<T>(1 - h.beta1)), b2(static_cast<T>(h.beta2)),
          one_minus_b2(static_cast<T>(1 - h.beta2)),
          inv_bc1(static_cast<T>(h.bias_correction ? 1 / (1 - std::pow(h.beta1, static_cast<double>(t.step))) : 1)),
          inv_bc2(static_cast<T>(h.bias_correction ? 1 / (1 - std::pow(h.beta2, static_cast<double>(t.step))) : 1)),
          eps(static_cast<T>(h.eps)), wd(static_cast<T>(h.weight_decay)) {}
    FASTOPT_INLINE T direction(T x, T mi, T vi) const {
        return (mi * inv_bc1) / (std::sqrt(vi * inv_bc2) + eps) + wd * x;
    }
    FASTOPT_INLINE T moments(std::int64_t i, T g) const {
        const T mi = m[i] * b1 + one_minus_b1 * g;
        const T vi = v[i] * b2 + one_minus_b2 * g * g;
        m[i] = mi;
        v[i] = vi;
        return direction(p[i], mi, vi);
    }
    FASTOPT_INLINE void apply(std::int64_t i, T scale) const {
        const T x = p[i];
        p[i] = x - scale * direction(x, m[i], v[i]);
    }
};

FASTOPT_NAMESPACE_END
