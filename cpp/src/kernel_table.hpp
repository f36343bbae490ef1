// kernel_table.hpp: the function-pointer tables each ISA build fills and dispatch.cpp picks.
// ISA-independent: only plain types cross this boundary.
#pragma once

#include <cstdint>
#include <type_traits>

#include "fastopt/optim_params.hpp"
#include "fastopt/params.hpp"

namespace fastopt {

enum class Act : int {
#define FASTOPT_ACTIVATION(name, Rule, saved, public_name) name,
#include "fastopt/kernels.def"
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
    PreluForward prelu_forward;
    PreluBackward prelu_backward;
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

// Multi-tensor optimizer steps and gradient norms (optimizers.cpp).
struct OptimTable {
    StepReport (*step)(const StepRequest& request);
    double (*grad_norm)(const NormRequest& request);          // the norm of the whole list
    void (*scale)(const NormRequest& request, double factor);  // grads *= factor, in place
};

}  // namespace fastopt

// Declares the per-ISA table getters: fastopt::<isa>::activation_table() and friends.
#define FASTOPT_DECLARE_ISA_TABLES(isa)                \
    namespace fastopt {                                \
    namespace isa {                                    \
    const ::fastopt::ActivationTable& activation_table(); \
    const ::fastopt::RooflineTable& roofline_table();  \
    const ::fastopt::OptimTable& optim_table();        \
    }                                                  \
    }
