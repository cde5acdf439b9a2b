/* Dropout without a stored mask: element i is kept when dropout_bits(seed, i) passes the
   threshold, exactly as dropoutKeep in backend.ts, so forward and backward (and both backends)
   drop the same elements. */
#include "kernels.h"
#include "parallel.h"
#include "vector_math.h"

/* The JS index is a double reduced mod 2^32 by Math.imul, hence the uint32_t truncation. */
VECTOR_CLONES
static void dropout_range(const float *x, float *out, uint32_t seed, uint32_t threshold, double keep_scale,
                          size_t begin, size_t end) {
  for (size_t i = begin; i < end; i++) {
    /* computed unconditionally, then selected: a branch-free body vectorizes */
    float scaled = (float)((double)x[i] * keep_scale);
    out[i] = dropout_bits(seed, (uint32_t)i) >= threshold ? scaled : 0.0f;
  }
}

VECTOR_CLONES
static void dropout_backward_range(const float *grad_out, float *grad_x, uint32_t seed, uint32_t threshold,
                                   double keep_scale, bool accumulate, size_t begin, size_t end) {
  for (size_t i = begin; i < end; i++) {
    /* in double and rounded once, like the reference, so that the result is bit-identical */
    double scaled = (double)grad_out[i] * keep_scale;
    double g = dropout_bits(seed, (uint32_t)i) >= threshold ? scaled : 0.0;
    grad_x[i] = (float)(accumulate ? (double)grad_x[i] + g : g);
  }
}

void stitch_dropout(const float *x, float *out, int64_t n, double p, uint32_t seed) {
  uint32_t threshold = keep_threshold(p);
  double keep_scale = 1.0 / (1.0 - p);
  FOR_BLOCKS((size_t)n, GRAIN_MEMORY, dropout_range(x, out, seed, threshold, keep_scale, begin, end));
}

void stitch_dropout_backward(const float *grad_out, float *grad_x, int64_t n, double p, uint32_t seed, bool accumulate) {
  uint32_t threshold = keep_threshold(p);
  double keep_scale = 1.0 / (1.0 - p);
  FOR_BLOCKS((size_t)n, GRAIN_MEMORY,
             dropout_backward_range(grad_out, grad_x, seed, threshold, keep_scale, accumulate, begin, end));
}
