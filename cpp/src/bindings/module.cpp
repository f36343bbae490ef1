// The extension module fastopt._core: private; fastopt/__init__.py is the public API.
#include "dispatch.hpp"
#include "pybind.hpp"

PYBIND11_MODULE(_core, m, py::mod_gil_not_used()) {
    m.doc() = "fastopt's compiled kernels (private: use the fastopt package)";
    fastopt::check_kernel_tables();  // every registry row has its kernel in every ISA build
    fastopt::init_isa_from_env();    // FASTOPT_ISA=<lower isa>; an unavailable one fails the import
    fastopt::register_runtime(m);
    fastopt::register_activations(m);
    fastopt::register_losses(m);
    fastopt::register_optimizers(m);
}
