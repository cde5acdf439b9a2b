/*
 * Stitch native kernels: the `Backend` interface of src/engine/backend.ts in C11 over OpenBLAS.
 * The TypeScript reference (src/engine/backends/js.ts) is the ground truth; the argument order
 * of every export is fixed by `NativeAddon` in src/engine/backends/native.ts.
 *
 * Threading: GEMM runs on OpenBLAS's own threads; every other kernel is split with OpenMP into
 * contiguous, deterministic parts (a reduction always sums its parts in the same order, so a
 * result depends on the thread count but never on scheduling). Kernels that call sgemm from
 * inside an OpenMP region (attention, small batched GEMM) pin OpenBLAS to one thread meanwhile.
 * The loader (native.ts) sets OMP_WAIT_POLICY=passive: OpenMP workers that spin after a kernel
 * take the core OpenBLAS's worker needs for the next GEMM (and vice versa), which on 2 cores
 * cost a 4 ms scheduler slice per kernel boundary; sleeping workers cost a few microseconds.
 *
 * Every argument is validated before anything is written: a wrong type throws a TypeError and
 * an array too small for the sizes given throws a RangeError, both naming function and argument.
 */
#define NAPI_VERSION 8
#include <node_api.h>

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ------------------------------------------------------------------------------------------ */
/* threads                                                                                     */

static int g_threads = 1;

/* Below this many elements of work a second thread costs more (wake-up) than it saves. */
#define GRAIN_MEMORY 32768
#define GRAIN_COMPUTE 4096
/* element-wise kernels hand out blocks of this many elements (a multiple of a cache line) */
#define BLOCK 4096

static int threads_for(double work, double grain) {
  double useful = work / grain;
  if (useful < 2) return 1;
  return useful < g_threads ? (int)useful : g_threads;
}

static size_t min_size(size_t a, size_t b) { return a < b ? a : b; }

/* Begin of part `part` of `parts` over n items: contiguous ranges, independent of scheduling. */
static size_t part_begin(size_t n, int part, int parts) {
  return (size_t)((unsigned __int128)n * (unsigned)part / (unsigned)parts);
}

/* ------------------------------------------------------------------------------------------ */
/* argument validation                                                                         */

static bool throw_type(napi_env env, const char *fn, const char *name, const char *expected) {
  char message[256];
  snprintf(message, sizeof message, "stitch_native.%s: %s must be %s", fn, name, expected);
  napi_throw_type_error(env, NULL, message);
  return false;
}

static bool throw_range(napi_env env, const char *fn, const char *name, const char *detail) {
  char message[320];
  snprintf(message, sizeof message, "stitch_native.%s: %s %s", fn, name, detail);
  napi_throw_range_error(env, NULL, message);
  return false;
}

static bool get_args(napi_env env, napi_callback_info info, size_t expected, napi_value *argv, const char *fn) {
  size_t argc = expected;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return throw_type(env, fn, "arguments", "readable");
  if (argc < expected) {
    char detail[64];
    snprintf(detail, sizeof detail, "%zu arguments (got %zu)", expected, argc);
    return throw_type(env, fn, "the call", detail);
  }
  return true;
}

static bool arg_typed(napi_env env, const char *fn, napi_value value, const char *name,
                      napi_typedarray_type want, const char *want_name, void **data, size_t *length) {
  bool is_typed = false;
  if (napi_is_typedarray(env, value, &is_typed) != napi_ok || !is_typed) return throw_type(env, fn, name, want_name);
  napi_typedarray_type type;
  if (napi_get_typedarray_info(env, value, &type, length, data, NULL, NULL) != napi_ok || type != want) {
    return throw_type(env, fn, name, want_name);
  }
  return true;
}

static bool arg_f32(napi_env env, const char *fn, napi_value value, const char *name, float **data, size_t *length) {
  void *raw = NULL;
  if (!arg_typed(env, fn, value, name, napi_float32_array, "a Float32Array", &raw, length)) return false;
  *data = raw;
  return true;
}

static bool arg_f32_or_null(napi_env env, const char *fn, napi_value value, const char *name, float **data, size_t *length) {
  napi_valuetype kind;
  if (napi_typeof(env, value, &kind) == napi_ok && kind == napi_null) {
    *data = NULL;
    *length = 0;
    return true;
  }
  void *raw = NULL;
  if (!arg_typed(env, fn, value, name, napi_float32_array, "a Float32Array or null", &raw, length)) return false;
  *data = raw;
  return true;
}

static bool arg_i32(napi_env env, const char *fn, napi_value value, const char *name, int32_t **data, size_t *length) {
  void *raw = NULL;
  if (!arg_typed(env, fn, value, name, napi_int32_array, "an Int32Array", &raw, length)) return false;
  *data = raw;
  return true;
}

static bool arg_number(napi_env env, const char *fn, napi_value value, const char *name, double *out) {
  napi_valuetype kind;
  if (napi_typeof(env, value, &kind) != napi_ok || kind != napi_number) return throw_type(env, fn, name, "a number");
  napi_get_value_double(env, value, out);
  return true;
}

static bool arg_int(napi_env env, const char *fn, napi_value value, const char *name, double min, double max, int64_t *out) {
  double number;
  if (!arg_number(env, fn, value, name, &number)) return false;
  if (!(number >= min && number <= max) || number != floor(number)) {
    char detail[96];
    snprintf(detail, sizeof detail, "must be an integer in [%.0f, %.0f] (got %g)", min, max, number);
    return throw_range(env, fn, name, detail);
  }
  *out = (int64_t)number;
  return true;
}

/* BLAS dimensions are 32-bit ints in Debian's OpenBLAS */
#define MAX_DIM 2147483647.0
/* element counts: typed arrays are indexed below 2^53 */
#define MAX_COUNT 9007199254740991.0

static bool arg_dim(napi_env env, const char *fn, napi_value value, const char *name, int64_t *out) {
  return arg_int(env, fn, value, name, 0, MAX_DIM, out);
}

static bool arg_count(napi_env env, const char *fn, napi_value value, const char *name, int64_t *out) {
  return arg_int(env, fn, value, name, 0, MAX_COUNT, out);
}

static bool arg_bool(napi_env env, const char *fn, napi_value value, const char *name, bool *out) {
  napi_valuetype kind;
  if (napi_typeof(env, value, &kind) != napi_ok || kind != napi_boolean) return throw_type(env, fn, name, "a boolean");
  napi_get_value_bool(env, value, out);
  return true;
}

static bool arg_seed(napi_env env, const char *fn, napi_value value, const char *name, uint32_t *out) {
  int64_t seed;
  if (!arg_int(env, fn, value, name, 0, 4294967295.0, &seed)) return false;
  *out = (uint32_t)seed;
  return true;
}

static bool arg_probability(napi_env env, const char *fn, napi_value value, const char *name, double *out) {
  if (!arg_number(env, fn, value, name, out)) return false;
  if (!(*out >= 0 && *out <= 1)) return throw_range(env, fn, name, "must be a probability in [0, 1]");
  return true;
}

/* Sizes are checked in double: exact below 2^53, and anything larger exceeds every array. */
static bool need(napi_env env, const char *fn, const char *name, size_t length, double required) {
  if ((double)length >= required) return true;
  char detail[128];
  snprintf(detail, sizeof detail, "has %zu elements, needs at least %.0f", length, required);
  return throw_range(env, fn, name, detail);
}

#define CHECK(expression) \
  do {                    \
    if (!(expression)) return NULL; \
  } while (0)

static napi_value make_number(napi_env env, double value) {
  napi_value result;
  napi_create_double(env, value, &result);
  return result;
}

/* ------------------------------------------------------------------------------------------ */
/* vectorizable math                                                                           */

/* exp for x in [-87, 88] (callers clamp), Cephes single-precision polynomial: ~1 ulp.
   Written without calls or branches so that gcc vectorizes the loops that use it. */
