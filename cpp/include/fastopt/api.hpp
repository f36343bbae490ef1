// fastopt/api.hpp: fastopt's C++ API, one call per kernel over raw pointers and sizes.
//
//   #include "fastopt/api.hpp"
//   fastopt::tanh(x, y, n);                                    // y = tanh(x)
//   float loss = fastopt::cross_entropy(logits, n, c, targets, grad);
//   fastopt::adam_step(tensors, count, adam_options, threads);
//
// Every function is a template over T = float or double (deduced from the arrays; any other
// type does not compile) and computes what the torch function it names computes, with torch's
// defaults; docs/cpp-api.md lists them with their contracts. The kernels behind each call are
// the templates the Python extension's per-ISA tables point at (cpp/src/isa/*.cpp take their
// addresses), so `fastopt.tanh` and `fastopt::tanh` run the same code; here it is compiled for
// the flags of the including translation unit (e.g. -march=native), in fastopt::native.
//
// Arrays are C-contiguous, of the sizes stated, and must not overlap unless a function says
// so (an output may be its input where marked "in place allowed"). Sizes are element counts
// (int64). `threads`: the OpenMP threads a call may use (1: the calling thread only; small
// calls run on one thread whatever is asked); without OpenMP every call is single-threaded.
// Results are bitwise identical for any thread count. Nothing is kept between calls; the only
// allocations are per-call scratch.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "fastopt/activation_kernels.hpp"
#include "fastopt/class_losses.hpp"
#include "fastopt/config.hpp"
#include "fastopt/dropout.hpp"
#include "fastopt/loss_params.hpp"
#include "fastopt/optim_params.hpp"
#include "fastopt/optim_step.hpp"
#include "fastopt/params.hpp"
#include "fastopt/pointwise_losses.hpp"
#include "fastopt/softmax.hpp"

FASTOPT_NAMESPACE_BEGIN
namespace detail {

// SFINAE: the API's element types.
template <class T>
using Real = std::enable_if_t<std::is_same_v<T, float> || std::is_same_v<T, double>>;

// T in a non-deduced context: an argument written `{}` (options) or `nullptr` (grad) takes T
// from the arrays.
template <class T>
struct Identity {
    using type = T;
};
template <class T>
using Same = typename Identity<T>::type;

template <class Rule, class T>
void forward_api(const T* x, T* y, std::int64_t n, double a, double b, int threads) {
    ActivationParams p;
    p.a = a;
    p.b = b;
    forward<Rule, T>(x, y, n, p, threads);
}
template <class Rule, class T>
void backward_api(const T* grad_out, const T* saved, T* grad_in, std::int64_t n, double a, double b, int threads) {
    ActivationParams p;
    p.a = a;
    p.b = b;
    backward<Rule, T>(grad_out, saved, grad_in, n, p, threads);
}

}  // namespace detail

// ---- Activations: y = f(x) and grad_in = f'(.) * grad_out, n elements each -----------------
// In place allowed (y == x, grad_in == grad_out). The backward takes what torch's autograd
// saves: the output y (sigmoid, tanh) or the input x (the others).

// torch.sigmoid; backward from y: grad_in = grad_out * y * (1 - y).
template <class T, class = detail::Real<T>>
void sigmoid(const T* x, T* y, std::int64_t n, int threads = 1) {
    detail::forward_api<Sigmoid>(x, y, n, 0, 0, threads);
}
template <class T, class = detail::Real<T>>
void sigmoid_backward(const T* grad_out, const T* y, T* grad_in, std::int64_t n, int threads = 1) {
    detail::backward_api<Sigmoid>(grad_out, y, grad_in, n, 0, 0, threads);
}

// torch.tanh; backward from y: grad_in = grad_out * (1 - y^2).
template <class T, class = detail::Real<T>>
void tanh(const T* x, T* y, std::int64_t n, int threads = 1) {
    detail::forward_api<Tanh>(x, y, n, 0, 0, threads);
}
template <class T, class = detail::Real<T>>
void tanh_backward(const T* grad_out, const T* y, T* grad_in, std::int64_t n, int threads = 1) {
    detail::backward_api<Tanh>(grad_out, y, grad_in, n, 0, 0, threads);
}

