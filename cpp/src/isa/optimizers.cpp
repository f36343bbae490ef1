// Multi-tensor optimizer steps, gradient norms and clipping, instantiated for one ISA build:
// the functions are fastopt/optim_step.hpp's, the ones the optimizer steps and
// fastopt::clip_grad_norm of fastopt/api.hpp run.
#include "fastopt/optim_step.hpp"
#include "kernel_table.hpp"

FASTOPT_NAMESPACE_BEGIN

const OptimTable& optim_table() {
    static const OptimTable table{&detail::step, &detail::grad_norm, &detail::scale_grads};
    return table;
}

FASTOPT_NAMESPACE_END