static inline float exp_poly(float x) {
  const float magic = 12582912.0f; /* 1.5 * 2^23: adding it rounds to an integer */
  float k = (x * 1.44269504088896341f + magic) - magic;
  float r = x - k * 0.693359375f;
  r = r - k * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  float y = p * r * r + r + 1.0f;
  uint32_t bits = (uint32_t)((int32_t)k + 127) << 23;
  float scale;
  memcpy(&scale, &bits, sizeof scale);
  return y * scale;
}

/* Clamps keep NaN: `v > hi ? hi : v` is false for NaN, so NaN flows through to the result. */
static inline float clamp_exp_arg(float v) {
  v = v > 88.0f ? 88.0f : v;
  return v < -87.0f ? -87.0f : v;
}

static inline float tanh_poly(float x) {
  float ax = fabsf(x);
  float z = x * x;
  /* Cephes tanhf: polynomial near 0, where 1 - 2/(e^2x + 1) would cancel */
  float small = ((((-5.70498872745e-3f * z + 2.06390887954e-2f) * z - 5.37397155531e-2f) * z + 1.33314422036e-1f) * z
                 - 3.33332819422e-1f) * z * x + x;
  float a = ax > 9.0f ? 9.0f : ax;
  float e = exp_poly(-2.0f * a);
  float big = copysignf((1.0f - e) / (1.0f + e), x);
  return ax < 0.625f ? small : big;
}

/* erf without libm calls, so that gelu_erf vectorizes: the Maclaurin series for |x| < 1
   (truncation below 2e-8 there) and Numerical Recipes' erfc (relative error < 1.2e-7) beyond. */
static inline float erf_poly(float x) {
  float ax = fabsf(x);
  float z = x * x;
  float series = 1.4807192816e-08f;
  series = series * z - 1.6365844691e-07f;
  series = series * z + 1.6462114366e-06f;
  series = series * z - 1.4925650358e-05f;
  series = series * z + 1.2055332982e-04f;
  series = series * z - 8.5483270235e-04f;
  series = series * z + 5.2239776254e-03f;
  series = series * z - 2.6866170645e-02f;
  series = series * z + 1.1283791671e-01f;
  series = series * z - 3.7612638903e-01f;
  series = series * z + 1.1283791671e+00f;
  /* past 4, 1 - erfc(x) rounds to 1 in float */
  float a = ax > 4.0f ? 4.0f : ax;
  float t = 1.0f / (1.0f + 0.5f * a);
  float tail = -a * a - 1.26551223f +
               t * (1.00002368f + t * (0.37409196f + t * (0.09678418f + t * (-0.18628806f + t * (0.27886807f +
               t * (-1.13520398f + t * (1.48851587f + t * (-0.82215223f + t * 0.17087277f))))))));
  float erfc = t * exp_poly(tail);
  return ax < 1.0f ? x * series : copysignf(1.0f - erfc, x);
}

#define SQRT_2_OVER_PI 0.79788456080286535588f
#define GELU_CUBIC 0.044715f
#define INV_SQRT_2PI 0.39894228040143267794f

enum { ACT_RELU = 0, ACT_GELU_TANH = 1, ACT_GELU_ERF = 2, ACT_TANH = 3, ACT_MISH = 4 };

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

#define VECTOR_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))