// torch.relu; backward from x (gradient 0 at x = 0, as torch).
template <class T, class = detail::Real<T>>
void relu(const T* x, T* y, std::int64_t n, int threads = 1) {
    detail::forward_api<Relu>(x, y, n, 0, 0, threads);
}
template <class T, class = detail::Real<T>>
void relu_backward(const T* grad_out, const T* x, T* grad_in, std::int64_t n, int threads = 1) {
    detail::backward_api<Relu>(grad_out, x, grad_in, n, 0, 0, threads);
}

// torch.nn.functional.leaky_relu(x, negative_slope); backward from x.
template <class T, class = detail::Real<T>>
void leaky_relu(const T* x, T* y, std::int64_t n, double negative_slope = 0.01, int threads = 1) {
    detail::forward_api<LeakyRelu>(x, y, n, negative_slope, 0, threads);
}
template <class T, class = detail::Real<T>>
void leaky_relu_backward(const T* grad_out, const T* x, T* grad_in, std::int64_t n, double negative_slope = 0.01,
                         int threads = 1) {
    detail::backward_api<LeakyRelu>(grad_out, x, grad_in, n, negative_slope, 0, threads);
}

// torch.nn.functional.softplus(x, beta, threshold): log1p(exp(beta x)) / beta, x where
// beta x > threshold; backward from x.
template <class T, class = detail::Real<T>>
void softplus(const T* x, T* y, std::int64_t n, double beta = 1.0, double threshold = 20.0, int threads = 1) {
    detail::forward_api<Softplus>(x, y, n, beta, threshold, threads);
}
template <class T, class = detail::Real<T>>
void softplus_backward(const T* grad_out, const T* x, T* grad_in, std::int64_t n, double beta = 1.0,
                       double threshold = 20.0, int threads = 1) {
    detail::backward_api<Softplus>(grad_out, x, grad_in, n, beta, threshold, threads);
}

// torch.nn.functional.elu(x, alpha); backward from x.
template <class T, class = detail::Real<T>>
void elu(const T* x, T* y, std::int64_t n, double alpha = 1.0, int threads = 1) {
    detail::forward_api<Elu>(x, y, n, alpha, 0, threads);
}
template <class T, class = detail::Real<T>>
void elu_backward(const T* grad_out, const T* x, T* grad_in, std::int64_t n, double alpha = 1.0, int threads = 1) {
    detail::backward_api<Elu>(grad_out, x, grad_in, n, alpha, 0, threads);
}

// torch.nn.functional.gelu(x) (the erf form); backward from x.
template <class T, class = detail::Real<T>>
void gelu(const T* x, T* y, std::int64_t n, int threads = 1) {
    detail::forward_api<Gelu>(x, y, n, 0, 0, threads);
}
template <class T, class = detail::Real<T>>
void gelu_backward(const T* grad_out, const T* x, T* grad_in, std::int64_t n, int threads = 1) {
    detail::backward_api<Gelu>(grad_out, x, grad_in, n, 0, 0, threads);
}

// torch.nn.functional.gelu(x, approximate="tanh"); backward from x.
template <class T, class = detail::Real<T>>
void gelu_tanh(const T* x, T* y, std::int64_t n, int threads = 1) {
    detail::forward_api<GeluTanh>(x, y, n, 0, 0, threads);
}
template <class T, class = detail::Real<T>>
void gelu_tanh_backward(const T* grad_out, const T* x, T* grad_in, std::int64_t n, int threads = 1) {
    detail::backward_api<GeluTanh>(grad_out, x, grad_in, n, 0, 0, threads);
}

// torch.nn.functional.silu: x * sigmoid(x); backward from x.
template <class T, class = detail::Real<T>>
void silu(const T* x, T* y, std::int64_t n, int threads = 1) {
    detail::forward_api<Silu>(x, y, n, 0, 0, threads);
}
template <class T, class = detail::Real<T>>
void silu_backward(const T* grad_out, const T* x, T* grad_in, std::int64_t n, int threads = 1) {
    detail::backward_api<Silu>(grad_out, x, grad_in, n, 0, 0, threads);
}

