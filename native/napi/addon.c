/*
 * The Node-API glue of the native addon: one function per export, each of which checks its
 * arguments with the helpers of args.h and calls one kernel of native/kernels/ (kernels.h).
 * The argument order of every export is fixed by `NativeAddon` in src/engine/backends/native.ts,
 * and the table at the end of this file is the one list of exports.
 *
 * Every argument is validated before anything is written: a wrong type throws a TypeError and an
 * array too small for the sizes given throws a RangeError, both naming function and argument.
 */
#include <math.h>
#include <stdio.h>

#include "args.h"
#include "kernels.h"

/* Kernels that allocate scratch report a failure; it is thrown as a RangeError on `name`. */
static napi_value finish(Args *args, StitchStatus status, const char *name) {
  if (status == STITCH_OUT_OF_MEMORY) args_range_error(args, name, "is too large (out of memory)");
  return NULL;
}

/* ---- GEMM --------------------------------------------------------------------------------- */

/* Reads 13 arguments (transA .. ldc) from `at`, then count and strides when batched. */
static StitchGemm gemm_args(Args *args, size_t at, bool batched) {
  StitchGemm g = {0};
  g.trans_a = args_bool(args, at + 0, "transA");
  g.trans_b = args_bool(args, at + 1, "transB");
  g.m = args_dim(args, at + 2, "m");
  g.n = args_dim(args, at + 3, "n");
  g.k = args_dim(args, at + 4, "k");
  g.alpha = args_number(args, at + 5, "alpha");
  F32 a = args_f32(args, at + 6, "A");
  g.lda = args_dim(args, at + 7, "lda");
  F32 b = args_f32(args, at + 8, "B");
  g.ldb = args_dim(args, at + 9, "ldb");
  g.beta = args_number(args, at + 10, "beta");
  F32 c = args_f32(args, at + 11, "C");
  g.ldc = args_dim(args, at + 12, "ldc");
  g.count = 1;
  if (batched) {
    g.count = args_dim(args, at + 13, "count");
    g.stride_a = args_count(args, at + 14, "strideA");
    g.stride_b = args_count(args, at + 15, "strideB");
    g.stride_c = args_count(args, at + 16, "strideC");
  }
  g.a = a.data;
  g.b = b.data;
  g.c = c.data;
  StitchGemmExtent extent;
  stitch_gemm_extent(&g, &extent);
  args_at_least(args, "lda", g.lda, extent.min_lda);
  args_at_least(args, "ldb", g.ldb, extent.min_ldb);
  args_at_least(args, "ldc", g.ldc, extent.min_ldc);
  args_need(args, a, extent.a_elements);
  args_need(args, b, extent.b_elements);
  args_need(args, c, extent.c_elements);
  return g;
}

static napi_value js_gemm(napi_env env, napi_callback_info info) {
  Args args;
  args_open(&args, env, info, "gemm", 17);
  StitchGemm g = gemm_args(&args, 0, true);
  if (args_failed(&args)) return NULL;
  stitch_gemm(&g);
  return NULL;
}

static napi_value js_gemm_pair(napi_env env, napi_callback_info info) {
  Args args;
  args_open(&args, env, info, "gemmPair", 26);
  StitchGemm first = gemm_args(&args, 0, false);
  StitchGemm second = gemm_args(&args, 13, false);
  if (args_failed(&args)) return NULL;
  stitch_gemm_pair(&first, &second);
  return NULL;
}

/* ---- element-wise kernels and reductions -------------------------------------------------- */

static napi_value js_add_bias_rows(napi_env env, napi_callback_info info) {
  Args args;
  args_open(&args, env, info, "addBiasRows", 4);
  F32 x = args_f32(&args, 0, "x"), bias = args_f32(&args, 1, "bias");
  int64_t rows = args_count(&args, 2, "rows"), cols = args_count(&args, 3, "cols");
  args_need(&args, x, (double)rows * (double)cols);
  args_need(&args, bias, (double)cols);
  if (args_failed(&args)) return NULL;
  stitch_add_bias_rows(x.data, bias.data, rows, cols);
  return NULL;
}