VECTOR_CLONES
static void activation_range(int kind, const float *x, float *out, size_t begin, size_t end) {
  switch (kind) {
    case ACT_RELU:
      for (size_t i = begin; i < end; i++) out[i] = x[i] > 0.0f ? x[i] : 0.0f;
      break;
    case ACT_GELU_TANH:
      for (size_t i = begin; i < end; i++) out[i] = gelu_tanh_value(x[i]);
      break;
    case ACT_GELU_ERF:
      for (size_t i = begin; i < end; i++) out[i] = 0.5f * x[i] * (1.0f + erf_poly(x[i] * (float)M_SQRT1_2));
      break;
    case ACT_TANH:
      for (size_t i = begin; i < end; i++) out[i] = tanh_poly(x[i]);
      break;
    case ACT_MISH:
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

static inline float gelu_erf_derivative(float v) {
  return 0.5f * (1.0f + erf_poly(v * (float)M_SQRT1_2)) + v * INV_SQRT_2PI * exp_poly(clamp_exp_arg(-0.5f * v * v));
}

VECTOR_CLONES
static void activation_backward_range(int kind, const float *x, const float *grad_out, float *grad_x,
                                      bool accumulate, size_t begin, size_t end) {
  switch (kind) {
    case ACT_RELU:
      BACKWARD_LOOP(x[i] > 0.0f ? 1.0f : 0.0f);
      break;
    case ACT_GELU_TANH:
      BACKWARD_LOOP(gelu_tanh_derivative(x[i]));
      break;
    case ACT_GELU_ERF:
      BACKWARD_LOOP(gelu_erf_derivative(x[i]));
      break;
    case ACT_TANH:
      BACKWARD_LOOP(tanh_derivative(x[i]));
      break;
    case ACT_MISH:
      BACKWARD_LOOP(mish_derivative(x[i]));
      break;
  }
}

/* ------------------------------------------------------------------------------------------ */
/* dropout: bit-identical to dropoutKeep in backend.ts                                         */

static inline uint32_t dropout_bits(uint32_t seed, uint32_t index) {
  uint32_t x = index * 0x9e3779b1u + seed;
  x ^= x >> 16;
  x *= 0x85ebca6bu;
  x ^= x >> 13;
  x *= 0xc2b2ae35u;
  x ^= x >> 16;
  return x >> 8;
}

/* dropoutKeep is (bits * 2^-24 >= p); bits is an integer, so that is bits >= ceil(p * 2^24) */
static uint32_t keep_threshold(double p) {
  if (!(p > 0)) return 0;
  double threshold = ceil(p * 16777216.0);
  return threshold > 16777216.0 ? 16777217u : (uint32_t)threshold;
}

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

/* ------------------------------------------------------------------------------------------ */
/* sums: several independent accumulators so that gcc vectorizes without reassociating        */

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

static double sum_squares_range(const float *x, size_t begin, size_t end) {
  double lanes[8] = {0};
  size_t i = begin;
  for (; i + 8 <= end; i += 8)
    for (int l = 0; l < 8; l++) lanes[l] += (double)x[i + l] * (double)x[i + l];
  double total = ((lanes[0] + lanes[4]) + (lanes[1] + lanes[5])) + ((lanes[2] + lanes[6]) + (lanes[3] + lanes[7]));
  for (; i < end; i++) total += (double)x[i] * (double)x[i];
  return total;
}

/* ------------------------------------------------------------------------------------------ */
/* GEMM                                                                                        */

/* elements a row-major matrix view spans: (rows - 1) * ld + cols, 0 when empty */
static double span(int64_t rows, int64_t cols, int64_t ld) {
  return rows > 0 && cols > 0 ? (double)(rows - 1) * (double)ld + (double)cols : 0;
}

/* Products this small run faster one per thread than split across OpenBLAS threads. */
#define SMALL_GEMM_FLOPS (2.0 * 1024 * 1024)

/* One validated product C[i] = alpha op(A[i]) op(B[i]) + beta C[i], i < count. */
typedef struct {
  enum CBLAS_TRANSPOSE op_a, op_b;
  int64_t m, n, k, lda, ldb, ldc, count, stride_a, stride_b, stride_c;
  double alpha, beta, c_span;
  float *a, *b, *c;
  bool reads_ab; /* k = 0 or alpha = 0 reads neither A nor B, as in BLAS */
} gemm_spec;

/* Reads 13 arguments (transA .. ldc) from argv, and count and strides from argv[13..15] when
   batched; throws a RangeError naming the argument and returns false on bad input. */
static bool parse_gemm(napi_env env, const char *fn, napi_value *argv, bool batched, gemm_spec *s) {
  bool trans_a, trans_b;
  size_t a_len, b_len, c_len;
  if (!arg_bool(env, fn, argv[0], "transA", &trans_a) || !arg_bool(env, fn, argv[1], "transB", &trans_b) ||
      !arg_dim(env, fn, argv[2], "m", &s->m) || !arg_dim(env, fn, argv[3], "n", &s->n) ||
      !arg_dim(env, fn, argv[4], "k", &s->k) || !arg_number(env, fn, argv[5], "alpha", &s->alpha) ||
      !arg_f32(env, fn, argv[6], "A", &s->a, &a_len) || !arg_dim(env, fn, argv[7], "lda", &s->lda) ||
      !arg_f32(env, fn, argv[8], "B", &s->b, &b_len) || !arg_dim(env, fn, argv[9], "ldb", &s->ldb) ||
      !arg_number(env, fn, argv[10], "beta", &s->beta) || !arg_f32(env, fn, argv[11], "C", &s->c, &c_len) ||
      !arg_dim(env, fn, argv[12], "ldc", &s->ldc))
    return false;
  s->count = 1;
  s->stride_a = s->stride_b = s->stride_c = 0;
  if (batched && (!arg_dim(env, fn, argv[13], "count", &s->count) || !arg_count(env, fn, argv[14], "strideA", &s->stride_a) ||
                  !arg_count(env, fn, argv[15], "strideB", &s->stride_b) || !arg_count(env, fn, argv[16], "strideC", &s->stride_c)))
    return false;
  s->op_a = trans_a ? CblasTrans : CblasNoTrans;
  s->op_b = trans_b ? CblasTrans : CblasNoTrans;

  int64_t a_rows = trans_a ? s->k : s->m, a_cols = trans_a ? s->m : s->k;
  int64_t b_rows = trans_b ? s->n : s->k, b_cols = trans_b ? s->k : s->n;
  char detail[96];
  if (s->lda < (a_cols > 1 ? a_cols : 1)) {
    snprintf(detail, sizeof detail, "must be >= %lld (got %lld)", (long long)(a_cols > 1 ? a_cols : 1), (long long)s->lda);
    return throw_range(env, fn, "lda", detail), false;
  }
  if (s->ldb < (b_cols > 1 ? b_cols : 1)) {
    snprintf(detail, sizeof detail, "must be >= %lld (got %lld)", (long long)(b_cols > 1 ? b_cols : 1), (long long)s->ldb);
    return throw_range(env, fn, "ldb", detail), false;
  }
  if (s->ldc < (s->n > 1 ? s->n : 1)) {
    snprintf(detail, sizeof detail, "must be >= %lld (got %lld)", (long long)(s->n > 1 ? s->n : 1), (long long)s->ldc);
    return throw_range(env, fn, "ldc", detail), false;
  }
  if (s->count == 0) return true;
  double a_span = span(a_rows, a_cols, s->lda), b_span = span(b_rows, b_cols, s->ldb);
  s->c_span = span(s->m, s->n, s->ldc);
  s->reads_ab = s->k > 0 && s->alpha != 0;
  if (s->reads_ab && (!need(env, fn, "A", a_len, a_span + (double)(s->count - 1) * (double)s->stride_a) ||
                      !need(env, fn, "B", b_len, b_span + (double)(s->count - 1) * (double)s->stride_b)))
    return false;
  return need(env, fn, "C", c_len, s->c_span + (double)(s->count - 1) * (double)s->stride_c);
}

/* Product i of a validated batch, on the calling thread. */
static void gemm_at(const gemm_spec *s, int64_t i) {
  cblas_sgemm(CblasRowMajor, s->op_a, s->op_b, (int)s->m, (int)s->n, (int)s->k, (float)s->alpha,
              s->a + i * s->stride_a, (int)s->lda, s->b + i * s->stride_b, (int)s->ldb,
              (float)s->beta, s->c + i * s->stride_c, (int)s->ldc);
}

/* Runs a validated product on the calling thread with OpenBLAS's current thread count. */
static void run_gemm(const gemm_spec *s) {
  if (s->count == 0 || s->m == 0 || s->n == 0) return;
  if (!s->reads_ab) {
    /* C = beta C; beta = 0 overwrites whatever C held (NaN included), as BLAS does */
    for (int64_t i = 0; i < s->count; i++)
      for (int64_t r = 0; r < s->m; r++) {
        float *row = s->c + i * s->stride_c + r * s->ldc;
        if (s->beta == 0) memset(row, 0, (size_t)s->n * sizeof(float));
        else if (s->beta != 1) for (int64_t j = 0; j < s->n; j++) row[j] *= (float)s->beta;
      }
    return;
  }
  for (int64_t i = 0; i < s->count; i++) gemm_at(s, i);
}

/* Above this many flops a single product is cut into one block of C per thread. */
#define SPLIT_GEMM_MIN_FLOPS (192.0 * 1024 * 1024)

/* One product as `parts` independent blocks of rows (or columns, whichever C has more of), one
   single-threaded sgemm per OpenMP thread: on the DT-step's [3840x128]x[128x512]-sized products
   with cold caches this is 5-10% faster than OpenBLAS's own two threads (docs/performance.md),
   whose threads hand work over inside the product. The blocks are fixed, so results do not
   depend on scheduling. Block edges are multiples of 32 so the kernels' unrolled widths stay whole. */
static void run_gemm_split(const gemm_spec *s, int parts) {
  bool by_rows = s->m >= s->n;
  int64_t extent = by_rows ? s->m : s->n;
  int64_t chunk = ((extent + parts - 1) / parts + 31) / 32 * 32;
  openblas_set_num_threads(1);
#pragma omp parallel for num_threads(parts) schedule(static, 1)
  for (int part = 0; part < parts; part++) {
    int64_t begin = (int64_t)part * chunk;
    int64_t end = begin + chunk < extent ? begin + chunk : extent;
    if (begin >= end) continue;
    gemm_spec block = *s;
    if (by_rows) {
      /* rows of op(A): A stored m x k steps by lda per row, stored k x m (transposed) by 1 */
      block.a = s->a + (s->op_a == CblasNoTrans ? begin * s->lda : begin);
      block.c = s->c + begin * s->ldc;
      block.m = end - begin;
    } else {
      /* columns of op(B): B stored k x n steps by 1 per column, stored n x k (transposed) by ldb */
      block.b = s->b + (s->op_b == CblasNoTrans ? begin : begin * s->ldb);
      block.c = s->c + begin;
      block.n = end - begin;
    }
    run_gemm(&block);
  }
  openblas_set_num_threads(g_threads);
}

static double gemm_flops(const gemm_spec *s) {
  return s->reads_ab ? 2.0 * (double)s->m * (double)s->n * (double)s->k * (double)s->count : 0;
}

static napi_value js_gemm(napi_env env, napi_callback_info info) {
  const char *fn = "gemm";
  napi_value argv[17];
  gemm_spec s;
  CHECK(get_args(env, info, 17, argv, fn));
  CHECK(parse_gemm(env, fn, argv, true, &s));
  if (s.count == 0 || s.m == 0 || s.n == 0) return NULL;
  double flops = 2.0 * (double)s.m * (double)s.n * (double)s.k;
  bool disjoint_c = (double)s.stride_c >= s.c_span;
  if (s.reads_ab && s.count > 1 && disjoint_c && g_threads > 1 && flops <= SMALL_GEMM_FLOPS &&
      flops * s.count >= 2 * SMALL_GEMM_FLOPS / 8) {
    openblas_set_num_threads(1);
    int threads = s.count < g_threads ? (int)s.count : g_threads;
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int64_t i = 0; i < s.count; i++) gemm_at(&s, i);
    openblas_set_num_threads(g_threads);
    return NULL;
  }
  if (s.reads_ab && s.count == 1 && g_threads > 1 && flops >= SPLIT_GEMM_MIN_FLOPS) {
    run_gemm_split(&s, g_threads);
    return NULL;
  }
  run_gemm(&s);
  return NULL;
}

/* Below this many flops in the smaller product, a pair runs one after the other on OpenBLAS's threads. */
#define PAIR_GEMM_MIN_FLOPS (1.0 * 1024 * 1024)

/* Two independent products (a linear layer's dX and dW): side by side, one OpenBLAS thread each.
   On these shapes that beats splitting each product over two threads (no hand-over between the
   threads inside a product; 5-10% on [3840x128]x[128x512]-sized products, up to 2x on 128x128
   ones: docs/performance.md), and each product's result is the single-threaded one. */
static napi_value js_gemm_pair(napi_env env, napi_callback_info info) {
  const char *fn = "gemmPair";
  napi_value argv[26];
  gemm_spec first, second;
  CHECK(get_args(env, info, 26, argv, fn));
  CHECK(parse_gemm(env, fn, argv, false, &first));
  CHECK(parse_gemm(env, fn, argv + 13, false, &second));
  double smaller = fmin(gemm_flops(&first), gemm_flops(&second));
  if (g_threads < 2 || smaller < PAIR_GEMM_MIN_FLOPS) {
    run_gemm(&first);
    run_gemm(&second);
    return NULL;
  }
  openblas_set_num_threads(1);
#pragma omp parallel sections num_threads(2)
  {
#pragma omp section
    run_gemm(&first);
#pragma omp section
    run_gemm(&second);
  }
  openblas_set_num_threads(g_threads);
  return NULL;
}

/* ------------------------------------------------------------------------------------------ */
/* element-wise kernels                                                                        */

/* Runs `body` over [begin, end) blocks of n elements, threaded when n * cost_per_element is large. */
#define FOR_BLOCKS(n, grain, body)                                                            \
  do {                                                                                        \
    size_t blocks_ = ((n) + BLOCK - 1) / BLOCK;                                               \
    int threads_ = threads_for((double)(n), (grain));                                         \
    _Pragma("omp parallel for num_threads(threads_) schedule(static)")                        \
    for (size_t block_ = 0; block_ < blocks_; block_++) {                                     \
      size_t begin = block_ * BLOCK, end = min_size((n), begin + BLOCK);                      \
      body;                                                                                   \
    }                                                                                         \
  } while (0)

static napi_value js_add_bias_rows(napi_env env, napi_callback_info info) {
  const char *fn = "addBiasRows";
  napi_value argv[4];
  CHECK(get_args(env, info, 4, argv, fn));
  float *x, *bias;
  size_t x_len, bias_len;
  int64_t rows, cols;
  CHECK(arg_f32(env, fn, argv[0], "x", &x, &x_len));
  CHECK(arg_f32(env, fn, argv[1], "bias", &bias, &bias_len));
  CHECK(arg_count(env, fn, argv[2], "rows", &rows));
  CHECK(arg_count(env, fn, argv[3], "cols", &cols));
  CHECK(need(env, fn, "x", x_len, (double)rows * (double)cols));
  CHECK(need(env, fn, "bias", bias_len, (double)cols));
  int threads = threads_for((double)rows * (double)cols, GRAIN_MEMORY);
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int64_t r = 0; r < rows; r++) {
    float *row = x + r * cols;
    for (int64_t col = 0; col < cols; col++) row[col] += bias[col];
  }
  return NULL;
}

