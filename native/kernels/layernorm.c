/* LayerNorm over the last axis, forward (saving mean and 1/std per row) and backward. */
#include <math.h>
#include <stdlib.h>

#include "kernels.h"
#include "parallel.h"

/* several independent accumulators so that gcc vectorizes without reassociating */
static inline float sum_floats(const float *x, size_t n) {
  float lanes[8] = {0};
  size_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int l = 0; l < 8; l++) lanes[l] += x[i + l];
  float total = ((lanes[0] + lanes[4]) + (lanes[1] + lanes[5])) + ((lanes[2] + lanes[6]) + (lanes[3] + lanes[7]));
  for (; i < n; i++) total += x[i];
  return total;
}

static inline float sum_squared_deviation(const float *x, float mu, size_t n) {
  float lanes[8] = {0};
  size_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int l = 0; l < 8; l++) {
      float d = x[i + l] - mu;
      lanes[l] += d * d;
    }
  float total = ((lanes[0] + lanes[4]) + (lanes[1] + lanes[5])) + ((lanes[2] + lanes[6]) + (lanes[3] + lanes[7]));
  for (; i < n; i++) total += (x[i] - mu) * (x[i] - mu);
  return total;
}

void stitch_layer_norm(const float *x, const float *gamma, const float *beta, float *out, float *mean, float *rstd,
                       int64_t rows, int64_t cols, double eps) {
  if (cols == 0) return;
  int threads = threads_for((double)rows * (double)cols, GRAIN_MEMORY / 2);
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int64_t r = 0; r < rows; r++) {
    const float *xr = x + r * cols;
    float *yr = out + r * cols;
    float mu = sum_floats(xr, (size_t)cols) / (float)cols;
    float variance = sum_squared_deviation(xr, mu, (size_t)cols) / (float)cols;
    float rs = (float)(1.0 / sqrt((double)variance + eps));
    mean[r] = mu;
    rstd[r] = rs;
    for (int64_t col = 0; col < cols; col++) yr[col] = (xr[col] - mu) * rs * gamma[col] + beta[col];
  }
}

StitchStatus stitch_layer_norm_backward(const float *x, const float *gamma, const float *mean, const float *rstd,
                                        const float *grad_out, float *grad_x, float *grad_gamma, float *grad_beta,
                                        int64_t rows, int64_t cols, bool accumulate) {
  if (cols == 0 || rows == 0) return STITCH_OK;
  int parts = threads_for((double)rows * (double)cols, GRAIN_MEMORY / 2);
  /* per-part gamma/beta gradients, summed in part order afterwards: deterministic */
  float *partial = calloc((size_t)parts * 2 * (size_t)cols, sizeof(float));
  float *scratch = malloc((size_t)parts * (size_t)cols * sizeof(float));
  if (partial == NULL || scratch == NULL) {
    free(partial);
    free(scratch);
    return STITCH_OUT_OF_MEMORY;
  }
  float inv_cols = 1.0f / (float)cols;
#pragma omp parallel for num_threads(parts) schedule(static, 1)
  for (int part = 0; part < parts; part++) {
    float *part_gamma = partial + (size_t)part * 2 * cols, *part_beta = part_gamma + cols;
    float *xhat = scratch + (size_t)part * cols;
    for (size_t r = part_begin(rows, part, parts); r < part_begin(rows, part + 1, parts); r++) {
      const float *xr = x + r * cols, *dy = grad_out + r * cols;
      float *dx = grad_x + r * cols;
      float mu = mean[r], rs = rstd[r];
      float lanes_dxhat[8] = {0}, lanes_dxhat_xhat[8] = {0};
      int64_t col = 0;
      for (; col + 8 <= cols; col += 8)
        for (int l = 0; l < 8; l++) {
          float xh = (xr[col + l] - mu) * rs;
          float dxhat = dy[col + l] * gamma[col + l];
          xhat[col + l] = xh;
          lanes_dxhat[l] += dxhat;
          lanes_dxhat_xhat[l] += dxhat * xh;
        }
      float mean_dxhat = 0, mean_dxhat_xhat = 0;
      for (int l = 0; l < 8; l++) {
        mean_dxhat += lanes_dxhat[l];
        mean_dxhat_xhat += lanes_dxhat_xhat[l];
      }
      for (; col < cols; col++) {
        float xh = (xr[col] - mu) * rs;
        float dxhat = dy[col] * gamma[col];
        xhat[col] = xh;
        mean_dxhat += dxhat;
        mean_dxhat_xhat += dxhat * xh;
      }
      mean_dxhat *= inv_cols;
      mean_dxhat_xhat *= inv_cols;
      for (col = 0; col < cols; col++) {
        part_gamma[col] += dy[col] * xhat[col];
        part_beta[col] += dy[col];
      }
      if (accumulate)
        for (col = 0; col < cols; col++) dx[col] += rs * (dy[col] * gamma[col] - mean_dxhat - xhat[col] * mean_dxhat_xhat);
      else
        for (col = 0; col < cols; col++) dx[col] = rs * (dy[col] * gamma[col] - mean_dxhat - xhat[col] * mean_dxhat_xhat);
    }
  }
  for (int part = 0; part < parts; part++) {
    const float *part_gamma = partial + (size_t)part * 2 * cols, *part_beta = part_gamma + cols;
    for (int64_t col = 0; col < cols; col++) {
      grad_gamma[col] += part_gamma[col];
      grad_beta[col] += part_beta[col];
    }
  }
  free(partial);
  free(scratch);
  return STITCH_OK;
}
