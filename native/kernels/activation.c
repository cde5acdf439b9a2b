/* Activations and their derivatives, vectorized (see vector_math.h), alone or fused with a bias. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"
#include "parallel.h"
#include "vector_math.h"

#define SQRT_2_OVER_PI 0.79788456080286535588f
#define GELU_CUBIC 0.044715f
#define INV_SQRT_2PI 0.39894228040143267794f

/* gelu_tanh(x) = 0.5 x (1 + tanh u) = x * sigmoid(2u): the sigmoid form does not cancel for x << 0 */
static inline float gelu_tanh_value(float x) {
  float u = SQRT_2_OVER_PI * (x + GELU_CUBIC * x * x * x);
  /* the same form as the derivative's: written as x / (1 + e), gcc evaluated the polynomial twice */
  float s = 1.0f / (1.0f + exp_poly(clamp_exp_arg(-2.0f * u)));
  return x * s;
}

static inline float gelu_tanh_derivative(float x) {
  float u = SQRT_2_OVER_PI * (x + GELU_CUBIC * x * x * x);
  float e = exp_poly(clamp_exp_arg(-2.0f * u));
  float s = 1.0f / (1.0f + e);
  float one_minus_s = e / (1.0f + e);
  /* 0.5 (1 - tanh^2 u) = 2 s (1 - s) */
  return s + 2.0f * x * s * one_minus_s * SQRT_2_OVER_PI * (1.0f + 3.0f * GELU_CUBIC * x * x);
}

static inline float gelu_erf_derivative(float v) {
  return 0.5f * (1.0f + erf_poly(v * (float)M_SQRT1_2)) + v * INV_SQRT_2PI * exp_poly(clamp_exp_arg(-0.5f * v * v));
}

/* tanh(softplus x) = a / (a + 2) with a = e^x (e^x + 2); no log needed, and past x = 20 it is 1 in float */
static inline float mish_value(float x) {
  float n = exp_poly(x > 20.0f ? 20.0f : (x < -87.0f ? -87.0f : x));
  float a = n * (n + 2.0f);
  return x * (a / (a + 2.0f));
}

static inline float mish_derivative(float x) {
  float n = exp_poly(x > 20.0f ? 20.0f : (x < -87.0f ? -87.0f : x));
  float a = n * (n + 2.0f);
  float t = a / (a + 2.0f);
  float a2 = a + 2.0f;
  float one_minus_t2 = 4.0f * (a + 1.0f) / (a2 * a2);
  float sigmoid = n / (1.0f + n);
  return t + x * one_minus_t2 * sigmoid;
}

static inline float tanh_derivative(float x) {
  /* 1 - tanh^2 x = 4e / (1 + e)^2 with e = exp(-2|x|), free of cancellation */
  float e = exp_poly(clamp_exp_arg(-2.0f * fabsf(x)));
  return 4.0f * e / ((1.0f + e) * (1.0f + e));
}

VECTOR_CLONES
static void activation_range(int kind, const float *x, float *out, size_t begin, size_t end) {
  switch (kind) {
    case STITCH_RELU:
      for (size_t i = begin; i < end; i++) out[i] = x[i] > 0.0f ? x[i] : 0.0f;
      break;
    case STITCH_GELU_TANH:
      for (size_t i = begin; i < end; i++) out[i] = gelu_tanh_value(x[i]);
      break;
    case STITCH_GELU_ERF:
      for (size_t i = begin; i < end; i++) out[i] = 0.5f * x[i] * (1.0f + erf_poly(x[i] * (float)M_SQRT1_2));
      break;
    case STITCH_TANH:
      for (size_t i = begin; i < end; i++) out[i] = tanh_poly(x[i]);
      break;
    case STITCH_MISH:
      for (size_t i = begin; i < end; i++) out[i] = mish_value(x[i]);
      break;
  }
}

/* accumulate=false must overwrite (gradX may hold garbage, even NaN), hence two loops, not 0 * old */
#define BACKWARD_LOOP(derivative)                                                              \
  do {                                                                                         \
    if (accumulate)                                                                            \
      for (size_t i = begin; i < end; i++) grad_x[i] += (derivative) * grad_out[i];            \
    else                                                                                       \
      for (size_t i = begin; i < end; i++) grad_x[i] = (derivative) * grad_out[i];             \
  } while (0)

VECTOR_CLONES
static void activation_backward_range(int kind, const float *x, const float *grad_out, float *grad_x,
                                      bool accumulate, size_t begin, size_t end) {
  switch (kind) {
    case STITCH_RELU:
      BACKWARD_LOOP(x[i] > 0.0f ? 1.0f : 0.0f);
      break;
    case STITCH_GELU_TANH:
      BACKWARD_LOOP(gelu_tanh_derivative(x[i]));
      break;
    case STITCH_GELU_ERF:
      BACKWARD_LOOP(gelu_erf_derivative(x[i]));
      break;
    case STITCH_TANH:
      BACKWARD_LOOP(tanh_derivative(x[i]));
      break;
    case STITCH_MISH:
      BACKWARD_LOOP(mish_derivative(x[i]));
      break;
  }
}

/* ReLU is memory-bound; the others compute enough per element to thread sooner */
static double grain_of(int kind) { return kind == STITCH_RELU ? GRAIN_MEMORY : GRAIN_COMPUTE; }

void stitch_activation(int kind, const float *x, float *out, int64_t n) {
  FOR_BLOCKS((size_t)n, grain_of(kind), activation_range(kind, x, out, begin, end));
}

void stitch_activation_backward(int kind, const float *x, const float *grad_out, float *grad_x, int64_t n, bool accumulate) {
  FOR_BLOCKS((size_t)n, grain_of(kind), activation_backward_range(kind, x, grad_out, grad_x, accumulate, begin, end));
}

void stitch_bias_activation(int kind, float *x, const float *bias, float *out, int64_t rows, int64_t cols) {
  int threads = threads_for((double)rows * (double)cols, grain_of(kind));
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int64_t r = 0; r < rows; r++) {
    float *row = x + r * cols;
    for (int64_t c = 0; c < cols; c++) row[c] += bias[c];
    activation_range(kind, row, out + r * cols, 0, (size_t)cols);
  }
}

/* Each thread sums a fixed block of rows, then the blocks are added in order, so the result
   depends on the thread count but never on scheduling. */
StitchStatus stitch_activation_backward_bias(int kind, const float *x, const float *grad_out, float *grad_x,
                                             float *bias_grad, int64_t rows, int64_t cols, bool accumulate) {
  int parts = threads_for((double)rows * (double)cols, grain_of(kind));
  float *partial = calloc((size_t)parts * (size_t)cols, sizeof(float));
  if (partial == NULL) return STITCH_OUT_OF_MEMORY;
#pragma omp parallel for num_threads(parts) schedule(static, 1)
  for (int part = 0; part < parts; part++) {
    float *sum = partial + (size_t)part * (size_t)cols;
    for (size_t r = part_begin((size_t)rows, part, parts); r < part_begin((size_t)rows, part + 1, parts); r++) {
      float *g = grad_x + r * (size_t)cols;
      activation_backward_range(kind, x + r * (size_t)cols, grad_out + r * (size_t)cols, g, false, 0, (size_t)cols);
      for (int64_t c = 0; c < cols; c++) sum[c] += g[c];
    }
  }
  if (!accumulate) memset(bias_grad, 0, (size_t)cols * sizeof(float));
  for (int part = 0; part < parts; part++)
    for (int64_t c = 0; c < cols; c++) bias_grad[c] += partial[(size_t)part * (size_t)cols + c];
  free(partial);
  return STITCH_OK;
}
