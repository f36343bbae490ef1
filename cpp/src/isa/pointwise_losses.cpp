// The elementwise losses (mse, l1, smooth_l1, huber, bce_with_logits), instantiated for one ISA
// (see loss_kernels.hpp): the kernels are fastopt/pointwise_losses.hpp's, the ones
// fastopt::mse_loss and friends (api.hpp) run.
#include "fastopt/pointwise_losses.hpp"
#include "loss_kernels.hpp"

FASTOPT_NAMESPACE_BEGIN

template <class T>
void set_pointwise_loss_kernels(LossKernels<T>& k) {
    k.pointwise[static_cast<int>(PointwiseLoss::mse)] = &detail::pointwise<MseRule, T>;
    k.pointwise[static_cast<int>(PointwiseLoss::l1)] = &detail::pointwise<L1Rule, T>;
    k.pointwise[static_cast<int>(PointwiseLoss::smooth_l1)] = &detail::pointwise<SmoothL1Rule, T>;
    k.pointwise[static_cast<int>(PointwiseLoss::huber)] = &detail::pointwise<HuberRule, T>;
    k.pointwise[static_cast<int>(PointwiseLoss::bce_with_logits)] = &detail::bce<T>;
}
template void set_pointwise_loss_kernels(LossKernels<float>&);
template void set_pointwise_loss_kernels(LossKernels<double>&);

FASTOPT_NAMESPACE_END