static napi_value js_sum_rows(napi_env env, napi_callback_info info) {
  const char *fn = "sumRows";
  napi_value argv[5];
  CHECK(get_args(env, info, 5, argv, fn));
  float *x, *out;
  size_t x_len, out_len;
  int64_t rows, cols;
  bool accumulate;
  CHECK(arg_f32(env, fn, argv[0], "x", &x, &x_len));
  CHECK(arg_count(env, fn, argv[1], "rows", &rows));
  CHECK(arg_count(env, fn, argv[2], "cols", &cols));
  CHECK(arg_f32(env, fn, argv[3], "out", &out, &out_len));
  CHECK(arg_bool(env, fn, argv[4], "accumulate", &accumulate));
  CHECK(need(env, fn, "x", x_len, (double)rows * (double)cols));
  CHECK(need(env, fn, "out", out_len, (double)cols));
  if (!accumulate) memset(out, 0, (size_t)cols * sizeof(float));
  int parts = threads_for((double)rows * (double)cols, GRAIN_MEMORY);
  if (parts == 1) {
    for (int64_t r = 0; r < rows; r++)
      for (int64_t col = 0; col < cols; col++) out[col] += x[r * cols + col];
    return NULL;
  }
  float *partial = calloc((size_t)parts * (size_t)cols, sizeof(float));
  if (partial == NULL) return throw_range(env, fn, "cols", "is too large (out of memory)"), NULL;
#pragma omp parallel for num_threads(parts) schedule(static, 1)
  for (int part = 0; part < parts; part++) {
    float *sum = partial + (size_t)part * cols;
    for (size_t r = part_begin(rows, part, parts); r < part_begin(rows, part + 1, parts); r++)
      for (int64_t col = 0; col < cols; col++) sum[col] += x[r * cols + col];
  }
  for (int part = 0; part < parts; part++)
    for (int64_t col = 0; col < cols; col++) out[col] += partial[(size_t)part * cols + col];
  free(partial);
  return NULL;
}

static napi_value js_add(napi_env env, napi_callback_info info) {
  const char *fn = "add";
  napi_value argv[4];
  CHECK(get_args(env, info, 4, argv, fn));
  float *a, *b, *out;
  size_t a_len, b_len, out_len;
  int64_t n;
  CHECK(arg_f32(env, fn, argv[0], "a", &a, &a_len));
  CHECK(arg_f32(env, fn, argv[1], "b", &b, &b_len));
  CHECK(arg_f32(env, fn, argv[2], "out", &out, &out_len));
  CHECK(arg_count(env, fn, argv[3], "n", &n));
  CHECK(need(env, fn, "a", a_len, (double)n));
  CHECK(need(env, fn, "b", b_len, (double)n));
  CHECK(need(env, fn, "out", out_len, (double)n));
  FOR_BLOCKS((size_t)n, GRAIN_MEMORY, for (size_t i = begin; i < end; i++) out[i] = a[i] + b[i]);
  return NULL;
}

static napi_value js_axpy(napi_env env, napi_callback_info info) {
  const char *fn = "axpy";
  napi_value argv[4];
  CHECK(get_args(env, info, 4, argv, fn));
  double alpha;
  float *x, *y;
  size_t x_len, y_len;
  int64_t n;
  CHECK(arg_number(env, fn, argv[0], "alpha", &alpha));
  CHECK(arg_f32(env, fn, argv[1], "x", &x, &x_len));
  CHECK(arg_f32(env, fn, argv[2], "y", &y, &y_len));
  CHECK(arg_count(env, fn, argv[3], "n", &n));
  CHECK(need(env, fn, "x", x_len, (double)n));
  CHECK(need(env, fn, "y", y_len, (double)n));
  float alpha_f = (float)alpha;
  FOR_BLOCKS((size_t)n, GRAIN_MEMORY, for (size_t i = begin; i < end; i++) y[i] += alpha_f * x[i]);
  return NULL;
}

static napi_value js_scale(napi_env env, napi_callback_info info) {
  const char *fn = "scale";
  napi_value argv[3];
  CHECK(get_args(env, info, 3, argv, fn));
  float *x;
  size_t x_len;
  double alpha;
  int64_t n;
  CHECK(arg_f32(env, fn, argv[0], "x", &x, &x_len));
  CHECK(arg_number(env, fn, argv[1], "alpha", &alpha));
  CHECK(arg_count(env, fn, argv[2], "n", &n));
  CHECK(need(env, fn, "x", x_len, (double)n));
  float alpha_f = (float)alpha;
  FOR_BLOCKS((size_t)n, GRAIN_MEMORY, for (size_t i = begin; i < end; i++) x[i] *= alpha_f);
  return NULL;
}

static napi_value js_sum_squares(napi_env env, napi_callback_info info) {
  const char *fn = "sumSquares";
  napi_value argv[2];
  CHECK(get_args(env, info, 2, argv, fn));
  float *x;
  size_t x_len;
  int64_t n;
  CHECK(arg_f32(env, fn, argv[0], "x", &x, &x_len));
  CHECK(arg_count(env, fn, argv[1], "n", &n));
  CHECK(need(env, fn, "x", x_len, (double)n));
  int parts = threads_for((double)n, GRAIN_MEMORY);
  double partial[parts];
#pragma omp parallel for num_threads(parts) schedule(static, 1)
  for (int part = 0; part < parts; part++) partial[part] = sum_squares_range(x, part_begin(n, part, parts), part_begin(n, part + 1, parts));
  double total = 0;
  for (int part = 0; part < parts; part++) total += partial[part];
  return make_number(env, total);
}

