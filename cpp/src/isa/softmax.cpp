// Softmax and log_softmax, forward and backward, instantiated for one ISA (this file is
// compiled once per ISA; see CMakeLists and loss_kernels.hpp): the kernels are
// fastopt/softmax.hpp's, the ones fastopt::softmax (api.hpp) runs.
#include "fastopt/softmax.hpp"
#include "loss_kernels.hpp"

FASTOPT_NAMESPACE_BEGIN

template <class T>
void set_softmax_kernels(LossKernels<T>& k) {
    k.softmax = &detail::softmax_fwd<false, T>;
    k.log_softmax = &detail::softmax_fwd<true, T>;
    k.softmax_backward = &detail::softmax_bwd<false, T>;
    k.log_softmax_backward = &detail::softmax_bwd<true, T>;
}
template void set_softmax_kernels(LossKernels<float>&);
template void set_softmax_kernels(LossKernels<double>&);

FASTOPT_NAMESPACE_END