// torch.nn.functional.prelu(x, weight) over x viewed as (outer, channels, inner), channels
// being torch's axis 1; weight holds `channels` slopes (for one shared slope: channels = 1,
// inner = the rest). In place allowed (y == x).
template <class T, class = detail::Real<T>>
void prelu(const T* x, const T* weight, T* y, std::int64_t outer, std::int64_t channels, std::int64_t inner,
           int threads = 1) {
    detail::prelu_forward<T>(x, weight, y, outer, channels, inner, threads);
}
// grad_x = x > 0 ? grad_out : weight * grad_out; grad_weight (channels values, written, not
// accumulated) = the sum over each channel of (x > 0 ? 0 : x * grad_out), in double.
template <class T, class = detail::Real<T>>
void prelu_backward(const T* grad_out, const T* x, const T* weight, T* grad_x, T* grad_weight, std::int64_t outer,
                    std::int64_t channels, std::int64_t inner, int threads = 1) {
    detail::prelu_backward<T>(grad_out, x, weight, grad_x, grad_weight, outer, channels, inner, threads);
}

// ---- Softmax: along the middle axis of x viewed as (outer, len, inner) -------------------------
// For (rows, classes) row-major data: outer = rows, len = classes, inner = 1. In place allowed.

// torch.softmax: y = exp(x - max) / sum(exp(x - max)) over each row of len elements.
template <class T, class = detail::Real<T>>
void softmax(const T* x, T* y, std::int64_t outer, std::int64_t len, std::int64_t inner = 1, int threads = 1) {
    detail::softmax_fwd<false, T>(x, y, outer, len, inner, threads);
}
// grad_in = y * (grad_out - sum(grad_out * y)), from the forward's output y.
template <class T, class = detail::Real<T>>
void softmax_backward(const T* grad_out, const T* y, T* grad_in, std::int64_t outer, std::int64_t len,
                      std::int64_t inner = 1, int threads = 1) {
    detail::softmax_bwd<false, T>(grad_out, y, grad_in, outer, len, inner, threads);
}
// torch.log_softmax: y = (x - max) - log(sum(exp(x - max))).
template <class T, class = detail::Real<T>>
void log_softmax(const T* x, T* y, std::int64_t outer, std::int64_t len, std::int64_t inner = 1, int threads = 1) {
    detail::softmax_fwd<true, T>(x, y, outer, len, inner, threads);
}
// grad_in = grad_out - exp(y) * sum(grad_out), from the forward's output y.
template <class T, class = detail::Real<T>>
void log_softmax_backward(const T* grad_out, const T* y, T* grad_in, std::int64_t outer, std::int64_t len,
                          std::int64_t inner = 1, int threads = 1) {
    detail::softmax_bwd<true, T>(grad_out, y, grad_in, outer, len, inner, threads);
}

// ---- Losses: the value, and the gradient in the same pass ------------------------------------
// Every loss returns the reduced loss as T, as torch ('mean', 'sum'; for 'none', the sum of the
// per-sample losses, which go to options.losses). `grad` (the loss's gradient with respect to
// the first argument, times options.grad_scale, e.g. 1 / gradient-accumulation steps) may be
// null for the value alone.

// The options of every loss; each loss reads the fields its comment names.
template <class T>
struct LossOptions {
    Reduction reduction = Reduction::mean;
    double grad_scale = 1.0;        // the gradient is multiplied by it
    T* losses = nullptr;            // 'none': one loss per sample (required then; else unused)
    const T* weight = nullptr;      // cross_entropy, nll_loss: c class weights; bce: n weights
    const T* pos_weight = nullptr;  // binary_cross_entropy_with_logits: n positive-class weights
    double beta = 1.0;              // smooth_l1_loss: beta; huber_loss: delta
    // cross_entropy, nll_loss:
    std::int64_t inner = 1;           // logits viewed as (n, c, inner): torch's (N, C, d1, ...)
    std::int64_t ignore_index = -100;  // index targets equal to it contribute nothing
    double label_smoothing = 0.0;     // cross_entropy only
};