static bool arg_activation(napi_env env, const char *fn, napi_value value, int *kind) {
  int64_t code;
  if (!arg_int(env, fn, value, "kind", ACT_RELU, ACT_MISH, &code)) return false;
  *kind = (int)code;
  return true;
}

static napi_value js_activation(napi_env env, napi_callback_info info) {
  const char *fn = "activation";
  napi_value argv[4];
  CHECK(get_args(env, info, 4, argv, fn));
  int kind;
  float *x, *out;
  size_t x_len, out_len;
  int64_t n;
  CHECK(arg_activation(env, fn, argv[0], &kind));
  CHECK(arg_f32(env, fn, argv[1], "x", &x, &x_len));
  CHECK(arg_f32(env, fn, argv[2], "out", &out, &out_len));
  CHECK(arg_count(env, fn, argv[3], "n", &n));
  CHECK(need(env, fn, "x", x_len, (double)n));
  CHECK(need(env, fn, "out", out_len, (double)n));
  FOR_BLOCKS((size_t)n, kind == ACT_RELU ? GRAIN_MEMORY : GRAIN_COMPUTE, activation_range(kind, x, out, begin, end));
  return NULL;
}

static napi_value js_activation_backward(napi_env env, napi_callback_info info) {
  const char *fn = "activationBackward";
  napi_value argv[6];
  CHECK(get_args(env, info, 6, argv, fn));
  int kind;
  float *x, *grad_out, *grad_x;
  size_t x_len, grad_out_len, grad_x_len;
  int64_t n;
  bool accumulate;
  CHECK(arg_activation(env, fn, argv[0], &kind));
  CHECK(arg_f32(env, fn, argv[1], "x", &x, &x_len));
  CHECK(arg_f32(env, fn, argv[2], "gradOut", &grad_out, &grad_out_len));
  CHECK(arg_f32(env, fn, argv[3], "gradX", &grad_x, &grad_x_len));
  CHECK(arg_count(env, fn, argv[4], "n", &n));
  CHECK(arg_bool(env, fn, argv[5], "accumulate", &accumulate));
  CHECK(need(env, fn, "x", x_len, (double)n));
  CHECK(need(env, fn, "gradOut", grad_out_len, (double)n));
  CHECK(need(env, fn, "gradX", grad_x_len, (double)n));
  FOR_BLOCKS((size_t)n, kind == ACT_RELU ? GRAIN_MEMORY : GRAIN_COMPUTE,
             activation_backward_range(kind, x, grad_out, grad_x, accumulate, begin, end));
  return NULL;
}

/* A linear layer's bias and activation in one pass over its GEMM output: x[r, c] += bias[c]
   (x keeps the pre-activation for the backward pass), out[r, c] = f(x[r, c]). */
static napi_value js_bias_activation(napi_env env, napi_callback_info info) {
  const char *fn = "biasActivation";
  napi_value argv[6];
  CHECK(get_args(env, info, 6, argv, fn));
  int kind;
  float *x, *bias, *out;
  size_t x_len, bias_len, out_len;
  int64_t rows, cols;
  CHECK(arg_activation(env, fn, argv[0], &kind));
  CHECK(arg_f32(env, fn, argv[1], "x", &x, &x_len));
  CHECK(arg_f32(env, fn, argv[2], "bias", &bias, &bias_len));
  CHECK(arg_f32(env, fn, argv[3], "out", &out, &out_len));
  CHECK(arg_count(env, fn, argv[4], "rows", &rows));
  CHECK(arg_count(env, fn, argv[5], "cols", &cols));
  double n = (double)rows * (double)cols;
  CHECK(need(env, fn, "x", x_len, n));
  CHECK(need(env, fn, "bias", bias_len, (double)cols));
  CHECK(need(env, fn, "out", out_len, n));
  int threads = threads_for(n, kind == ACT_RELU ? GRAIN_MEMORY : GRAIN_COMPUTE);
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int64_t r = 0; r < rows; r++) {
    float *row = x + r * cols;
    for (int64_t c = 0; c < cols; c++) row[c] += bias[c];
    activation_range(kind, row, out + r * cols, 0, (size_t)cols);
  }
  return NULL;
}

/* The backward of biasActivation: gradX = f'(x) gradOut (overwritten) and biasGrad (+)= its
   column sums, in one pass; each thread sums a fixed block of rows, then the blocks are added
   in order, so the result depends on the thread count but never on scheduling. */
static napi_value js_activation_backward_bias(napi_env env, napi_callback_info info) {
  const char *fn = "activationBackwardBias";
  napi_value argv[8];
  CHECK(get_args(env, info, 8, argv, fn));
  int kind;
  float *x, *grad_out, *grad_x, *bias_grad;
  size_t x_len, grad_out_len, grad_x_len, bias_grad_len;
  int64_t rows, cols;
  bool accumulate;
  CHECK(arg_activation(env, fn, argv[0], &kind));
  CHECK(arg_f32(env, fn, argv[1], "x", &x, &x_len));
  CHECK(arg_f32(env, fn, argv[2], "gradOut", &grad_out, &grad_out_len));
  CHECK(arg_f32(env, fn, argv[3], "gradX", &grad_x, &grad_x_len));
  CHECK(arg_f32(env, fn, argv[4], "biasGrad", &bias_grad, &bias_grad_len));
  CHECK(arg_count(env, fn, argv[5], "rows", &rows));
  CHECK(arg_count(env, fn, argv[6], "cols", &cols));
  CHECK(arg_bool(env, fn, argv[7], "accumulate", &accumulate));
  double n = (double)rows * (double)cols;
  CHECK(need(env, fn, "x", x_len, n));
  CHECK(need(env, fn, "gradOut", grad_out_len, n));
  CHECK(need(env, fn, "gradX", grad_x_len, n));
  CHECK(need(env, fn, "biasGrad", bias_grad_len, (double)cols));
  int parts = threads_for(n, kind == ACT_RELU ? GRAIN_MEMORY : GRAIN_COMPUTE);
  float *partial = calloc((size_t)parts * (size_t)cols, sizeof(float));
  if (partial == NULL) return throw_range(env, fn, "cols", "is too large (out of memory)"), NULL;
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
  return NULL;
}

static napi_value js_dropout(napi_env env, napi_callback_info info) {
  const char *fn = "dropout";
  napi_value argv[5];
  CHECK(get_args(env, info, 5, argv, fn));
  float *x, *out;
  size_t x_len, out_len;
  int64_t n;
  double p;
  uint32_t seed;
  CHECK(arg_f32(env, fn, argv[0], "x", &x, &x_len));
  CHECK(arg_f32(env, fn, argv[1], "out", &out, &out_len));
  CHECK(arg_count(env, fn, argv[2], "n", &n));
  CHECK(arg_probability(env, fn, argv[3], "p", &p));
  CHECK(arg_seed(env, fn, argv[4], "seed", &seed));
  CHECK(need(env, fn, "x", x_len, (double)n));
  CHECK(need(env, fn, "out", out_len, (double)n));
  uint32_t threshold = keep_threshold(p);
  double keep_scale = 1.0 / (1.0 - p);
  FOR_BLOCKS((size_t)n, GRAIN_MEMORY, dropout_range(x, out, seed, threshold, keep_scale, begin, end));
  return NULL;
}

