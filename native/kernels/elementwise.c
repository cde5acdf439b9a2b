/* Element-wise kernels and the reductions a linear layer and gradient clipping need. */
#include <stdlib.h>
#include <string.h>

#include "kernels.h"
#include "parallel.h"

void stitch_add_bias_rows(float *x, const float *bias, int64_t rows, int64_t cols) {
  int threads = threads_for((double)rows * (double)cols, GRAIN_MEMORY);
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int64_t r = 0; r < rows; r++) {
    float *row = x + r * cols;
    for (int64_t col = 0; col < cols; col++) row[col] += bias[col];
  }
}

StitchStatus stitch_sum_rows(const float *x, int64_t rows, int64_t cols, float *out, bool accumulate) {
  if (!accumulate) memset(out, 0, (size_t)cols * sizeof(float));
  int parts = threads_for((double)rows * (double)cols, GRAIN_MEMORY);
  if (parts == 1) {
    for (int64_t r = 0; r < rows; r++)
      for (int64_t col = 0; col < cols; col++) out[col] += x[r * cols + col];
    return STITCH_OK;
  }
  /* per-part sums, added in part order afterwards: deterministic */
  float *partial = calloc((size_t)parts * (size_t)cols, sizeof(float));
  if (partial == NULL) return STITCH_OUT_OF_MEMORY;
#pragma omp parallel for num_threads(parts) schedule(static, 1)
  for (int part = 0; part < parts; part++) {
    float *sum = partial + (size_t)part * cols;
    for (size_t r = part_begin(rows, part, parts); r < part_begin(rows, part + 1, parts); r++)
      for (int64_t col = 0; col < cols; col++) sum[col] += x[r * cols + col];
  }
  for (int part = 0; part < parts; part++)
    for (int64_t col = 0; col < cols; col++) out[col] += partial[(size_t)part * cols + col];
  free(partial);
  return STITCH_OK;
}

void stitch_add(const float *a, const float *b, float *out, int64_t n) {
  FOR_BLOCKS((size_t)n, GRAIN_MEMORY, for (size_t i = begin; i < end; i++) out[i] = a[i] + b[i]);
}

void stitch_axpy(double alpha, const float *x, float *y, int64_t n) {
  float alpha_f = (float)alpha;
  FOR_BLOCKS((size_t)n, GRAIN_MEMORY, for (size_t i = begin; i < end; i++) y[i] += alpha_f * x[i]);
}

void stitch_scale(float *x, double alpha, int64_t n) {
  float alpha_f = (float)alpha;
  FOR_BLOCKS((size_t)n, GRAIN_MEMORY, for (size_t i = begin; i < end; i++) x[i] *= alpha_f);
}

/* several independent accumulators so that gcc vectorizes without reassociating */
static double sum_squares_range(const float *x, size_t begin, size_t end) {
  double lanes[8] = {0};
  size_t i = begin;
  for (; i + 8 <= end; i += 8)
    for (int l = 0; l < 8; l++) lanes[l] += (double)x[i + l] * (double)x[i + l];
  double total = ((lanes[0] + lanes[4]) + (lanes[1] + lanes[5])) + ((lanes[2] + lanes[6]) + (lanes[3] + lanes[7]));
  for (; i < end; i++) total += (double)x[i] * (double)x[i];
  return total;
}

double stitch_sum_squares(const float *x, int64_t n) {
  int parts = threads_for((double)n, GRAIN_MEMORY);
  double partial[parts];
#pragma omp parallel for num_threads(parts) schedule(static, 1)
  for (int part = 0; part < parts; part++) partial[part] = sum_squares_range(x, part_begin(n, part, parts), part_begin(n, part + 1, parts));
  double total = 0;
  for (int part = 0; part < parts; part++) total += partial[part];
  return total;
}
