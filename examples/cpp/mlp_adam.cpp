// mlp_adam.cpp: train a 2-layer MLP with fastopt's header-only C++ API (fastopt/api.hpp), no
// Python.
//
// Model: y = W2 tanh(W1 x + b1) + b2, 2 inputs, 32 hidden units, 1 output, on the regression
// target sin(3 x0) * x1 + 0.5 x0^2. fastopt::tanh and fastopt::tanh_backward run the
// activation over the whole batch, fastopt::mse_loss gives the loss and its gradient in one
// pass, and fastopt::adam_step is torch.optim.Adam's update: one parallel pass over all four
// parameter tensors, as fastopt.functional.adam_ runs it. The matrix products are plain loops.
//
// Prints the loss every 100 steps; exits 1 unless the loss falls by at least 10x.
// Usage: mlp_adam [steps=600] [threads=1]
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#include "fastopt/api.hpp"

namespace {

constexpr int kIn = 2, kHidden = 32, kBatch = 256;

struct Param {
    std::vector<float> value, grad, exp_avg, exp_avg_sq;
    explicit Param(std::size_t n) : value(n), grad(n), exp_avg(n), exp_avg_sq(n) {}
    fastopt::OptimTensor<float> tensor() {  // Adam's state: exp_avg, exp_avg_sq
        fastopt::OptimTensor<float> t;
        t.param = value.data();
        t.grad = grad.data();
        t.n = static_cast<std::int64_t>(value.size());
        t.state[0] = exp_avg.data();
        t.state[1] = exp_avg_sq.data();
        return t;
    }
};

}  // namespace

int main(int argc, char** argv) {
    const int steps = argc > 1 ? std::atoi(argv[1]) : 600;
    const int threads = argc > 2 ? std::atoi(argv[2]) : 1;

    std::mt19937 gen(0);
    std::uniform_real_distribution<float> unit(-1.f, 1.f);
    std::vector<float> x(kBatch * kIn), y(kBatch);
    for (int n = 0; n < kBatch; ++n) {
        const float a = unit(gen), b = unit(gen);
        x[n * kIn] = a;
        x[n * kIn + 1] = b;
        y[n] = std::sin(3 * a) * b + 0.5f * a * a;
    }

    Param w1(kHidden * kIn), b1(kHidden), w2(kHidden), b2(1);
    {  // torch.nn.Linear's default init: U(-1/sqrt(fan_in), 1/sqrt(fan_in))
        std::uniform_real_distribution<float> u1(-1 / std::sqrt(float(kIn)), 1 / std::sqrt(float(kIn)));
        std::uniform_real_distribution<float> u2(-1 / std::sqrt(float(kHidden)), 1 / std::sqrt(float(kHidden)));
        for (auto& v : w1.value) v = u1(gen);
        for (auto& v : b1.value) v = u1(gen);
        for (auto& v : w2.value) v = u2(gen);
        for (auto& v : b2.value) v = u2(gen);
    }
    std::vector<Param*> params{&w1, &b1, &w2, &b2};
    std::vector<fastopt::OptimTensor<float>> tensors;
    for (Param* p : params) tensors.push_back(p->tensor());

    fastopt::AdamOptions adam;  // torch.optim.Adam(lr=1e-2) defaults otherwise
    adam.lr = 1e-2;

    std::vector<float> h(kBatch * kHidden), dh(kBatch * kHidden), out(kBatch), dout(kBatch);
    double first_loss = 0, loss = 0;
    for (int step = 1; step <= steps; ++step) {
        // forward: h = tanh(W1 x + b1), out = W2 h + b2
        for (int n = 0; n < kBatch; ++n)
            for (int j = 0; j < kHidden; ++j) {
                float z = b1.value[j];
                for (int k = 0; k < kIn; ++k) z += w1.value[j * kIn + k] * x[n * kIn + k];
                h[n * kHidden + j] = z;
            }
        fastopt::tanh(h.data(), h.data(), kBatch * kHidden, threads);  // in place
        for (int n = 0; n < kBatch; ++n) {
            float o = b2.value[0];
            for (int j = 0; j < kHidden; ++j) o += w2.value[j] * h[n * kHidden + j];
            out[n] = o;
        }
        // the MSE loss (mean over the batch) and its gradient with respect to out
        loss = fastopt::mse_loss(out.data(), y.data(), kBatch, dout.data(), {}, threads);
        if (step == 1) first_loss = loss;
        // backward
        for (Param* p : params) std::fill(p->grad.begin(), p->grad.end(), 0.f);
        for (int n = 0; n < kBatch; ++n) {
            b2.grad[0] += dout[n];
            for (int j = 0; j < kHidden; ++j) {
                w2.grad[j] += dout[n] * h[n * kHidden + j];
                dh[n * kHidden + j] = dout[n] * w2.value[j];
            }
        }
        fastopt::tanh_backward(dh.data(), h.data(), dh.data(), kBatch * kHidden, threads);  // from tanh's output
        for (int n = 0; n < kBatch; ++n)
            for (int j = 0; j < kHidden; ++j) {
                const float d = dh[n * kHidden + j];
                b1.grad[j] += d;
                for (int k = 0; k < kIn; ++k) w1.grad[j * kIn + k] += d * x[n * kIn + k];
            }
        adam.step = step;
        fastopt::adam_step(tensors.data(), static_cast<std::int64_t>(tensors.size()), adam, threads);
        if (step % 100 == 0 || step == 1) std::printf("step %4d  loss %.6f\n", step, loss);
    }
    std::printf("loss %.6f -> %.6f\n", first_loss, loss);
    if (!(loss < first_loss / 10)) {
        std::fprintf(stderr, "mlp_adam: the loss did not fall by 10x\n");
        return 1;
    }
    return 0;
}