static napi_value js_sum_rows(napi_env env, napi_callback_info info) {
  Args args;
  args_open(&args, env, info, "sumRows", 5);
  F32 x = args_f32(&args, 0, "x");
  int64_t rows = args_count(&args, 1, "rows"), cols = args_count(&args, 2, "cols");
  F32 out = args_f32(&args, 3, "out");
  bool accumulate = args_bool(&args, 4, "accumulate");
  args_need(&args, x, (double)rows * (double)cols);
  args_need(&args, out, (double)cols);
  if (args_failed(&args)) return NULL;
  return finish(&args, stitch_sum_rows(x.data, rows, cols, out.data, accumulate), "cols");
}

static napi_value js_add(napi_env env, napi_callback_info info) {
  Args args;
  args_open(&args, env, info, "add", 4);
  F32 a = args_f32(&args, 0, "a"), b = args_f32(&args, 1, "b"), out = args_f32(&args, 2, "out");
  int64_t n = args_count(&args, 3, "n");
  args_need(&args, a, (double)n);
  args_need(&args, b, (double)n);
  args_need(&args, out, (double)n);
  if (args_failed(&args)) return NULL;
  stitch_add(a.data, b.data, out.data, n);
  return NULL;
}

static napi_value js_axpy(napi_env env, napi_callback_info info) {
  Args args;
  args_open(&args, env, info, "axpy", 4);
  double alpha = args_number(&args, 0, "alpha");
  F32 x = args_f32(&args, 1, "x"), y = args_f32(&args, 2, "y");
  int64_t n = args_count(&args, 3, "n");
  args_need(&args, x, (double)n);
  args_need(&args, y, (double)n);
  if (args_failed(&args)) return NULL;
  stitch_axpy(alpha, x.data, y.data, n);
  return NULL;
}

static napi_value js_scale(napi_env env, napi_callback_info info) {
  Args args;
  args_open(&args, env, info, "scale", 3);
  F32 x = args_f32(&args, 0, "x");
  double alpha = args_number(&args, 1, "alpha");
  int64_t n = args_count(&args, 2, "n");
  args_need(&args, x, (double)n);
  if (args_failed(&args)) return NULL;
  stitch_scale(x.data, alpha, n);
  return NULL;
}

static napi_value js_sum_squares(napi_env env, napi_callback_info info) {
  Args args;
  args_open(&args, env, info, "sumSquares", 2);
  F32 x = args_f32(&args, 0, "x");
  int64_t n = args_count(&args, 1, "n");
  args_need(&args, x, (double)n);
  if (args_failed(&args)) return NULL;
  return make_number(env, stitch_sum_squares(x.data, n));
}

/* ---- activations -------------------------------------------------------------------------- */

static int activation_arg(Args *args, size_t at) {
  return (int)args_int(args, at, "kind", STITCH_RELU, STITCH_MISH);
}

static napi_value js_activation(napi_env env, napi_callback_info info) {
  Args args;
  args_open(&args, env, info, "activation", 4);
  int kind = activation_arg(&args, 0);
  F32 x = args_f32(&args, 1, "x"), out = args_f32(&args, 2, "out");
  int64_t n = args_count(&args, 3, "n");
  args_need(&args, x, (double)n);
  args_need(&args, out, (double)n);
  if (args_failed(&args)) return NULL;
  stitch_activation(kind, x.data, out.data, n);
  return NULL;
}

static napi_value js_activation_backward(napi_env env, napi_callback_info info) {
  Args args;
  args_open(&args, env, info, "activationBackward", 6);
  int kind = activation_arg(&args, 0);
  F32 x = args_f32(&args, 1, "x"), grad_out = args_f32(&args, 2, "gradOut"), grad_x = args_f32(&args, 3, "gradX");
  int64_t n = args_count(&args, 4, "n");
  bool accumulate = args_bool(&args, 5, "accumulate");
  args_need(&args, x, (double)n);
  args_need(&args, grad_out, (double)n);
  args_need(&args, grad_x, (double)n);
  if (args_failed(&args)) return NULL;
  stitch_activation_backward(kind, x.data, grad_out.data, grad_x.data, n, accumulate);
  return NULL;
}