namespace detail {

template <class T>
T reduced(const LossSum& s, Reduction r) {
    return static_cast<T>(reduced_loss(s, r));
}

template <class T>
void check_losses(const LossOptions<T>& o, const char* fn) {
    if (o.reduction == Reduction::none && o.losses == nullptr)
        throw std::invalid_argument(std::string(fn) + ": reduction 'none' needs options.losses");
}

template <bool Nll, class T, class Target>
T class_loss_api(const char* fn, const T* x, std::int64_t n, std::int64_t c, const Target* targets, T* grad,
                 const LossOptions<T>& o, int threads) {
    static_assert(std::is_same_v<Target, std::int32_t> || std::is_same_v<Target, std::int64_t> ||
                      (!Nll && std::is_same_v<Target, T>),
                  "targets: int32 or int64 class indices (or, for cross_entropy, T probabilities)");
    check_losses(o, fn);
    ClassLossParams p;
    p.n = n;
    p.c = c;
    p.inner = o.inner;
    p.target_kind = std::is_same_v<Target, std::int32_t> ? 0 : std::is_same_v<Target, std::int64_t> ? 1 : 2;
    p.target = targets;
    p.ignore_index = o.ignore_index;
    p.label_smoothing = Nll ? 0.0 : o.label_smoothing;
    p.reduction = o.reduction;
    p.grad_scale = o.grad_scale;
    T* none = o.reduction == Reduction::none ? o.losses : nullptr;
    const LossSum s = Nll ? nll<T>(x, o.weight, grad, none, p, threads)
                          : cross_entropy<T>(x, o.weight, grad, none, p, threads);
    if (s.bad_target)
        throw std::out_of_range(std::string(fn) + ": a target is outside [0, c) and is not ignore_index");
    return reduced<T>(s, o.reduction);
}

template <class Rule, class T>
T pointwise_api(const char* fn, const T* pred, const T* target, std::int64_t n, T* grad, const LossOptions<T>& o,
                int threads) {
    check_losses(o, fn);
    PointwiseParams p;
    p.beta = o.beta;
    p.reduction = o.reduction;
    p.grad_scale = o.grad_scale;
    T* none = o.reduction == Reduction::none ? o.losses : nullptr;
    LossSum s;
    if constexpr (std::is_void_v<Rule>)
        s = bce<T>(pred, target, o.weight, o.pos_weight, grad, none, n, p, threads);
    else
        s = pointwise<Rule, T>(pred, target, nullptr, nullptr, grad, none, n, p, threads);
    return reduced<T>(s, o.reduction);
}

}  // namespace detail

// torch.nn.functional.cross_entropy(logits, targets, weight, ignore_index, reduction,
// label_smoothing): softmax cross-entropy over logits viewed as (n, c, inner). targets: n *
// inner class indices (int32 or int64, each in [0, c) or ignore_index; otherwise nothing is
// written and std::out_of_range is thrown), or n * c * inner class probabilities (T, the
// logits' layout). 'mean' divides by the summed weights of the non-ignored targets (index
// targets) or by n * inner (probabilities). grad: the logits' size.
template <class T, class Target, class = detail::Real<T>>
T cross_entropy(const T* logits, std::int64_t n, std::int64_t c, const Target* targets, detail::Same<T>* grad,
                const LossOptions<detail::Same<T>>& options = {}, int threads = 1) {
    return detail::class_loss_api<false>("fastopt::cross_entropy", logits, n, c, targets, grad, options, threads);
}

// torch.nn.functional.nll_loss(log_probs, targets, weight, ignore_index, reduction): the loss
// -weight[t] * log_probs[t] per sample, over log_probs viewed as (n, c, inner); index targets
// only, as cross_entropy's.
template <class T, class Target, class = detail::Real<T>>
T nll_loss(const T* log_probs, std::int64_t n, std::int64_t c, const Target* targets, detail::Same<T>* grad,
           const LossOptions<detail::Same<T>>& options = {}, int threads = 1) {
    return detail::class_loss_api<true>("fastopt::nll_loss", log_probs, n, c, targets, grad, options, threads);
}

// torch.nn.functional.mse_loss: (pred - target)^2 per element; grad with respect to pred.
template <class T, class = detail::Real<T>>
T mse_loss(const T* pred, const T* target, std::int64_t n, detail::Same<T>* grad,
           const LossOptions<detail::Same<T>>& options = {}, int threads = 1) {
    return detail::pointwise_api<MseRule>("fastopt::mse_loss", pred, target, n, grad, options, threads);
}

