// dispatch.hpp: which ISA's kernels run, and with how many threads.
//
// The process-wide state is exactly two values: the ISA in use and the thread count.
// Kernels take the thread count as an argument and never read global state themselves.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "kernel_table.hpp"

namespace fastopt {

// The kernel tables of the ISA in use.
const ActivationTable& activations();
const RooflineTable& roofline();
const LossTable& losses();  // softmax, losses, dropout
const OptimTable& optimizers();

// ISA names, lowest first: generic, avx2, avx512.
std::string current_isa();
std::vector<std::string> isas_built();
std::vector<std::string> isas_supported();  // built and runnable on this CPU
// (isa, compiler flags) for each ISA built.
std::vector<std::pair<std::string, std::string>> isa_flags();

// Selects an ISA. Throws std::invalid_argument for an unknown name and std::runtime_error
// for one this build or CPU lacks.
void set_isa(const std::string& name);
// Picks the best supported ISA, lowered by the FASTOPT_ISA environment variable if set.
void init_isa_from_env();
// Throws std::logic_error naming every registry row (activations.def, losses.def) whose kernel
// some ISA's table lacks: a row added without its line in that ISA's table fill. Run once at
// import, so the gap fails the import instead of a call through a null pointer.
void check_kernel_tables();

// Threads used by kernels: starts at OpenMP's default (OMP_NUM_THREADS if set).
int num_threads();
void set_num_threads(int n);  // n >= 1; no effect beyond 1 in a forked child
// True in a process forked (os.fork, multiprocessing "fork") from one that loaded fastopt:
// there every kernel runs on the calling thread (libgomp's pool does not survive fork).
bool forked_child();
bool openmp_enabled();
// True when every ISA's kernels were compiled with their `omp simd` pragmas (config.hpp).
bool simd_pragmas();

}  // namespace fastopt