static napi_value js_bias_activation(napi_env env, napi_callback_info info) {
  Args args;
  args_open(&args, env, info, "biasActivation", 6);
  int kind = activation_arg(&args, 0);
  F32 x = args_f32(&args, 1, "x"), bias = args_f32(&args, 2, "bias"), out = args_f32(&args, 3, "out");
  int64_t rows = args_count(&args, 4, "rows"), cols = args_count(&args, 5, "cols");
  args_need(&args, x, (double)rows * (double)cols);
  args_need(&args, bias, (double)cols);
  args_need(&args, out, (double)rows * (double)cols);
  if (args_failed(&args)) return NULL;
  stitch_bias_activation(kind, x.data, bias.data, out.data, rows, cols);
  return NULL;
}

static napi_value js_activation_backward_bias(napi_env env, napi_callback_info info) {
  Args args;
  args_open(&args, env, info, "activationBackwardBias", 8);
  int kind = activation_arg(&args, 0);
  F32 x = args_f32(&args, 1, "x"), grad_out = args_f32(&args, 2, "gradOut"), grad_x = args_f32(&args, 3, "gradX");
  F32 bias_grad = args_f32(&args, 4, "biasGrad");
  int64_t rows = args_count(&args, 5, "rows"), cols = args_count(&args, 6, "cols");
  bool accumulate = args_bool(&args, 7, "accumulate");
  double n = (double)rows * (double)cols;
  args_need(&args, x, n);
  args_need(&args, grad_out, n);
  args_need(&args, grad_x, n);
  args_need(&args, bias_grad, (double)cols);
  if (args_failed(&args)) return NULL;
  StitchStatus status =
      stitch_activation_backward_bias(kind, x.data, grad_out.data, grad_x.data, bias_grad.data, rows, cols, accumulate);
  return finish(&args, status, "cols");
}

/* ---- dropout ------------------------------------------------------------------------------ */

static napi_value js_dropout(napi_env env, napi_callback_info info) {
  Args args;
  args_open(&args, env, info, "dropout", 5);
  F32 x = args_f32(&args, 0, "x"), out = args_f32(&args, 1, "out");
  int64_t n = args_count(&args, 2, "n");
  double p = args_probability(&args, 3, "p");
  uint32_t seed = args_seed(&args, 4, "seed");
  args_need(&args, x, (double)n);
  args_need(&args, out, (double)n);
  if (args_failed(&args)) return NULL;
  stitch_dropout(x.data, out.data, n, p, seed);
  return NULL;
}

static napi_value js_dropout_backward(napi_env env, napi_callback_info info) {
  Args args;
  args_open(&args, env, info, "dropoutBackward", 6);
  F32 grad_out = args_f32(&args, 0, "gradOut"), grad_x = args_f32(&args, 1, "gradX");
  int64_t n = args_count(&args, 2, "n");
  double p = args_probability(&args, 3, "p");
  uint32_t seed = args_seed(&args, 4, "seed");
  bool accumulate = args_bool(&args, 5, "accumulate");
  args_need(&args, grad_out, (double)n);
  args_need(&args, grad_x, (double)n);
  if (args_failed(&args)) return NULL;
  stitch_dropout_backward(grad_out.data, grad_x.data, n, p, seed, accumulate);
  return NULL;
}

/* ---- LayerNorm ---------------------------------------------------------------------------- */

static napi_value js_layer_norm(napi_env env, napi_callback_info info) {
  Args args;
  args_open(&args, env, info, "layerNorm", 9);
  F32 x = args_f32(&args, 0, "x"), gamma = args_f32(&args, 1, "gamma"), beta = args_f32(&args, 2, "beta");
  F32 out = args_f32(&args, 3, "out"), mean = args_f32(&args, 4, "mean"), rstd = args_f32(&args, 5, "rstd");
  int64_t rows = args_count(&args, 6, "rows"), cols = args_count(&args, 7, "cols");
  double eps = args_number(&args, 8, "eps");
  double size = (double)rows * (double)cols;
  args_need(&args, x, size);
  args_need(&args, gamma, (double)cols);
  args_need(&args, beta, (double)cols);
  args_need(&args, out, size);
  args_need(&args, mean, (double)rows);
  args_need(&args, rstd, (double)rows);
  if (args_failed(&args)) return NULL;
  stitch_layer_norm(x.data, gamma.data, beta.data, out.data, mean.data, rstd.data, rows, cols, eps);
  return NULL;
}