static napi_value js_dropout_backward(napi_env env, napi_callback_info info) {
  const char *fn = "dropoutBackward";
  napi_value argv[6];
  CHECK(get_args(env, info, 6, argv, fn));
  float *grad_out, *grad_x;
  size_t grad_out_len, grad_x_len;
  int64_t n;
  double p;
  uint32_t seed;
  bool accumulate;
  CHECK(arg_f32(env, fn, argv[0], "gradOut", &grad_out, &grad_out_len));
  CHECK(arg_f32(env, fn, argv[1], "gradX", &grad_x, &grad_x_len));
  CHECK(arg_count(env, fn, argv[2], "n", &n));
  CHECK(arg_probability(env, fn, argv[3], "p", &p));
  CHECK(arg_seed(env, fn, argv[4], "seed", &seed));
  CHECK(arg_bool(env, fn, argv[5], "accumulate", &accumulate));
  CHECK(need(env, fn, "gradOut", grad_out_len, (double)n));
  CHECK(need(env, fn, "gradX", grad_x_len, (double)n));
  uint32_t threshold = keep_threshold(p);
  double keep_scale = 1.0 / (1.0 - p);
  FOR_BLOCKS((size_t)n, GRAIN_MEMORY,
             dropout_backward_range(grad_out, grad_x, seed, threshold, keep_scale, accumulate, begin, end));
  return NULL;
}

/* ------------------------------------------------------------------------------------------ */
/* LayerNorm                                                                                   */

static napi_value js_layer_norm(napi_env env, napi_callback_info info) {
  const char *fn = "layerNorm";
  napi_value argv[9];
  CHECK(get_args(env, info, 9, argv, fn));
  float *x, *gamma, *beta, *out, *mean, *rstd;
  size_t x_len, gamma_len, beta_len, out_len, mean_len, rstd_len;
  int64_t rows, cols;
  double eps;
  CHECK(arg_f32(env, fn, argv[0], "x", &x, &x_len));
  CHECK(arg_f32(env, fn, argv[1], "gamma", &gamma, &gamma_len));
  CHECK(arg_f32(env, fn, argv[2], "beta", &beta, &beta_len));
  CHECK(arg_f32(env, fn, argv[3], "out", &out, &out_len));
  CHECK(arg_f32(env, fn, argv[4], "mean", &mean, &mean_len));
  CHECK(arg_f32(env, fn, argv[5], "rstd", &rstd, &rstd_len));
  CHECK(arg_count(env, fn, argv[6], "rows", &rows));
  CHECK(arg_count(env, fn, argv[7], "cols", &cols));
  CHECK(arg_number(env, fn, argv[8], "eps", &eps));
  double size = (double)rows * (double)cols;
  CHECK(need(env, fn, "x", x_len, size));
  CHECK(need(env, fn, "gamma", gamma_len, (double)cols));
  CHECK(need(env, fn, "beta", beta_len, (double)cols));
  CHECK(need(env, fn, "out", out_len, size));
  CHECK(need(env, fn, "mean", mean_len, (double)rows));
  CHECK(need(env, fn, "rstd", rstd_len, (double)rows));
  if (cols == 0) return NULL;
  int threads = threads_for(size, GRAIN_MEMORY / 2);
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
  return NULL;
}

