// The loss table of one ISA (compiled once per ISA): each concern's file fills its kernels
// (loss_kernels.hpp lists them).
#include "kernel_table.hpp"
#include "loss_kernels.hpp"

FASTOPT_NAMESPACE_BEGIN

namespace {

template <class T>
LossKernels<T> make_loss_kernels() {
    LossKernels<T> k{};
    set_softmax_kernels(k);
    set_class_loss_kernels(k);
    set_pointwise_loss_kernels(k);
    set_dropout_kernels(k);
    return k;
}

}  // namespace

const LossTable& loss_table() {
    static const LossTable table{make_loss_kernels<float>(), make_loss_kernels<double>()};
    return table;
}

FASTOPT_NAMESPACE_END
