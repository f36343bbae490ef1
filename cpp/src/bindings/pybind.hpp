// pybind.hpp: the first include of every binding file.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

namespace py = pybind11;
using namespace pybind11::literals;

namespace fastopt {
void register_runtime(py::module_& m);
void register_activations(py::module_& m);
void register_losses(py::module_& m);
void register_optimizers(py::module_& m);
}  // namespace fastopt
