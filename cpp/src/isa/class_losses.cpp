// cross_entropy and nll_loss, instantiated for one ISA (see loss_kernels.hpp): the kernels are
// fastopt/class_losses.hpp's, the ones fastopt::cross_entropy and fastopt::nll_loss (api.hpp) run.
#include "fastopt/class_losses.hpp"
#include "loss_kernels.hpp"

FASTOPT_NAMESPACE_BEGIN

template <class T>
void set_class_loss_kernels(LossKernels<T>& k) {
    k.cross_entropy = &detail::cross_entropy<T>;
    k.nll = &detail::nll<T>;
}
template void set_class_loss_kernels(LossKernels<float>&);
template void set_class_loss_kernels(LossKernels<double>&);

FASTOPT_NAMESPACE_END
