/*
 * Stitch's numeric kernels in plain C11 over OpenBLAS and OpenMP: the `Backend` interface of
 * src/engine/backend.ts, with no Node-API, so that they compile, run and are tested without
 * Node (native/test/kernels_test.c) and can be reused by other hosts (a WebAssembly build).
 * native/napi/addon.c is the Node glue: it validates every argument, then calls these.
 *
 * Contract: the kernels trust their arguments. Sizes are element counts, every array holds at
 * least the elements the sizes given imply (the glue checks that), and arrays that are written
 * do not overlap arrays that are read unless a kernel says so. The TypeScript reference
 * (src/engine/backends/js.ts) is the ground truth for every result.
 *
 * Kernels that allocate scratch memory return STITCH_OUT_OF_MEMORY when it cannot be had; they
 * then may have written part of their outputs.
 */
#ifndef STITCH_KERNELS_H
#define STITCH_KERNELS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum { STITCH_OK = 0, STITCH_OUT_OF_MEMORY = 1 } StitchStatus;

/* ---- threads (threads.c) ---------------------------------------------------------------- */

/* Uses every online core, for OpenBLAS and the OpenMP kernels alike. Call once, before any kernel. */
void stitch_init_threads(void);
/* n >= 1 */
void stitch_set_threads(int n);
int stitch_threads(void);
/* "OpenBLAS <version> core=<core> threads=<n> blas-threading=<openmp|pthreads|serial>" */
void stitch_blas_info(char *text, size_t size);

/* ---- GEMM (gemm.c) ---------------------------------------------------------------------- */

/* C[i] = alpha op(A[i]) op(B[i]) + beta C[i] for i < count, row-major, where X[i] starts at
   x + i * stride_x. k = 0 or alpha = 0 reads neither A nor B, and beta = 0 overwrites C (NaN
   included), as in BLAS. Dimensions and leading dimensions fit in a 32-bit int. */
typedef struct {
  bool trans_a, trans_b;
  int64_t m, n, k, lda, ldb, ldc;
  double alpha, beta;
  const float *a, *b;
  float *c;
  int64_t count, stride_a, stride_b, stride_c;
} StitchGemm;

/* What a product needs of its arrays: the smallest leading dimensions, and the elements each
   array must hold over the whole batch (0 for A and B when they are not read). */
typedef struct {
  int64_t min_lda, min_ldb, min_ldc;
  double a_elements, b_elements, c_elements;
} StitchGemmExtent;

void stitch_gemm_extent(const StitchGemm *g, StitchGemmExtent *extent);
void stitch_gemm(const StitchGemm *g);
/* Two independent products (a linear layer's dX and dW); each has count = 1. */
void stitch_gemm_pair(const StitchGemm *first, const StitchGemm *second);

/* ---- element-wise and reductions (elementwise.c) ------------------------------------------ */

/* x[r, c] += bias[c] */
void stitch_add_bias_rows(float *x, const float *bias, int64_t rows, int64_t cols);
/* out[c] (+)= sum_r x[r, c] */
StitchStatus stitch_sum_rows(const float *x, int64_t rows, int64_t cols, float *out, bool accumulate);
/* out = a + b (out may be a or b) */
void stitch_add(const float *a, const float *b, float *out, int64_t n);
/* y += (float)alpha * x */
void stitch_axpy(double alpha, const float *x, float *y, int64_t n);
/* x *= (float)alpha */
void stitch_scale(float *x, double alpha, int64_t n);
/* sum of x[i]^2 in double */
double stitch_sum_squares(const float *x, int64_t n);

/* ---- activations (activation.c) ----------------------------------------------------------- */

/* the codes of ACTIVATION_CODES in src/engine/backends/native.ts */
enum { STITCH_RELU = 0, STITCH_GELU_TANH = 1, STITCH_GELU_ERF = 2, STITCH_TANH = 3, STITCH_MISH = 4 };

