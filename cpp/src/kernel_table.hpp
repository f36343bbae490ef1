// kernel_table.hpp: the function-pointer tables each ISA build fills and dispatch.cpp picks.
// ISA-independent: only plain types cross this boundary.
#pragma once

#include <cstdint>
#include <type_traits>

#include "fastopt/loss_params.hpp"
#include "fastopt/optim_params.hpp"
#include "fastopt/params.hpp"

namespace fastopt {

// Index of an elementwise activation in ActivationKernels::forward / backward.
enum class Act : int {
#define FASTOPT_ACTIVATION(name, Rule, saved, public_name) name,
#include "fastopt/activations.def"
    count
};
constexpr int kNumActivations = static_cast<int>(Act::count);

template <class T>
struct ActivationKernels {
    // y = f(x)
    using Forward = void (*)(const T* x, T* y, std::int64_t n, const ActivationParams& p, int threads);
    // grad_in = f'(saved) * grad_out
    using Backward = void (*)(const T* grad_out, const T* saved, T* grad_in, std::int64_t n,
                              const ActivationParams& p, int threads);
    // x viewed as (outer, channels, inner); weight has `channels` elements.
    using PreluForward = void (*)(const T* x, const T* weight, T* y, std::int64_t outer,
                                  std::int64_t channels, std::int64_t inner, int threads);
    // grad_weight is written (not accumulated) with `channels` elements.
    using PreluBackward = void (*)(const T* grad_out, const T* x, const T* weight, T* grad_x,
                                   T* grad_weight, std::int64_t outer, std::int64_t channels,
                                   std::int64_t inner, int threads);

    Forward forward[kNumActivations];
    Backward backward[kNumActivations];
#define FASTOPT_PRELU(name)        \
    PreluForward name##_forward;   \
    PreluBackward name##_backward;
#include "fastopt/activations.def"
};

struct ActivationTable {
    ActivationKernels<float> f32;
    ActivationKernels<double> f64;
    template <class T> const ActivationKernels<T>& get() const {
        if constexpr (std::is_same_v<T, float>) return f32; else return f64;
    }
};

// Memory kernels of the access patterns the benchmark's roofline is measured with.
template <class T>
struct RooflineKernels {
    void (*copy)(const T* x, T* y, std::int64_t n, int threads);  // y = x, plain stores
    void (*axpy)(T* a, const T* b, T s, std::int64_t n, int threads);  // a += s*b, in place
    double (*sum)(const T* x, std::int64_t n, int threads);           // read-only
};
struct RooflineTable {
    RooflineKernels<float> f32;
    RooflineKernels<double> f64;
    template <class T> const RooflineKernels<T>& get() const {
        if constexpr (std::is_same_v<T, float>) return f32; else return f64;
    }
};

// Multi-tensor optimizer steps and gradient norms (optimizers.cpp). `step` runs every
// optimizer (StepRequest::opt); grad_norm and scale are clip_grad_norm_'s two passes.
struct OptimTable {
    StepReport (*step)(const StepRequest& request);
    double (*grad_norm)(const NormRequest& request);          // the norm of the whole list
    void (*scale)(const NormRequest& request, double factor);  // grads *= factor, in place
};

}  // namespace fastopt

// ---- Losses, softmax and dropout (fastopt/{softmax,class_losses,pointwise_losses,dropout}.hpp;
// their requests and results: fastopt/loss_params.hpp)
namespace fastopt {

template <class T>
struct LossKernels {
    // x viewed as (outer, len, inner); the softmax axis is len.
    using SoftmaxFn = void (*)(const T* x, T* y, std::int64_t outer, std::int64_t len, std::int64_t inner,
                               int threads);
    using SoftmaxBackFn = void (*)(const T* gy, const T* y, T* gx, std::int64_t outer, std::int64_t len,
                                   std::int64_t inner, int threads);
    // grad (may be null: loss only) and loss_none (reduction 'none' only) have the sizes of
    // logits and of one value per sample. weight: c values or null.
    using ClassLossFn = LossSum (*)(const T* x, const T* weight, T* grad, T* loss_none,
                                    const ClassLossParams& p, int threads);
    // weight, pos_weight: n values or null (bce_with_logits only).
    using PointwiseFn = LossSum (*)(const T* pred, const T* target, const T* weight, const T* pos_weight,
                                    T* grad, T* loss_none, std::int64_t n, const PointwiseParams& p, int threads);
    // mask: 1 byte per element, 1 kept / 0 dropped. y = x * mask / (1 - p).
    using DropoutFn = void (*)(const T* x, T* y, std::uint8_t* mask, std::int64_t n, double p,
                               std::uint64_t seed, int threads);
    using DropoutBackFn = void (*)(const T* gy, const std::uint8_t* mask, T* gx, std::int64_t n, double p,
                                   int threads);

    // One field per losses.def row (the pointwise losses: one entry of `pointwise` each).
#define FASTOPT_SOFTMAX(name) \
    SoftmaxFn name;           \
    SoftmaxBackFn name##_backward;
#define FASTOPT_CLASS_LOSS(name, public_name, input) ClassLossFn name;
#define FASTOPT_DROPOUT(name) \
    DropoutFn name;           \
    DropoutBackFn name##_backward;
#include "fastopt/losses.def"
    PointwiseFn pointwise[kNumPointwiseLosses];
};

struct LossTable {
    LossKernels<float> f32;
    LossKernels<double> f64;
    template <class T> const LossKernels<T>& get() const {
        if constexpr (std::is_same_v<T, float>) return f32; else return f64;
    }
};

}  // namespace fastopt

// Declares the per-ISA table getters: fastopt::<isa>::activation_table() and friends, and
// simd_pragmas(): whether that ISA's kernels were compiled with FASTOPT_SIMD as `omp simd`.
#define FASTOPT_DECLARE_ISA_TABLES(isa)                \
    namespace fastopt {                                \
    namespace isa {                                    \
    const ::fastopt::ActivationTable& activation_table(); \
    const ::fastopt::RooflineTable& roofline_table();  \
    const ::fastopt::LossTable& loss_table();          \
    const ::fastopt::OptimTable& optim_table();        \
    bool simd_pragmas();                               \
    }                                                  \
    }