static napi_value js_layer_norm_backward(napi_env env, napi_callback_info info) {
  Args args;
  args_open(&args, env, info, "layerNormBackward", 11);
  F32 x = args_f32(&args, 0, "x"), gamma = args_f32(&args, 1, "gamma"), mean = args_f32(&args, 2, "mean");
  F32 rstd = args_f32(&args, 3, "rstd"), grad_out = args_f32(&args, 4, "gradOut"), grad_x = args_f32(&args, 5, "gradX");
  F32 grad_gamma = args_f32(&args, 6, "gradGamma"), grad_beta = args_f32(&args, 7, "gradBeta");
  int64_t rows = args_count(&args, 8, "rows"), cols = args_count(&args, 9, "cols");
  bool accumulate = args_bool(&args, 10, "accumulate");
  double size = (double)rows * (double)cols;
  args_need(&args, x, size);
  args_need(&args, gamma, (double)cols);
  args_need(&args, mean, (double)rows);
  args_need(&args, rstd, (double)rows);
  args_need(&args, grad_out, size);
  args_need(&args, grad_x, size);
  args_need(&args, grad_gamma, (double)cols);
  args_need(&args, grad_beta, (double)cols);
  if (args_failed(&args)) return NULL;
  StitchStatus status = stitch_layer_norm_backward(x.data, gamma.data, mean.data, rstd.data, grad_out.data, grad_x.data,
                                                   grad_gamma.data, grad_beta.data, rows, cols, accumulate);
  return finish(&args, status, "cols");
}

/* ---- attention ---------------------------------------------------------------------------- */

/* batch, tokens, heads, headDim, causal, dropout and seed from `at` */
static StitchAttentionShape attention_args(Args *args, size_t at) {
  StitchAttentionShape s;
  s.batch = args_dim(args, at + 0, "batch");
  s.tokens = args_dim(args, at + 1, "tokens");
  s.heads = args_dim(args, at + 2, "heads");
  s.head_dim = args_int(args, at + 3, "headDim", 1, MAX_DIM);
  s.causal = args_bool(args, at + 4, "causal");
  s.dropout = args_probability(args, at + 5, "dropout");
  s.seed = args_seed(args, at + 6, "seed");
  return s;
}

/* A row of qkv ([batch, tokens, 3 heads headDim]) must fit BLAS's 32-bit leading dimension. */
static void need_qkv(Args *args, F32 qkv, const StitchAttentionShape *s) {
  double row_stride = 3.0 * (double)s->heads * (double)s->head_dim;
  if (row_stride > MAX_DIM) args_range_error(args, "heads * headDim", "is too large");
  args_need(args, qkv, (double)s->batch * (double)s->tokens * row_stride);
}

static double probs_elements(const StitchAttentionShape *s) {
  return (double)s->batch * (double)s->heads * (double)s->tokens * (double)s->tokens;
}

static double out_elements(const StitchAttentionShape *s) {
  return (double)s->batch * (double)s->tokens * (double)s->heads * (double)s->head_dim;
}

static napi_value js_attention(napi_env env, napi_callback_info info) {
  Args args;
  args_open(&args, env, info, "attention", 11);
  F32 qkv = args_f32(&args, 0, "qkv"), key_mask = args_f32_or_null(&args, 1, "keyMask");
  F32 probs = args_f32(&args, 2, "probs"), out = args_f32(&args, 3, "out");
  StitchAttentionShape s = attention_args(&args, 4);
  need_qkv(&args, qkv, &s);
  if (key_mask.data != NULL) args_need(&args, key_mask, (double)s.batch * (double)s.tokens);
  args_need(&args, probs, probs_elements(&s));
  args_need(&args, out, out_elements(&s));
  if (args_failed(&args)) return NULL;
  return finish(&args, stitch_attention(qkv.data, key_mask.data, probs.data, out.data, &s), "tokens");
}