// torch.nn.functional.l1_loss: |pred - target| (gradient sign(pred - target), 0 at 0).
template <class T, class = detail::Real<T>>
T l1_loss(const T* pred, const T* target, std::int64_t n, detail::Same<T>* grad,
          const LossOptions<detail::Same<T>>& options = {}, int threads = 1) {
    return detail::pointwise_api<L1Rule>("fastopt::l1_loss", pred, target, n, grad, options, threads);
}

// torch.nn.functional.smooth_l1_loss(beta = options.beta): 0.5 d^2 / beta for |d| < beta,
// |d| - 0.5 beta otherwise (d = pred - target).
template <class T, class = detail::Real<T>>
T smooth_l1_loss(const T* pred, const T* target, std::int64_t n, detail::Same<T>* grad,
                 const LossOptions<detail::Same<T>>& options = {}, int threads = 1) {
    return detail::pointwise_api<SmoothL1Rule>("fastopt::smooth_l1_loss", pred, target, n, grad, options, threads);
}

// torch.nn.functional.huber_loss(delta = options.beta): 0.5 d^2 for |d| <= delta,
// delta (|d| - 0.5 delta) otherwise.
template <class T, class = detail::Real<T>>
T huber_loss(const T* pred, const T* target, std::int64_t n, detail::Same<T>* grad,
             const LossOptions<detail::Same<T>>& options = {}, int threads = 1) {
    return detail::pointwise_api<HuberRule>("fastopt::huber_loss", pred, target, n, grad, options, threads);
}

// torch.nn.functional.binary_cross_entropy_with_logits(logits, target, weight, pos_weight):
// -w [pw t log sigmoid(x) + (1 - t) log sigmoid(-x)] per element, overflow-free; options.weight
// and options.pos_weight (n values each, already broadcast; null: 1) are optional.
template <class T, class = detail::Real<T>>
T binary_cross_entropy_with_logits(const T* logits, const T* target, std::int64_t n, detail::Same<T>* grad,
                                   const LossOptions<detail::Same<T>>& options = {}, int threads = 1) {
    return detail::pointwise_api<void>("fastopt::binary_cross_entropy_with_logits", logits, target, n, grad, options,
                                       threads);
}

// ---- Dropout ------------------------------------------------------------------------------------

// torch.nn.functional.dropout(x, p, training=True) with fastopt's counter-based RNG: element
// i is kept (mask[i] = 1, y[i] = x[i] / (1 - p)) or dropped (mask[i] = 0, y[i] = 0) as a pure
// function of (seed, i), so the result does not depend on the thread count; the same
// (seed, i) give the same mask as fastopt.dropout. p in [0, 1]. In place allowed (y == x).
template <class T, class = detail::Real<T>>
void dropout(const T* x, T* y, std::uint8_t* mask, std::int64_t n, double p, std::uint64_t seed, int threads = 1) {
    detail::dropout<T>(x, y, mask, n, p, seed, threads);
}
// grad_in = grad_out * mask / (1 - p).
template <class T, class = detail::Real<T>>
void dropout_backward(const T* grad_out, const std::uint8_t* mask, T* grad_in, std::int64_t n, double p,
                      int threads = 1) {
    detail::dropout_backward<T>(grad_out, mask, grad_in, n, p, threads);
}

// ---- Optimizer steps: in place, one parallel pass over every tensor of the list --------------
// Each call updates the parameters and the optimizer state of `count` tensors as one
// torch.optim step does (torch's defaults and formulas, the same numbers to rounding), the
// whole list split over the threads by total size. Set the options' `step` to the number
// of this step (1 on the first) where the optimizer has one.

// One parameter tensor: n elements of param (updated), grad (read) and the optimizer's state
// arrays (updated; zero-initialized before the first step, as torch):
//   sgd      state[0] momentum_buffer (momentum != 0)
//   adagrad  state[0] sum (torch's initial_accumulator_value: fill it before the first step)
//   rmsprop  state[0] square_avg, state[1] grad_avg (centered), state[2] momentum_buffer (momentum > 0)
//   adam, adamw  state[0] exp_avg, state[1] exp_avg_sq, state[2] max_exp_avg_sq (amsgrad)
//   lion     state[0] exp_avg
//   lamb     state[0] exp_avg, state[1] exp_avg_sq
template <class T>
struct OptimTensor {
    T* param = nullptr;
    const T* grad = nullptr;
    std::int64_t n = 0;
    T* state[3] = {nullptr, nullptr, nullptr};
};

