/*
 * The module's exports: native/kernels' C API flattened to i32 pointers and sizes and f64
 * scalars (wasm32 has 32-bit pointers; no i64 crosses the boundary, so JavaScript never sees a
 * BigInt). The TypeScript side (src/engine/backends/wasm.ts) checks every argument before calling,
 * as native/napi/ does for the addon. Booleans are 0 or 1. Kernels that can run out of scratch
 * memory return a StitchStatus (0 = ok).
 */
#include <stdlib.h>

#include "kernels.h"

#define EXPORT(name) __attribute__((export_name(#name))) name

void *EXPORT(stitch_alloc)(size_t bytes) { return aligned_alloc(16, (bytes + 15) / 16 * 16); }
void EXPORT(stitch_release)(void *pointer) { free(pointer); }

int EXPORT(wasm_threads)(void) { return stitch_threads(); }
void EXPORT(wasm_set_threads)(int n) { stitch_set_threads(n); }

static StitchGemm make_gemm(int trans_a, int trans_b, int m, int n, int k, double alpha, const float *a, int lda,
                            const float *b, int ldb, double beta, float *c, int ldc, int count, int stride_a,
                            int stride_b, int stride_c) {
  StitchGemm g = {.trans_a = trans_a != 0, .trans_b = trans_b != 0, .m = m, .n = n, .k = k, .lda = lda, .ldb = ldb,
                  .ldc = ldc, .alpha = alpha, .beta = beta, .a = a, .b = b, .c = c, .count = count,
                  .stride_a = stride_a, .stride_b = stride_b, .stride_c = stride_c};
  return g;
}

void EXPORT(wasm_gemm)(int trans_a, int trans_b, int m, int n, int k, double alpha, const float *a, int lda,
                       const float *b, int ldb, double beta, float *c, int ldc, int count, int stride_a, int stride_b,
                       int stride_c) {
  StitchGemm g = make_gemm(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, count, stride_a, stride_b,
                           stride_c);
  stitch_gemm(&g);
}

void EXPORT(wasm_add_bias_rows)(float *x, const float *bias, int rows, int cols) { stitch_add_bias_rows(x, bias, rows, cols); }
int EXPORT(wasm_sum_rows)(const float *x, int rows, int cols, float *out, int accumulate) {
  return stitch_sum_rows(x, rows, cols, out, accumulate != 0);
}
void EXPORT(wasm_add)(const float *a, const float *b, float *out, int n) { stitch_add(a, b, out, n); }
void EXPORT(wasm_axpy)(double alpha, const float *x, float *y, int n) { stitch_axpy(alpha, x, y, n); }
void EXPORT(wasm_scale)(float *x, double alpha, int n) { stitch_scale(x, alpha, n); }
double EXPORT(wasm_sum_squares)(const float *x, int n) { return stitch_sum_squares(x, n); }

void EXPORT(wasm_activation)(int kind, const float *x, float *out, int n) { stitch_activation(kind, x, out, n); }
void EXPORT(wasm_activation_backward)(int kind, const float *x, const float *grad_out, float *grad_x, int n, int accumulate) {
  stitch_activation_backward(kind, x, grad_out, grad_x, n, accumulate != 0);
}
void EXPORT(wasm_bias_activation)(int kind, float *x, const float *bias, float *out, int rows, int cols) {
  stitch_bias_activation(kind, x, bias, out, rows, cols);
}
int EXPORT(wasm_activation_backward_bias)(int kind, const float *x, const float *grad_out, float *grad_x,
                                          float *bias_grad, int rows, int cols, int accumulate) {
  return stitch_activation_backward_bias(kind, x, grad_out, grad_x, bias_grad, rows, cols, accumulate != 0);
}