static napi_value js_attention_backward(napi_env env, napi_callback_info info) {
  Args args;
  args_open(&args, env, info, "attentionBackward", 12);
  F32 qkv = args_f32(&args, 0, "qkv"), probs = args_f32(&args, 1, "probs");
  F32 grad_out = args_f32(&args, 2, "gradOut"), grad_qkv = args_f32(&args, 3, "gradQkv");
  StitchAttentionShape s = attention_args(&args, 4);
  bool accumulate = args_bool(&args, 11, "accumulate");
  need_qkv(&args, qkv, &s);
  args_need(&args, probs, probs_elements(&s));
  args_need(&args, grad_out, out_elements(&s));
  args_need(&args, grad_qkv, 3.0 * out_elements(&s));
  if (args_failed(&args)) return NULL;
  StitchStatus status = stitch_attention_backward(qkv.data, probs.data, grad_out.data, grad_qkv.data, &s, accumulate);
  return finish(&args, status, "tokens");
}

/* ---- embedding rows ----------------------------------------------------------------------- */

/* every index must name a row of a table of `length` floats in rows of `cols` */
static void indices_arg(Args *args, I32 index, size_t length, int64_t cols) {
  if (args->failed || cols == 0) return;
  double table_rows = floor((double)length / (double)cols);
  int64_t bad = stitch_first_bad_index(index.data, index.length, table_rows);
  if (bad < 0) return;
  char name[48], detail[96];
  snprintf(name, sizeof name, "index[%lld]", (long long)bad);
  snprintf(detail, sizeof detail, "= %d is outside the table's %.0f rows", index.data[bad], table_rows);
  args_range_error(args, name, detail);
}

static napi_value js_gather_rows(napi_env env, napi_callback_info info) {
  Args args;
  args_open(&args, env, info, "gatherRows", 4);
  F32 table = args_f32(&args, 0, "table");
  I32 index = args_i32(&args, 1, "index");
  F32 out = args_f32(&args, 2, "out");
  int64_t cols = args_count(&args, 3, "cols");
  args_need(&args, out, (double)index.length * (double)cols);
  indices_arg(&args, index, table.length, cols);
  if (args_failed(&args)) return NULL;
  stitch_gather_rows(table.data, index.data, index.length, out.data, cols);
  return NULL;
}

static napi_value js_scatter_add_rows(napi_env env, napi_callback_info info) {
  Args args;
  args_open(&args, env, info, "scatterAddRows", 4);
  F32 grad_out = args_f32(&args, 0, "gradOut");
  I32 index = args_i32(&args, 1, "index");
  F32 grad_table = args_f32(&args, 2, "gradTable");
  int64_t cols = args_count(&args, 3, "cols");
  args_need(&args, grad_out, (double)index.length * (double)cols);
  indices_arg(&args, index, grad_table.length, cols);
  if (args_failed(&args)) return NULL;
  stitch_scatter_add_rows(grad_out.data, index.data, index.length, grad_table.data, cols);
  return NULL;
}

/* ---- optimizers --------------------------------------------------------------------------- */

/* lr, beta1, beta2, eps, weightDecay, [decoupled,] biasCorrection1, biasCorrection2 from `at` */
static StitchAdamStep adam_step_args(Args *args, size_t at, bool has_decoupled) {
  StitchAdamStep s;
  s.lr = args_number(args, at, "lr");
  s.beta1 = args_number(args, at + 1, "beta1");
  s.beta2 = args_number(args, at + 2, "beta2");
  s.eps = args_number(args, at + 3, "eps");
  s.weight_decay = args_number(args, at + 4, "weightDecay");
  size_t next = at + 5;
  s.decoupled = has_decoupled ? args_bool(args, next++, "decoupled") : true;
  s.bias_correction1 = args_number(args, next, "biasCorrection1");
  s.bias_correction2 = args_number(args, next + 1, "biasCorrection2");
  return s;
}