// torch.optim.SGD. first_step: the momentum buffers have no history yet (torch's
// momentum_buffer is None: buf = grad).
struct SgdOptions {
    double lr = 1e-3, momentum = 0, dampening = 0, weight_decay = 0;
    bool nesterov = false, maximize = false, first_step = false;
};
// torch.optim.Adagrad.
struct AdagradOptions {
    double lr = 1e-2, lr_decay = 0, weight_decay = 0, eps = 1e-10;
    bool maximize = false;
    std::int64_t step = 1;
};
// torch.optim.RMSprop.
struct RmspropOptions {
    double lr = 1e-2, alpha = 0.99, eps = 1e-8, weight_decay = 0, momentum = 0;
    bool centered = false, maximize = false;
};
// torch.optim.Adam (L2 weight decay).
struct AdamOptions {
    double lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0;
    bool amsgrad = false, maximize = false;
    std::int64_t step = 1;
};
// torch.optim.AdamW (decoupled weight decay: p *= 1 - lr * weight_decay).
struct AdamWOptions {
    double lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 1e-2;
    bool amsgrad = false, maximize = false;
    std::int64_t step = 1;
};
// torch.optim.Adamax (the infinity norm: state[0] exp_avg, state[1] exp_inf).
struct AdamaxOptions {
    double lr = 2e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0;
    bool maximize = false;
    std::int64_t step = 1;
};
// Lion (Chen et al. 2023), as fastopt.optim.Lion.
struct LionOptions {
    double lr = 1e-4, beta1 = 0.9, beta2 = 0.99, weight_decay = 0;
    bool maximize = false;
};
// LAMB (You et al. 2020), as fastopt.optim.LAMB: Adam's moments, a per-tensor trust ratio.
struct LambOptions {
    double lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-6, weight_decay = 0;
    bool bias_correction = true, maximize = false;
    std::int64_t step = 1;
};

namespace detail {

// Runs one step of `opt` through the extension's step function (optim_step.hpp).
template <class T>
void run_step(Optimizer opt, const OptimTensor<T>* tensors, std::int64_t count, const OptimHyper& h,
              std::int64_t step, bool first, int threads) {
    constexpr Elem elem = std::is_same_v<T, float> ? Elem::f32 : Elem::f64;
    Scratch<TensorRef> refs(count);
    for (std::int64_t i = 0; i < count; ++i) {
        TensorRef& r = refs.data[i];
        r.param = tensors[i].param;
        r.grad = tensors[i].grad;
        for (int s = 0; s < 3; ++s) r.state[s] = tensors[i].state[s];
        r.n = tensors[i].n;
        r.step = step;
        r.first = first;
    }
    StepRequest rq;
    rq.opt = opt;
    rq.compute = elem;
    rq.grad = elem;
    rq.tensors = refs.data;
    rq.count = count;
    rq.hyper = h;
    rq.threads = threads;
    detail::step(rq);
}

}  // namespace detail

template <class T, class = detail::Real<T>>
void sgd_step(const OptimTensor<T>* tensors, std::int64_t count, const SgdOptions& o, int threads = 1) {
    OptimHyper h;
    h.lr = o.lr;
    h.momentum = o.momentum;
    h.dampening = o.dampening;
    h.weight_decay = o.weight_decay;
    h.nesterov = o.nesterov;
    h.maximize = o.maximize;
    detail::run_step(Optimizer::sgd, tensors, count, h, 1, o.first_step, threads);
}

template <class T, class = detail::Real<T>>
void adagrad_step(const OptimTensor<T>* tensors, std::int64_t count, const AdagradOptions& o, int threads = 1) {
    OptimHyper h;
    h.lr = o.lr;
    h.lr_decay = o.lr_decay;
    h.weight_decay = o.weight_decay;
    h.eps = o.eps;
    h.maximize = o.maximize;
    detail::run_step(Optimizer::adagrad, tensors, count, h, o.step, false, threads);
}

template <class T, class = detail::Real<T>>
void rmsprop_step(const OptimTensor<T>* tensors, std::int64_t count, const RmspropOptions& o, int threads = 1) {
    OptimHyper h;
    h.lr = o.lr;
    h.alpha = o.alpha;
    h.eps = o.eps;
    h.weight_decay = o.weight_decay;
    h.momentum = o.momentum;
    h.centered = o.centered;
    h.maximize = o.maximize;
    detail::run_step(Optimizer::rmsprop, tensors, count, h, 1, false, threads);
}

