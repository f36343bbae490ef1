// fastopt/optim_params.hpp: what crosses from the bindings to an optimizer step kernel.
// ISA-independent: plain types only (every ISA build and the dispatcher share them).
#pragma once

#include <cstdint>

namespace fastopt {

// torch.nn.utils.clip_grad_norm_'s coefficient is max_norm / (norm + kClipEps), in the grads'
// dtype (the kernels' and the binding's clipping both use it).
inline constexpr double kClipEps = 1e-6;

// One enumerator per optimizers.def row.
enum class Optimizer : int {
#define FASTOPT_OPTIMIZER(name, pass) name,
#include "fastopt/optimizers.def"
};

// Storage types of the arrays a step touches.
enum class Elem : int { f32, f64, bf16, f16 };

// Hyper-parameters of one step call; each optimizer reads the fields it uses.
struct OptimHyper {
    double lr = 0, beta1 = 0, beta2 = 0, eps = 0, weight_decay = 0;
    double momentum = 0, dampening = 0, alpha = 0, lr_decay = 0;
    bool nesterov = false, amsgrad = false, centered = false;
    bool decoupled = false;        // AdamW: p *= 1 - lr * weight_decay instead of L2
    bool bias_correction = true;   // LAMB
    bool maximize = false;
};

// One tensor of a multi-tensor step. `param` is the compute-precision array the step reads and
// writes (the float32 master copy for low-precision params); `param_lowp`, when not null, gets
// the updated value rounded to the low-precision type in the same pass.
struct TensorRef {
    void* param = nullptr;
    void* param_lowp = nullptr;
    const void* grad = nullptr;
    void* state[3] = {nullptr, nullptr, nullptr};
    std::int64_t n = 0;
    std::int64_t step = 1;     // 1-based update count (Adam, Adagrad, LAMB)
    bool first = false;        // SGD: momentum buffer has no history yet
};

struct StepRequest {
    Optimizer opt = Optimizer::sgd;
    Elem compute = Elem::f32;  // param (or master) and state: f32 or f64
    Elem grad = Elem::f32;     // f32, f64 (with f64 compute), bf16 or f16
    Elem lowp = Elem::f32;     // bf16 or f16 when param_lowp is set; else ignored
    const TensorRef* tensors = nullptr;
    std::int64_t count = 0;
    OptimHyper hyper;
    double grad_scale = 1;      // grads are divided by it as they are read
    double max_grad_norm = -1;  // > 0: clip by the global L2 norm (fused)
    bool skip_if_nonfinite = false;  // AMP found_inf: check first, change nothing if found
    int threads = 1;
};

struct StepReport {
    double grad_norm = -1;  // >= 0 when a norm pass ran
    bool found_inf = false;
    bool skipped = false;
};

// clip_grad_norm_: the global norm of a list of grads, and the in-place scale.
struct NormRequest {
    Elem elem = Elem::f32;
    void* const* grads = nullptr;  // written only by the scale
    const std::int64_t* sizes = nullptr;
    std::int64_t count = 0;
    double norm_type = 2;          // any p > 0, or +inf
    int threads = 1;
};

}  // namespace fastopt