static napi_value js_layer_norm_backward(napi_env env, napi_callback_info info) {
  const char *fn = "layerNormBackward";
  napi_value argv[11];
  CHECK(get_args(env, info, 11, argv, fn));
  float *x, *gamma, *mean, *rstd, *grad_out, *grad_x, *grad_gamma, *grad_beta;
  size_t x_len, gamma_len, mean_len, rstd_len, grad_out_len, grad_x_len, grad_gamma_len, grad_beta_len;
  int64_t rows, cols;
  bool accumulate;
  CHECK(arg_f32(env, fn, argv[0], "x", &x, &x_len));
  CHECK(arg_f32(env, fn, argv[1], "gamma", &gamma, &gamma_len));
  CHECK(arg_f32(env, fn, argv[2], "mean", &mean, &mean_len));
  CHECK(arg_f32(env, fn, argv[3], "rstd", &rstd, &rstd_len));
  CHECK(arg_f32(env, fn, argv[4], "gradOut", &grad_out, &grad_out_len));
  CHECK(arg_f32(env, fn, argv[5], "gradX", &grad_x, &grad_x_len));
  CHECK(arg_f32(env, fn, argv[6], "gradGamma", &grad_gamma, &grad_gamma_len));
  CHECK(arg_f32(env, fn, argv[7], "gradBeta", &grad_beta, &grad_beta_len));
  CHECK(arg_count(env, fn, argv[8], "rows", &rows));
  CHECK(arg_count(env, fn, argv[9], "cols", &cols));
  CHECK(arg_bool(env, fn, argv[10], "accumulate", &accumulate));
  double size = (double)rows * (double)cols;
  CHECK(need(env, fn, "x", x_len, size));
  CHECK(need(env, fn, "gamma", gamma_len, (double)cols));
  CHECK(need(env, fn, "mean", mean_len, (double)rows));
  CHECK(need(env, fn, "rstd", rstd_len, (double)rows));
  CHECK(need(env, fn, "gradOut", grad_out_len, size));
  CHECK(need(env, fn, "gradX", grad_x_len, size));
  CHECK(need(env, fn, "gradGamma", grad_gamma_len, (double)cols));
  CHECK(need(env, fn, "gradBeta", grad_beta_len, (double)cols));
  if (cols == 0 || rows == 0) return NULL;
  int parts = threads_for(size, GRAIN_MEMORY / 2);
  /* per-part gamma/beta gradients, summed in part order afterwards: deterministic */
  float *partial = calloc((size_t)parts * 2 * (size_t)cols, sizeof(float));
  float *scratch = malloc((size_t)parts * (size_t)cols * sizeof(float));
  if (partial == NULL || scratch == NULL) {
    free(partial);
    free(scratch);
    return throw_range(env, fn, "cols", "is too large (out of memory)"), NULL;
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
  return NULL;
}

/* ------------------------------------------------------------------------------------------ */
/* attention: per (batch, head) sgemm on strided views of qkv, softmax and dropout in between  */

typedef struct {
  int64_t batch, tokens, heads, head_dim;
  bool causal;
  double dropout;
  uint32_t seed;
} AttentionShape;

static bool arg_attention_shape(napi_env env, const char *fn, napi_value *argv, AttentionShape *s) {
  return arg_dim(env, fn, argv[0], "batch", &s->batch) && arg_dim(env, fn, argv[1], "tokens", &s->tokens) &&
         arg_dim(env, fn, argv[2], "heads", &s->heads) && arg_int(env, fn, argv[3], "headDim", 1, MAX_DIM, &s->head_dim) &&
         arg_bool(env, fn, argv[4], "causal", &s->causal) && arg_probability(env, fn, argv[5], "dropout", &s->dropout) &&
         arg_seed(env, fn, argv[6], "seed", &s->seed);
}

/* Writes the dropout-scaled probabilities of one (batch, head) block; index as in backend.ts. */
VECTOR_CLONES
static void apply_attention_dropout(const float *probs, float *dropped, int64_t count, uint64_t first_index,
                                    uint32_t seed, uint32_t threshold, double keep_scale) {
  for (int64_t e = 0; e < count; e++) {
    float scaled = (float)((double)probs[e] * keep_scale);
    dropped[e] = dropout_bits(seed, (uint32_t)(first_index + (uint64_t)e)) >= threshold ? scaled : 0.0f;
  }
}

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

static napi_value js_attention(napi_env env, napi_callback_info info) {
  const char *fn = "attention";
  napi_value argv[11];
  CHECK(get_args(env, info, 11, argv, fn));
  float *qkv, *key_mask, *probs, *out;
  size_t qkv_len, key_mask_len, probs_len, out_len;
  AttentionShape s;
  CHECK(arg_f32(env, fn, argv[0], "qkv", &qkv, &qkv_len));
  CHECK(arg_f32_or_null(env, fn, argv[1], "keyMask", &key_mask, &key_mask_len));
  CHECK(arg_f32(env, fn, argv[2], "probs", &probs, &probs_len));
  CHECK(arg_f32(env, fn, argv[3], "out", &out, &out_len));
  CHECK(arg_attention_shape(env, fn, argv + 4, &s));
  const int64_t T = s.tokens, D = s.head_dim, H = s.heads, C = H * D, row_stride = 3 * C;
  double rows = (double)s.batch * (double)T;
  if ((double)row_stride > MAX_DIM) return throw_range(env, fn, "heads * headDim", "is too large"), NULL;
  CHECK(need(env, fn, "qkv", qkv_len, rows * (double)row_stride));
  if (key_mask != NULL) CHECK(need(env, fn, "keyMask", key_mask_len, rows));
  CHECK(need(env, fn, "probs", probs_len, (double)s.batch * (double)H * (double)T * (double)T));
  CHECK(need(env, fn, "out", out_len, rows * (double)C));
  int64_t blocks = s.batch * H;
  if (blocks == 0 || T == 0) return NULL;

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
  openblas_set_num_threads(g_threads);
  if (failed) return throw_range(env, fn, "tokens", "is too large (out of memory)"), NULL;
  return NULL;
}

static napi_value js_attention_backward(napi_env env, napi_callback_info info) {
  const char *fn = "attentionBackward";
  napi_value argv[12];
  CHECK(get_args(env, info, 12, argv, fn));
  float *qkv, *probs, *grad_out, *grad_qkv;
  size_t qkv_len, probs_len, grad_out_len, grad_qkv_len;
  AttentionShape s;
  bool accumulate;
  CHECK(arg_f32(env, fn, argv[0], "qkv", &qkv, &qkv_len));
  CHECK(arg_f32(env, fn, argv[1], "probs", &probs, &probs_len));
  CHECK(arg_f32(env, fn, argv[2], "gradOut", &grad_out, &grad_out_len));
  CHECK(arg_f32(env, fn, argv[3], "gradQkv", &grad_qkv, &grad_qkv_len));
  CHECK(arg_attention_shape(env, fn, argv + 4, &s));
  CHECK(arg_bool(env, fn, argv[11], "accumulate", &accumulate));
  const int64_t T = s.tokens, D = s.head_dim, H = s.heads, C = H * D, row_stride = 3 * C;
  double rows = (double)s.batch * (double)T;
  if ((double)row_stride > MAX_DIM) return throw_range(env, fn, "heads * headDim", "is too large"), NULL;
  CHECK(need(env, fn, "qkv", qkv_len, rows * (double)row_stride));
  CHECK(need(env, fn, "probs", probs_len, (double)s.batch * (double)H * (double)T * (double)T));
  CHECK(need(env, fn, "gradOut", grad_out_len, rows * (double)C));
  CHECK(need(env, fn, "gradQkv", grad_qkv_len, rows * (double)row_stride));
  int64_t blocks = s.batch * H;
  if (blocks == 0 || T == 0) return NULL;

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
  openblas_set_num_threads(g_threads);
  if (failed) return throw_range(env, fn, "tokens", "is too large (out of memory)"), NULL;
  return NULL;
}

/* ------------------------------------------------------------------------------------------ */
/* embedding rows                                                                              */

static bool check_indices(napi_env env, const char *fn, const int32_t *index, size_t count, double table_rows) {
  for (size_t r = 0; r < count; r++) {
    if (index[r] < 0 || (double)index[r] >= table_rows) {
      char name[48], detail[96];
      snprintf(name, sizeof name, "index[%zu]", r);
      snprintf(detail, sizeof detail, "= %d is outside the table's %.0f rows", index[r], table_rows);
      return throw_range(env, fn, name, detail);
    }
  }
  return true;
}

static napi_value js_gather_rows(napi_env env, napi_callback_info info) {
  const char *fn = "gatherRows";
  napi_value argv[4];
  CHECK(get_args(env, info, 4, argv, fn));
  float *table, *out;
  int32_t *index;
  size_t table_len, index_len, out_len;
  int64_t cols;
  CHECK(arg_f32(env, fn, argv[0], "table", &table, &table_len));
  CHECK(arg_i32(env, fn, argv[1], "index", &index, &index_len));
  CHECK(arg_f32(env, fn, argv[2], "out", &out, &out_len));
  CHECK(arg_count(env, fn, argv[3], "cols", &cols));
  CHECK(need(env, fn, "out", out_len, (double)index_len * (double)cols));
  if (cols == 0) return NULL;
  CHECK(check_indices(env, fn, index, index_len, floor((double)table_len / (double)cols)));
  int threads = threads_for((double)index_len * (double)cols, GRAIN_MEMORY);
#pragma omp parallel for num_threads(threads) schedule(static)
  for (size_t r = 0; r < index_len; r++) memcpy(out + r * cols, table + (size_t)index[r] * cols, (size_t)cols * sizeof(float));
  return NULL;
}

static napi_value js_scatter_add_rows(napi_env env, napi_callback_info info) {
  const char *fn = "scatterAddRows";
  napi_value argv[4];
  CHECK(get_args(env, info, 4, argv, fn));
  float *grad_out, *grad_table;
  int32_t *index;
  size_t grad_out_len, index_len, grad_table_len;
  int64_t cols;
  CHECK(arg_f32(env, fn, argv[0], "gradOut", &grad_out, &grad_out_len));
  CHECK(arg_i32(env, fn, argv[1], "index", &index, &index_len));
  CHECK(arg_f32(env, fn, argv[2], "gradTable", &grad_table, &grad_table_len));
  CHECK(arg_count(env, fn, argv[3], "cols", &cols));
  CHECK(need(env, fn, "gradOut", grad_out_len, (double)index_len * (double)cols));
  if (cols == 0) return NULL;
  CHECK(check_indices(env, fn, index, index_len, floor((double)grad_table_len / (double)cols)));
  /* indices repeat, so threads split the columns, never the rows: no two write the same element */
  int parts = threads_for((double)index_len * (double)cols, GRAIN_MEMORY);
  if (parts > cols / 16) parts = cols / 16 > 1 ? (int)(cols / 16) : 1;
#pragma omp parallel for num_threads(parts) schedule(static, 1)
  for (int part = 0; part < parts; part++) {
    size_t first = part_begin(cols, part, parts), last = part_begin(cols, part + 1, parts);
    for (size_t r = 0; r < index_len; r++) {
      float *dst = grad_table + (size_t)index[r] * cols;
      const float *src = grad_out + r * cols;
      for (size_t col = first; col < last; col++) dst[col] += src[col];
    }
  }
  return NULL;
}

/* ------------------------------------------------------------------------------------------ */
/* optimizers: double arithmetic per element, as the TypeScript reference does                 */

typedef struct {
  double lr, beta1, beta2, eps, weight_decay, bias_correction1, bias_correction2;
  bool decoupled;
} AdamStep;

static bool arg_adam_step(napi_env env, const char *fn, napi_value *argv, bool has_decoupled, AdamStep *s) {
  if (!(arg_number(env, fn, argv[0], "lr", &s->lr) && arg_number(env, fn, argv[1], "beta1", &s->beta1) &&
        arg_number(env, fn, argv[2], "beta2", &s->beta2) && arg_number(env, fn, argv[3], "eps", &s->eps) &&
        arg_number(env, fn, argv[4], "weightDecay", &s->weight_decay)))
    return false;
  int next = 5;
  s->decoupled = true;
  if (has_decoupled && !arg_bool(env, fn, argv[next++], "decoupled", &s->decoupled)) return false;
  return arg_number(env, fn, argv[next], "biasCorrection1", &s->bias_correction1) &&
         arg_number(env, fn, argv[next + 1], "biasCorrection2", &s->bias_correction2);
}

/* updates m and v (stored as float, then read back as the reference does) and returns m_hat / (sqrt(v_hat) + eps) */
static inline double adam_direction(double g, float *m, float *v, const AdamStep *s, double inv_sqrt_bc2) {
  float mi = (float)(s->beta1 * (double)*m + (1 - s->beta1) * g);
  float vi = (float)(s->beta2 * (double)*v + (1 - s->beta2) * g * g);
  *m = mi;
  *v = vi;
  double denom = sqrt((double)vi) * inv_sqrt_bc2 + s->eps;
  return (double)mi / s->bias_correction1 / denom;
}

static void adam_range(float *param, const float *grad, float *m, float *v, const AdamStep *s, size_t begin, size_t end) {
  double decay = s->decoupled ? 1 - s->lr * s->weight_decay : 1;
  double l2 = s->decoupled ? 0 : s->weight_decay;
  double inv_sqrt_bc2 = 1.0 / sqrt(s->bias_correction2);
  for (size_t i = begin; i < end; i++) {
    double p = param[i];
    double g = (double)grad[i] + l2 * p;
    double direction = adam_direction(g, m + i, v + i, s, inv_sqrt_bc2);
    param[i] = (float)(p * decay - s->lr * direction);
  }
}

static bool arg_optimizer_arrays(napi_env env, const char *fn, napi_value *argv, int array_count, float **arrays,
                                 int64_t *n) {
  static const char *names[] = {"param", "grad", "m", "v", "update"};
  size_t lengths[5];
  for (int a = 0; a < array_count; a++)
    if (!arg_f32(env, fn, argv[a], names[a], &arrays[a], &lengths[a])) return false;
  if (!arg_count(env, fn, argv[array_count], "n", n)) return false;
  for (int a = 0; a < array_count; a++)
    if (!need(env, fn, names[a], lengths[a], (double)*n)) return false;
  return true;
}

static napi_value js_adam_update(napi_env env, napi_callback_info info) {
  const char *fn = "adamUpdate";
  napi_value argv[13];
  CHECK(get_args(env, info, 13, argv, fn));
  float *arrays[4];
  int64_t n;
  AdamStep s;
  CHECK(arg_optimizer_arrays(env, fn, argv, 4, arrays, &n));
  CHECK(arg_adam_step(env, fn, argv + 5, true, &s));
  FOR_BLOCKS((size_t)n, GRAIN_MEMORY / 4, adam_range(arrays[0], arrays[1], arrays[2], arrays[3], &s, begin, end));
  return NULL;
}

static napi_value js_lamb_update(napi_env env, napi_callback_info info) {
  const char *fn = "lambUpdate";
  napi_value argv[13];
  CHECK(get_args(env, info, 13, argv, fn));
  float *arrays[5];
  int64_t n;
  AdamStep s;
  CHECK(arg_optimizer_arrays(env, fn, argv, 5, arrays, &n));
  CHECK(arg_adam_step(env, fn, argv + 6, false, &s));
  float *param = arrays[0], *grad = arrays[1], *m = arrays[2], *v = arrays[3], *update = arrays[4];
  double inv_sqrt_bc2 = 1.0 / sqrt(s.bias_correction2);
  int parts = threads_for((double)n, GRAIN_MEMORY / 4);
  double param_sq[parts], update_sq[parts];
#pragma omp parallel num_threads(parts)
  {
#pragma omp for schedule(static, 1)
    for (int part = 0; part < parts; part++) {
      double p_sum = 0, u_sum = 0;
      for (size_t i = part_begin(n, part, parts); i < part_begin(n, part + 1, parts); i++) {
        double p = param[i];
        double u = adam_direction(grad[i], m + i, v + i, &s, inv_sqrt_bc2) + s.weight_decay * p;
        update[i] = (float)u;
        p_sum += p * p;
        u_sum += u * u;
      }
      param_sq[part] = p_sum;
      update_sq[part] = u_sum;
    }
#pragma omp single
    {
      double param_norm = 0, update_norm = 0;
      for (int part = 0; part < parts; part++) {
        param_norm += param_sq[part];
        update_norm += update_sq[part];
      }
      param_norm = sqrt(param_norm);
      update_norm = sqrt(update_norm);
      param_sq[0] = param_norm > 0 && update_norm > 0 ? param_norm / update_norm : 1;
    }
    double step_size = s.lr * param_sq[0];
#pragma omp for schedule(static)
    for (int64_t i = 0; i < n; i++) param[i] = (float)((double)param[i] - step_size * (double)update[i]);
  }
  return NULL;
}

/* ------------------------------------------------------------------------------------------ */
/* threads and library information                                                             */

static napi_value js_set_threads(napi_env env, napi_callback_info info) {
  const char *fn = "setThreads";
  napi_value argv[1];
  CHECK(get_args(env, info, 1, argv, fn));
  int64_t n;
  CHECK(arg_int(env, fn, argv[0], "n", 1, 1024, &n));
  g_threads = (int)n;
  openblas_set_num_threads(g_threads);
  return NULL;
}

static napi_value js_threads(napi_env env, napi_callback_info info) {
  return make_number(env, g_threads);
}

static napi_value js_blas_info(napi_env env, napi_callback_info info) {
  /* openblas_get_config() starts "OpenBLAS <version> ..."; keep those two words */
  const char *config = openblas_get_config();
  int name_and_version = 0, words = 0;
  while (config[name_and_version] != '\0') {
    if (config[name_and_version] == ' ' && ++words == 2) break;
    name_and_version++;
  }
  const char *parallel = openblas_get_parallel() == 2 ? "openmp" : openblas_get_parallel() == 1 ? "pthreads" : "serial";
  char text[256];
  snprintf(text, sizeof text, "%.*s core=%s threads=%d blas-threading=%s", name_and_version, config,
           openblas_get_corename(), g_threads, parallel);
  napi_value result;
  napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &result);
  return result;
}

