// Dropout and its backward, instantiated for one ISA (see loss_kernels.hpp): the kernels are
// fastopt/dropout.hpp's, the ones fastopt::dropout and fastopt::dropout_backward (api.hpp) run.
#include "fastopt/dropout.hpp"
#include "loss_kernels.hpp"

FASTOPT_NAMESPACE_BEGIN

template <class T>
void set_dropout_kernels(LossKernels<T>& k) {
    k.dropout = &detail::dropout<T>;
    k.dropout_backward = &detail::dropout_backward<T>;
}
template void set_dropout_kernels(LossKernels<float>&);
template void set_dropout_kernels(LossKernels<double>&);

FASTOPT_NAMESPACE_END