void EXPORT(wasm_dropout)(const float *x, float *out, int n, double p, unsigned seed) { stitch_dropout(x, out, n, p, seed); }
void EXPORT(wasm_dropout_backward)(const float *grad_out, float *grad_x, int n, double p, unsigned seed, int accumulate) {
  stitch_dropout_backward(grad_out, grad_x, n, p, seed, accumulate != 0);
}

void EXPORT(wasm_layer_norm)(const float *x, const float *gamma, const float *beta, float *out, float *mean, float *rstd,
                             int rows, int cols, double eps) {
  stitch_layer_norm(x, gamma, beta, out, mean, rstd, rows, cols, eps);
}
int EXPORT(wasm_layer_norm_backward)(const float *x, const float *gamma, const float *mean, const float *rstd,
                                     const float *grad_out, float *grad_x, float *grad_gamma, float *grad_beta, int rows,
                                     int cols, int accumulate) {
  return stitch_layer_norm_backward(x, gamma, mean, rstd, grad_out, grad_x, grad_gamma, grad_beta, rows, cols,
                                    accumulate != 0);
}

static StitchAttentionShape attention_shape(int batch, int tokens, int heads, int head_dim, int causal, double dropout,
                                            unsigned seed) {
  StitchAttentionShape s = {.batch = batch, .tokens = tokens, .heads = heads, .head_dim = head_dim,
                            .causal = causal != 0, .dropout = dropout, .seed = seed};
  return s;
}

int EXPORT(wasm_attention)(const float *qkv, const float *key_mask, float *probs, float *out, int batch, int tokens,
                           int heads, int head_dim, int causal, double dropout, unsigned seed) {
  StitchAttentionShape s = attention_shape(batch, tokens, heads, head_dim, causal, dropout, seed);
  return stitch_attention(qkv, key_mask, probs, out, &s);
}
int EXPORT(wasm_attention_backward)(const float *qkv, const float *probs, const float *grad_out, float *grad_qkv,
                                    int batch, int tokens, int heads, int head_dim, int causal, double dropout,
                                    unsigned seed, int accumulate) {
  StitchAttentionShape s = attention_shape(batch, tokens, heads, head_dim, causal, dropout, seed);
  return stitch_attention_backward(qkv, probs, grad_out, grad_qkv, &s, accumulate != 0);
}

void EXPORT(wasm_gather_rows)(const float *table, const int32_t *index, int count, float *out, int cols) {
  stitch_gather_rows(table, index, (size_t)count, out, cols);
}
void EXPORT(wasm_scatter_add_rows)(const float *grad_out, const int32_t *index, int count, float *grad_table, int cols) {
  stitch_scatter_add_rows(grad_out, index, (size_t)count, grad_table, cols);
}

static StitchAdamStep adam_step(double lr, double beta1, double beta2, double eps, double weight_decay, int decoupled,
                                double bias_correction1, double bias_correction2) {
  StitchAdamStep s = {.lr = lr, .beta1 = beta1, .beta2 = beta2, .eps = eps, .weight_decay = weight_decay,
                      .bias_correction1 = bias_correction1, .bias_correction2 = bias_correction2,
                      .decoupled = decoupled != 0};
  return s;
}

void EXPORT(wasm_adam_update)(float *param, const float *grad, float *m, float *v, int n, double lr, double beta1,
                              double beta2, double eps, double weight_decay, int decoupled, double bias_correction1,
                              double bias_correction2) {
  StitchAdamStep s = adam_step(lr, beta1, beta2, eps, weight_decay, decoupled, bias_correction1, bias_correction2);
  stitch_adam_update(param, grad, m, v, n, &s);
}
void EXPORT(wasm_lamb_update)(float *param, const float *grad, float *m, float *v, float *update, int n, double lr,
                              double beta1, double beta2, double eps, double weight_decay, double bias_correction1,
                              double bias_correction2) {
  StitchAdamStep s = adam_step(lr, beta1, beta2, eps, weight_decay, 0, bias_correction1, bias_correction2);
  stitch_lamb_update(param, grad, m, v, update, n, &s);
}
