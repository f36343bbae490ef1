// loss_kernels.hpp: what the loss translation units of one ISA share (each compiled once per
// ISA, see CMakeLists). Each concern's file fills its entries of LossKernels with the kernels
// of an installed header (loss_table.cpp calls them in turn):
//   softmax.cpp           softmax, log_softmax and their backwards   (fastopt/softmax.hpp)
//   class_losses.cpp      cross_entropy and nll_loss                 (fastopt/class_losses.hpp)
//   pointwise_losses.cpp  mse, l1, smooth_l1, huber, bce_with_logits (fastopt/pointwise_losses.hpp)
//   dropout.cpp           dropout and its backward                   (fastopt/dropout.hpp)
// fastopt/api.hpp's functions run the same kernel templates, so the C++ API and the Python
// bindings cannot compute different things.
#pragma once

#include "fastopt/config.hpp"
#include "kernel_table.hpp"

FASTOPT_NAMESPACE_BEGIN

template <class T>
void set_softmax_kernels(LossKernels<T>& k);
template <class T>
void set_class_loss_kernels(LossKernels<T>& k);
template <class T>
void set_pointwise_loss_kernels(LossKernels<T>& k);
template <class T>
void set_dropout_kernels(LossKernels<T>& k);

FASTOPT_NAMESPACE_END
