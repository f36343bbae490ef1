// Activations, instantiated for one ISA (this file is compiled once per ISA; see CMakeLists):
// the kernels are fastopt/activation_kernels.hpp's, the ones fastopt::sigmoid and friends
// (api.hpp) run.
#include "fastopt/activation_kernels.hpp"
#include "kernel_table.hpp"

FASTOPT_NAMESPACE_BEGIN
namespace {

template <class T>
ActivationKernels<T> make_kernels() {
    ActivationKernels<T> k{};
#define FASTOPT_ACTIVATION(name, Rule, saved, public_name)              \
    k.forward[static_cast<int>(Act::name)] = &detail::forward<Rule, T>; \
    k.backward[static_cast<int>(Act::name)] = &detail::backward<Rule, T>;
#define FASTOPT_PRELU(name)                        \
    k.name##_forward = &detail::name##_forward<T>; \
    k.name##_backward = &detail::name##_backward<T>;
#include "fastopt/activations.def"
    return k;
}

}  // namespace

const ActivationTable& activation_table() {
    static const ActivationTable table{make_kernels<float>(), make_kernels<double>()};
    return table;
}

FASTOPT_NAMESPACE_END