static napi_value js_adam_update(napi_env env, napi_callback_info info) {
  Args args;
  args_open(&args, env, info, "adamUpdate", 13);
  F32 param = args_f32(&args, 0, "param"), grad = args_f32(&args, 1, "grad");
  F32 m = args_f32(&args, 2, "m"), v = args_f32(&args, 3, "v");
  int64_t n = args_count(&args, 4, "n");
  args_need(&args, param, (double)n);
  args_need(&args, grad, (double)n);
  args_need(&args, m, (double)n);
  args_need(&args, v, (double)n);
  StitchAdamStep step = adam_step_args(&args, 5, true);
  if (args_failed(&args)) return NULL;
  stitch_adam_update(param.data, grad.data, m.data, v.data, n, &step);
  return NULL;
}

static napi_value js_lamb_update(napi_env env, napi_callback_info info) {
  Args args;
  args_open(&args, env, info, "lambUpdate", 13);
  F32 param = args_f32(&args, 0, "param"), grad = args_f32(&args, 1, "grad");
  F32 m = args_f32(&args, 2, "m"), v = args_f32(&args, 3, "v"), update = args_f32(&args, 4, "update");
  int64_t n = args_count(&args, 5, "n");
  args_need(&args, param, (double)n);
  args_need(&args, grad, (double)n);
  args_need(&args, m, (double)n);
  args_need(&args, v, (double)n);
  args_need(&args, update, (double)n);
  StitchAdamStep step = adam_step_args(&args, 6, false);
  if (args_failed(&args)) return NULL;
  stitch_lamb_update(param.data, grad.data, m.data, v.data, update.data, n, &step);
  return NULL;
}

/* ---- threads and library information ------------------------------------------------------ */

static napi_value js_set_threads(napi_env env, napi_callback_info info) {
  Args args;
  args_open(&args, env, info, "setThreads", 1);
  int64_t n = args_int(&args, 0, "n", 1, 1024);
  if (args_failed(&args)) return NULL;
  stitch_set_threads((int)n);
  return NULL;
}

static napi_value js_threads(napi_env env, napi_callback_info info) {
  return make_number(env, stitch_threads());
}

static napi_value js_blas_info(napi_env env, napi_callback_info info) {
  char text[256];
  stitch_blas_info(text, sizeof text);
  napi_value result;
  napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &result);
  return result;
}

/* ---- the exports -------------------------------------------------------------------------- */

static const struct {
  const char *name;
  napi_callback function;
} EXPORTS[] = {
    {"gemm", js_gemm},
    {"gemmPair", js_gemm_pair},
    {"biasActivation", js_bias_activation},
    {"activationBackwardBias", js_activation_backward_bias},
    {"addBiasRows", js_add_bias_rows},
    {"sumRows", js_sum_rows},
    {"add", js_add},
    {"axpy", js_axpy},
    {"scale", js_scale},
    {"sumSquares", js_sum_squares},
    {"activation", js_activation},
    {"activationBackward", js_activation_backward},
    {"dropout", js_dropout},
    {"dropoutBackward", js_dropout_backward},
    {"layerNorm", js_layer_norm},
    {"layerNormBackward", js_layer_norm_backward},
    {"attention", js_attention},
    {"attentionBackward", js_attention_backward},
    {"gatherRows", js_gather_rows},
    {"scatterAddRows", js_scatter_add_rows},
    {"adamUpdate", js_adam_update},
    {"lambUpdate", js_lamb_update},
    {"setThreads", js_set_threads},
    {"threads", js_threads},
    {"blasInfo", js_blas_info},
};

#define EXPORT_COUNT (sizeof EXPORTS / sizeof EXPORTS[0])

static napi_value init(napi_env env, napi_value exports) {
  stitch_init_threads();
  napi_property_descriptor properties[EXPORT_COUNT];
  for (size_t i = 0; i < EXPORT_COUNT; i++)
    properties[i] = (napi_property_descriptor){EXPORTS[i].name, NULL, EXPORTS[i].function, NULL, NULL, NULL, napi_enumerable, NULL};
  napi_define_properties(env, exports, EXPORT_COUNT, properties);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