template <class T, class = detail::Real<T>>
void adam_step(const OptimTensor<T>* tensors, std::int64_t count, const AdamOptions& o, int threads = 1) {
    OptimHyper h;
    h.lr = o.lr;
    h.beta1 = o.beta1;
    h.beta2 = o.beta2;
    h.eps = o.eps;
    h.weight_decay = o.weight_decay;
    h.amsgrad = o.amsgrad;
    h.maximize = o.maximize;
    detail::run_step(Optimizer::adam, tensors, count, h, o.step, false, threads);
}

template <class T, class = detail::Real<T>>
void adamw_step(const OptimTensor<T>* tensors, std::int64_t count, const AdamWOptions& o, int threads = 1) {
    OptimHyper h;
    h.lr = o.lr;
    h.beta1 = o.beta1;
    h.beta2 = o.beta2;
    h.eps = o.eps;
    h.weight_decay = o.weight_decay;
    h.amsgrad = o.amsgrad;
    h.maximize = o.maximize;
    h.decoupled = true;
    detail::run_step(Optimizer::adamw, tensors, count, h, o.step, false, threads);
}

template <class T, class = detail::Real<T>>
void adamax_step(const OptimTensor<T>* tensors, std::int64_t count, const AdamaxOptions& o, int threads = 1) {
    OptimHyper h;
    h.lr = o.lr;
    h.beta1 = o.beta1;
    h.beta2 = o.beta2;
    h.eps = o.eps;
    h.weight_decay = o.weight_decay;
    h.maximize = o.maximize;
    detail::run_step(Optimizer::adamax, tensors, count, h, o.step, false, threads);
}

template <class T, class = detail::Real<T>>
void lion_step(const OptimTensor<T>* tensors, std::int64_t count, const LionOptions& o, int threads = 1) {
    OptimHyper h;
    h.lr = o.lr;
    h.beta1 = o.beta1;
    h.beta2 = o.beta2;
    h.weight_decay = o.weight_decay;
    h.maximize = o.maximize;
    detail::run_step(Optimizer::lion, tensors, count, h, 1, false, threads);
}

template <class T, class = detail::Real<T>>
void lamb_step(const OptimTensor<T>* tensors, std::int64_t count, const LambOptions& o, int threads = 1) {
    OptimHyper h;
    h.lr = o.lr;
    h.beta1 = o.beta1;
    h.beta2 = o.beta2;
    h.eps = o.eps;
    h.weight_decay = o.weight_decay;
    h.bias_correction = o.bias_correction;
    h.maximize = o.maximize;
    detail::run_step(Optimizer::lamb, tensors, count, h, o.step, false, threads);
}

// torch.nn.utils.clip_grad_norm_(grads, max_norm, norm_type): the norm of all `count` grads
// together (grads[i] has sizes[i] elements; norm_type > 0 or infinity), and when it exceeds
// max_norm every grad is scaled in place by max_norm / (norm + 1e-6), computed in T as torch
// does. Returns the total norm (rounded to T; NaN or inf when a grad is, and then the grads
// are scaled by NaN or 0, as torch with error_if_nonfinite=False).
template <class T, class = detail::Real<T>>
double clip_grad_norm(T* const* grads, const std::int64_t* sizes, std::int64_t count, double max_norm,
                      double norm_type = 2.0, int threads = 1) {
    if (count == 0) return 0.0;
    Scratch<void*> ptrs(count);
    for (std::int64_t i = 0; i < count; ++i) ptrs.data[i] = grads[i];
    NormRequest rq;
    rq.elem = std::is_same_v<T, float> ? Elem::f32 : Elem::f64;
    rq.grads = ptrs.data;
    rq.sizes = sizes;
    rq.count = count;
    rq.norm_type = norm_type;
    rq.threads = threads;
    const T norm = static_cast<T>(detail::grad_norm(rq));
    const T coef = detail::clip_coefficient<T>(norm, max_norm);
    if (!(coef >= T(1))) detail::scale_grads(rq, coef);
    return norm;
}

FASTOPT_NAMESPACE_END
