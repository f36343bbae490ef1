// fastopt/params.hpp: ISA-independent parameter structs (they cross the dispatch boundary,
// so they live outside the per-ISA namespace).
#pragma once

namespace fastopt {

// Scalar parameters of an activation. Meaning per rule: leaky_relu a = negative_slope;
// softplus a = beta, b = threshold; elu a = alpha. Unused fields are ignored.
struct ActivationParams {
    double a = 0.0;
    double b = 0.0;
};

}  // namespace fastopt