static napi_value init(napi_env env, napi_value exports) {
  long online = sysconf(_SC_NPROCESSORS_ONLN);
  g_threads = online > 0 ? (int)online : 1;
  openblas_set_num_threads(g_threads);
  napi_property_descriptor functions[] = {
      {"gemm", NULL, js_gemm, NULL, NULL, NULL, napi_enumerable, NULL},
      {"gemmPair", NULL, js_gemm_pair, NULL, NULL, NULL, napi_enumerable, NULL},
      {"biasActivation", NULL, js_bias_activation, NULL, NULL, NULL, napi_enumerable, NULL},
      {"activationBackwardBias", NULL, js_activation_backward_bias, NULL, NULL, NULL, napi_enumerable, NULL},
      {"addBiasRows", NULL, js_add_bias_rows, NULL, NULL, NULL, napi_enumerable, NULL},
      {"sumRows", NULL, js_sum_rows, NULL, NULL, NULL, napi_enumerable, NULL},
      {"add", NULL, js_add, NULL, NULL, NULL, napi_enumerable, NULL},
      {"axpy", NULL, js_axpy, NULL, NULL, NULL, napi_enumerable, NULL},
      {"scale", NULL, js_scale, NULL, NULL, NULL, napi_enumerable, NULL},
      {"sumSquares", NULL, js_sum_squares, NULL, NULL, NULL, napi_enumerable, NULL},
      {"activation", NULL, js_activation, NULL, NULL, NULL, napi_enumerable, NULL},
      {"activationBackward", NULL, js_activation_backward, NULL, NULL, NULL, napi_enumerable, NULL},
      {"dropout", NULL, js_dropout, NULL, NULL, NULL, napi_enumerable, NULL},
      {"dropoutBackward", NULL, js_dropout_backward, NULL, NULL, NULL, napi_enumerable, NULL},
      {"layerNorm", NULL, js_layer_norm, NULL, NULL, NULL, napi_enumerable, NULL},
      {"layerNormBackward", NULL, js_layer_norm_backward, NULL, NULL, NULL, napi_enumerable, NULL},
      {"attention", NULL, js_attention, NULL, NULL, NULL, napi_enumerable, NULL},
      {"attentionBackward", NULL, js_attention_backward, NULL, NULL, NULL, napi_enumerable, NULL},
      {"gatherRows", NULL, js_gather_rows, NULL, NULL, NULL, napi_enumerable, NULL},
      {"scatterAddRows", NULL, js_scatter_add_rows, NULL, NULL, NULL, napi_enumerable, NULL},
      {"adamUpdate", NULL, js_adam_update, NULL, NULL, NULL, napi_enumerable, NULL},
      {"lambUpdate", NULL, js_lamb_update, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setThreads", NULL, js_set_threads, NULL, NULL, NULL, napi_enumerable, NULL},
      {"threads", NULL, js_threads, NULL, NULL, NULL, napi_enumerable, NULL},
      {"blasInfo", NULL, js_blas_info, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof functions / sizeof functions[0], functions);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
