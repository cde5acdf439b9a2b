/* Fused multi-head attention: per (batch, head) sgemm on strided views of qkv, with the softmax
   and dropout in between. Probabilities are saved for the backward pass; dropout's mask is not
   (it is recomputed from the seed and the element's index, ((b H + h) T + i) T + j). */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"
#include "parallel.h"
#include "vector_math.h"

/* Writes the dropout-scaled probabilities of one (batch, head) block; index as in backend.ts. */
VECTOR_CLONES
static void apply_attention_dropout(const float *probs, float *dropped, int64_t count, uint64_t first_index,
                                    uint32_t seed, uint32_t threshold, double keep_scale) {
  for (int64_t e = 0; e < count; e++) {
    float scaled = (float)((double)probs[e] * keep_scale);
    dropped[e] = dropout_bits(seed, (uint32_t)(first_index + (uint64_t)e)) >= threshold ? scaled : 0.0f;
  }
}

/* Row-wise softmax of one block's scores in place; hidden keys (mask 0) and, when causal, keys
   after the query get probability 0, and a row with no visible key is all zeros. */
VECTOR_CLONES
static void softmax_rows(float *scores, const float *key_mask, int64_t tokens, bool causal) {
  for (int64_t i = 0; i < tokens; i++) {
    float *row = scores + i * tokens;
    int64_t last = causal ? i : tokens - 1;
    float max_score = -INFINITY;
    for (int64_t j = 0; j <= last; j++) {
      bool visible = key_mask == NULL || key_mask[j] != 0.0f;
      if (visible && row[j] > max_score) max_score = row[j];
    }
    if (max_score == -INFINITY) {
      memset(row, 0, (size_t)tokens * sizeof(float));
      continue;
    }
    float total = 0;
    for (int64_t j = 0; j <= last; j++) {
      float e = exp_poly(clamp_exp_arg(row[j] - max_score));
      row[j] = key_mask == NULL || key_mask[j] != 0.0f ? e : 0.0f;
    }
    for (int64_t j = 0; j <= last; j++) total += row[j];
    for (int64_t j = last + 1; j < tokens; j++) row[j] = 0.0f;
    float inv = 1.0f / total;
    for (int64_t j = 0; j <= last; j++) row[j] *= inv;
  }
}

StitchStatus stitch_attention(const float *qkv, const float *key_mask, float *probs, float *out,
                              const StitchAttentionShape *shape) {
  const StitchAttentionShape s = *shape;
  const int64_t T = s.tokens, D = s.head_dim, H = s.heads, C = H * D, row_stride = 3 * C;
  int64_t blocks = s.batch * H;
  if (blocks == 0 || T == 0) return STITCH_OK;

  float scale = (float)(1.0 / sqrt((double)D));
  uint32_t threshold = keep_threshold(s.dropout);
  double keep_scale = s.dropout > 0 ? 1.0 / (1.0 - s.dropout) : 1.0;
  int threads = threads_for((double)blocks * (double)T * (double)T * (double)D, 65536);
  bool failed = false;
  openblas_set_num_threads(1);
#pragma omp parallel num_threads(threads)
  {
    float *dropped = s.dropout > 0 ? malloc((size_t)(T * T) * sizeof(float)) : NULL;
    if (s.dropout > 0 && dropped == NULL) failed = true;
#pragma omp for schedule(static)
    for (int64_t block = 0; block < blocks; block++) {
      if (s.dropout > 0 && dropped == NULL) continue;
      int64_t b = block / H, h = block % H;
      const float *q = qkv + b * T * row_stride + h * D, *k = q + C, *v = q + 2 * C;
      float *p = probs + block * T * T;
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)T, (int)T, (int)D, scale, q, (int)row_stride, k,
                  (int)row_stride, 0.0f, p, (int)T);
      softmax_rows(p, key_mask == NULL ? NULL : key_mask + b * T, T, s.causal);
      const float *weights = p;
      if (s.dropout > 0) {
        apply_attention_dropout(p, dropped, T * T, (uint64_t)block * T * T, s.seed, threshold, keep_scale);
        weights = dropped;
      }
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)T, (int)D, (int)T, 1.0f, weights, (int)T, v,
                  (int)row_stride, 0.0f, out + b * T * C + h * D, (int)C);
    }
    free(dropped);
  }
  openblas_set_num_threads(stitch_thread_count);
  return failed ? STITCH_OUT_OF_MEMORY : STITCH_OK;
}