/* out = f(x) (out may be x) */
void stitch_activation(int kind, const float *x, float *out, int64_t n);
/* gradX (+)= f'(x) gradOut; accumulate = false overwrites whatever gradX held */
void stitch_activation_backward(int kind, const float *x, const float *grad_out, float *grad_x, int64_t n, bool accumulate);
/* A linear layer's bias and activation in one pass: x[r, c] += bias[c] (x keeps the
   pre-activation for the backward pass), out[r, c] = f(x[r, c]). */
void stitch_bias_activation(int kind, float *x, const float *bias, float *out, int64_t rows, int64_t cols);
/* gradX = f'(x) gradOut (overwritten) and biasGrad (+)= its column sums, in one pass */
StitchStatus stitch_activation_backward_bias(int kind, const float *x, const float *grad_out, float *grad_x,
                                             float *bias_grad, int64_t rows, int64_t cols, bool accumulate);

/* ---- dropout (dropout.c): element i is kept when dropoutKeep(seed, i, p) of backend.ts ---- */

/* p in [0, 1], seed any 32-bit value */
void stitch_dropout(const float *x, float *out, int64_t n, double p, uint32_t seed);
void stitch_dropout_backward(const float *grad_out, float *grad_x, int64_t n, double p, uint32_t seed, bool accumulate);

/* ---- LayerNorm over the last axis (layernorm.c) ------------------------------------------- */

void stitch_layer_norm(const float *x, const float *gamma, const float *beta, float *out, float *mean, float *rstd,
                       int64_t rows, int64_t cols, double eps);
/* gradGamma and gradBeta always accumulate; gradX accumulates when `accumulate` */
StitchStatus stitch_layer_norm_backward(const float *x, const float *gamma, const float *mean, const float *rstd,
                                        const float *grad_out, float *grad_x, float *grad_gamma, float *grad_beta,
                                        int64_t rows, int64_t cols, bool accumulate);

/* ---- fused multi-head attention (attention.c) --------------------------------------------- */

/* qkv is [batch, tokens, 3 * heads * head_dim] (Q, K, V side by side), probs [batch, heads,
   tokens, tokens], out and gradOut [batch, tokens, heads * head_dim]. head_dim >= 1 and
   3 * heads * head_dim fits in a 32-bit int. */
typedef struct {
  int64_t batch, tokens, heads, head_dim;
  bool causal;
  double dropout;
  uint32_t seed;
} StitchAttentionShape;

/* key_mask ([batch, tokens], 0 = hidden) may be NULL */
StitchStatus stitch_attention(const float *qkv, const float *key_mask, float *probs, float *out,
                              const StitchAttentionShape *shape);
StitchStatus stitch_attention_backward(const float *qkv, const float *probs, const float *grad_out, float *grad_qkv,
                                       const StitchAttentionShape *shape, bool accumulate);

/* ---- embedding rows (embedding.c) --------------------------------------------------------- */

/* the first r with index[r] outside [0, table_rows), or -1 when every index is inside */
int64_t stitch_first_bad_index(const int32_t *index, size_t count, double table_rows);
/* out[r] = table[index[r]] (rows of cols floats) */
void stitch_gather_rows(const float *table, const int32_t *index, size_t count, float *out, int64_t cols);
/* gradTable[index[r]] += gradOut[r]; indices may repeat */
void stitch_scatter_add_rows(const float *grad_out, const int32_t *index, size_t count, float *grad_table, int64_t cols);

/* ---- optimizers: double arithmetic per element, as the TypeScript reference (optim.c) ---- */

typedef struct {
  double lr, beta1, beta2, eps, weight_decay, bias_correction1, bias_correction2;
  bool decoupled; /* AdamW's decay; false adds weight_decay * param to the gradient (Adam's L2) */
} StitchAdamStep;

void stitch_adam_update(float *param, const float *grad, float *m, float *v, int64_t n, const StitchAdamStep *step);
/* LAMB (step->decoupled is unused): `update` is scratch of n floats */
void stitch_lamb_update(float *param, const float *grad, float *m, float *v, float *update, int64_t n,
                        const StitchAdamStep *step);

#endif