StitchStatus stitch_attention_backward(const float *qkv, const float *probs, const float *grad_out, float *grad_qkv,
                                       const StitchAttentionShape *shape, bool accumulate) {
  const StitchAttentionShape s = *shape;
  const int64_t T = s.tokens, D = s.head_dim, H = s.heads, C = H * D, row_stride = 3 * C;
  int64_t blocks = s.batch * H;
  if (blocks == 0 || T == 0) return STITCH_OK;

  float scale = (float)(1.0 / sqrt((double)D));
  float beta = accumulate ? 1.0f : 0.0f;
  uint32_t threshold = keep_threshold(s.dropout);
  double keep_scale = s.dropout > 0 ? 1.0 / (1.0 - s.dropout) : 1.0;
  int threads = threads_for((double)blocks * (double)T * (double)T * (double)D, 32768);
  bool failed = false;
  openblas_set_num_threads(1);
#pragma omp parallel num_threads(threads)
  {
    /* grad: dP' then, in place, dScores; dropped: P' (the probabilities after dropout) */
    float *grad = malloc((size_t)(T * T) * sizeof(float));
    float *dropped = s.dropout > 0 ? malloc((size_t)(T * T) * sizeof(float)) : NULL;
    bool usable = grad != NULL && (s.dropout == 0 || dropped != NULL);
    if (!usable) failed = true;
#pragma omp for schedule(static)
    for (int64_t block = 0; block < blocks; block++) {
      if (!usable) continue;
      int64_t b = block / H, h = block % H;
      int64_t offset = b * T * row_stride + h * D;
      const float *q = qkv + offset, *k = q + C, *v = q + 2 * C;
      float *grad_q = grad_qkv + offset, *grad_k = grad_q + C, *grad_v = grad_q + 2 * C;
      const float *d_out = grad_out + b * T * C + h * D;
      const float *p = probs + block * T * T;
      const float *weights = p;
      if (s.dropout > 0) {
        apply_attention_dropout(p, dropped, T * T, (uint64_t)block * T * T, s.seed, threshold, keep_scale);
        weights = dropped;
      }
      /* dV = P'^T dOut ; dP' = dOut V^T */
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)T, (int)D, (int)T, 1.0f, weights, (int)T, d_out, (int)C,
                  beta, grad_v, (int)row_stride);
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)T, (int)T, (int)D, 1.0f, d_out, (int)C, v,
                  (int)row_stride, 0.0f, grad, (int)T);
      /* dP = dP' * mask / (1 - p); softmax backward: dS = P (dP - sum_j dP_j P_j) / sqrt(D) */
      for (int64_t i = 0; i < T; i++) {
        float *g = grad + i * T;
        const float *pr = p + i * T;
        if (s.dropout > 0) {
          uint64_t first = ((uint64_t)block * T + (uint64_t)i) * (uint64_t)T;
          for (int64_t j = 0; j < T; j++) {
            bool keep = dropout_bits(s.seed, (uint32_t)(first + (uint64_t)j)) >= threshold;
            g[j] = keep ? (float)((double)g[j] * keep_scale) : 0.0f;
          }
        }
        float dot = 0;
        for (int64_t j = 0; j < T; j++) dot += pr[j] != 0.0f ? g[j] * pr[j] : 0.0f;
        for (int64_t j = 0; j < T; j++) g[j] = pr[j] != 0.0f ? pr[j] * (g[j] - dot) * scale : 0.0f;
      }
      /* dQ = dS K ; dK = dS^T Q */
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)T, (int)D, (int)T, 1.0f, grad, (int)T, k,
                  (int)row_stride, beta, grad_q, (int)row_stride);
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)T, (int)D, (int)T, 1.0f, grad, (int)T, q,
                  (int)row_stride, beta, grad_k, (int)row_stride);
    }
    free(grad);
    free(dropped);
  }
  openblas_set_num_threads(stitch_thread_count);
  return failed ? STITCH_OUT_OF_MEMORY : STITCH_OK;
}
