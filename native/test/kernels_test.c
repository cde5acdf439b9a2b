/*
 * The kernels of native/kernels/ without Node: each against a plain reference loop in double
 * (or, where the kernel promises bit-identical results, in the same float arithmetic), on a few
 * shapes with odd sizes, at 1, 2 and 3 threads so that the threaded paths and uneven parts run.
 *
 * Build with every .c file of native/kernels/, -Inative/kernels, -fopenmp and -lopenblas -lm, then
 * run (test/engine/native-c-kernels.test.ts does both; binding.gyp has the flags).
 * Prints one line per failed check and a summary; exits 1 when any check failed. It also runs
 * clean under -fsanitize=address,undefined (with -O1 -g), which finds reads past an array end.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"

static int checks, failures;
static char context[160];

/* ---- helpers ------------------------------------------------------------------------------ */

static uint32_t random_state = 12345;

/* uniform in [-1, 1), from a fixed xorshift stream so that failures reproduce */
static float uniform(void) {
  random_state ^= random_state << 13;
  random_state ^= random_state >> 17;
  random_state ^= random_state << 5;
  return (float)((random_state >> 8) * (2.0 / 16777216.0) - 1.0);
}

static float *random_floats(size_t n, float scale) {
  float *x = malloc((n > 0 ? n : 1) * sizeof(float));
  for (size_t i = 0; i < n; i++) x[i] = scale * uniform();
  return x;
}

static float *filled(size_t n, float value) {
  float *x = malloc((n > 0 ? n : 1) * sizeof(float));
  for (size_t i = 0; i < n; i++) x[i] = value;
  return x;
}

static float *copy_of(const float *x, size_t n) {
  float *y = malloc((n > 0 ? n : 1) * sizeof(float));
  memcpy(y, x, n * sizeof(float));
  return y;
}

static double *zeros(size_t n) { return calloc(n > 0 ? n : 1, sizeof(double)); }

/* got[i] within abs_tol + rel_tol |want[i]| of want[i]; NaN matches only NaN. Reports the first miss. */
static void expect_close(const char *what, const float *got, const double *want, size_t n, double abs_tol, double rel_tol) {
  checks++;
  for (size_t i = 0; i < n; i++) {
    bool both_nan = isnan(got[i]) && isnan(want[i]);
    if (both_nan || fabs((double)got[i] - want[i]) <= abs_tol + rel_tol * fabs(want[i])) continue;
    failures++;
    printf("FAIL %s: %s[%zu] = %.9g, want %.9g\n", context, what, i, (double)got[i], want[i]);
    return;
  }
}

/* bit for bit (the kernel promises the reference's exact float arithmetic) */
static void expect_equal(const char *what, const float *got, const float *want, size_t n) {
  checks++;
  for (size_t i = 0; i < n; i++) {
    if (memcmp(&got[i], &want[i], sizeof(float)) == 0) continue;
    failures++;
    printf("FAIL %s: %s[%zu] = %.9g, want %.9g (bit-identical)\n", context, what, i, (double)got[i], (double)want[i]);
    return;
  }
}

static void expect_true(const char *what, bool condition) {
  checks++;
  if (condition) return;
  failures++;
  printf("FAIL %s: %s\n", context, what);
}

/* ---- GEMM --------------------------------------------------------------------------------- */

/* C = alpha op(A) op(B) + beta C in double, one product */
static void reference_gemm(const StitchGemm *g, const float *a, const float *b, const float *c0, double *want) {
  for (int64_t i = 0; i < g->m; i++)
    for (int64_t j = 0; j < g->n; j++) {
      double total = 0;
      if (g->k > 0 && g->alpha != 0)
        for (int64_t p = 0; p < g->k; p++) {
          double x = g->trans_a ? a[p * g->lda + i] : a[i * g->lda + p];
          double y = g->trans_b ? b[j * g->ldb + p] : b[p * g->ldb + j];
          total += x * y;
        }
      double old = g->beta == 0 ? 0 : g->beta * c0[i * g->ldc + j];
      want[i * g->ldc + j] = g->alpha * total + old;
    }
}

/* Runs one (possibly batched) product with padded leading dimensions against the reference. */
static void check_gemm(int64_t m, int64_t n, int64_t k, bool trans_a, bool trans_b, double alpha, double beta, int64_t count) {
  StitchGemm g = {.trans_a = trans_a, .trans_b = trans_b, .m = m, .n = n, .k = k, .alpha = alpha, .beta = beta, .count = count};
  g.lda = (trans_a ? m : k) + 3;
  g.ldb = (trans_b ? k : n) + 1;
  g.ldc = n + 2;
  g.stride_a = (trans_a ? k : m) * g.lda + 5;
  g.stride_b = (trans_b ? n : k) * g.ldb;
  g.stride_c = m * g.ldc + 1;
  size_t a_size = (size_t)(g.stride_a * count), b_size = (size_t)(g.stride_b * count), c_size = (size_t)(g.stride_c * count);
  float *a = random_floats(a_size, 1), *b = random_floats(b_size, 1), *c = random_floats(c_size, 1);
  /* beta = 0 must overwrite whatever C held, NaN included */
  if (beta == 0)
    for (size_t i = 0; i < c_size; i++) c[i] = NAN;
  double *want = zeros(c_size);
  for (int64_t i = 0; i < count; i++) {
    StitchGemm one = g;
    reference_gemm(&one, a + i * g.stride_a, b + i * g.stride_b, c + i * g.stride_c, want + i * g.stride_c);
  }
  /* elements between the views must stay as they were */
  for (size_t i = 0; i < c_size; i++) {
    int64_t within = (int64_t)(i % (size_t)g.stride_c);
    if (within >= m * g.ldc || within % g.ldc >= n) want[i] = c[i];
  }
  g.a = a;
  g.b = b;
  g.c = c;
  stitch_gemm(&g);
  snprintf(context + strlen(context), sizeof context - strlen(context), " gemm %lldx%lldx%lld%s%s alpha=%g beta=%g count=%lld",
           (long long)m, (long long)n, (long long)k, trans_a ? " transA" : "", trans_b ? " transB" : "", alpha, beta, (long long)count);
  /* float rounding grows with the k products summed */
  expect_close("C", c, want, c_size, 2e-6 * (double)(k > 0 ? k : 1), 1e-5);
  free(a), free(b), free(c), free(want);
}

static void test_gemm(int threads) {
  static const int64_t shapes[][3] = {{1, 1, 1}, {7, 5, 3}, {33, 17, 9}, {3, 64, 130}, {5, 4, 0}};
  for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
    for (int t = 0; t < 4; t++) {
      snprintf(context, sizeof context, "threads=%d", threads);
      check_gemm(shapes[s][0], shapes[s][1], shapes[s][2], t & 1, t & 2, 0.75, t == 3 ? 0.5 : 0, 1);
    }
  /* alpha = 0 reads neither A nor B: C = beta C */
  snprintf(context, sizeof context, "threads=%d", threads);
  check_gemm(6, 7, 5, false, false, 0, 2, 1);
  /* batches: a few odd ones, and 64^3 products, which run one per thread */
  snprintf(context, sizeof context, "threads=%d", threads);
  check_gemm(9, 11, 13, true, false, 1, 1, 3);
  snprintf(context, sizeof context, "threads=%d", threads);
  check_gemm(64, 64, 64, false, true, 1, 0, 5);
  /* above 192 Mflop one product is cut into blocks of rows (m >= n) or of columns, each with
     A or B stored either way */
  if (threads == 2)
    for (int t = 0; t < 4; t++) {
      snprintf(context, sizeof context, "threads=%d", threads);
      if (t < 2) check_gemm(577, 289, 640, t == 1, false, 1, 0, 1);
      else check_gemm(289, 577, 640, false, t == 3, 1, 0.5, 1);
    }

  /* a pair of products large enough to run side by side, and a small pair */
  static const int64_t pairs[][6] = {{96, 80, 72, 72, 96, 80}, {3, 5, 7, 7, 3, 5}};
  for (int p = 0; p < 2; p++) {
    snprintf(context, sizeof context, "threads=%d gemmPair %lldx%lldx%lld", threads, (long long)pairs[p][0],
             (long long)pairs[p][1], (long long)pairs[p][2]);
    StitchGemm first = {.m = pairs[p][0], .n = pairs[p][1], .k = pairs[p][2], .alpha = 1, .beta = 0, .count = 1};
    StitchGemm second = {.trans_a = true, .m = pairs[p][3], .n = pairs[p][4], .k = pairs[p][5], .alpha = 1, .beta = 1, .count = 1};
    first.lda = first.k, first.ldb = first.n, first.ldc = first.n;
    second.lda = second.m, second.ldb = second.n, second.ldc = second.n;
    float *a1 = random_floats((size_t)(first.m * first.k), 1), *b1 = random_floats((size_t)(first.k * first.n), 1);
    float *c1 = filled((size_t)(first.m * first.n), NAN);
    float *a2 = random_floats((size_t)(second.k * second.m), 1), *b2 = random_floats((size_t)(second.k * second.n), 1);
    float *c2 = random_floats((size_t)(second.m * second.n), 1);
    double *want1 = zeros((size_t)(first.m * first.n)), *want2 = zeros((size_t)(second.m * second.n));
    reference_gemm(&first, a1, b1, c1, want1);
    reference_gemm(&second, a2, b2, c2, want2);
    first.a = a1, first.b = b1, first.c = c1;
    second.a = a2, second.b = b2, second.c = c2;
    stitch_gemm_pair(&first, &second);
    expect_close("C1", c1, want1, (size_t)(first.m * first.n), 1e-5, 1e-4);
    expect_close("C2", c2, want2, (size_t)(second.m * second.n), 1e-5, 1e-4);
    free(a1), free(b1), free(c1), free(a2), free(b2), free(c2), free(want1), free(want2);
  }

  snprintf(context, sizeof context, "gemm extent");
  StitchGemm shape = {.trans_a = true, .m = 3, .n = 4, .k = 5, .lda = 6, .ldb = 4, .ldc = 7, .alpha = 1, .count = 2,
                      .stride_a = 40, .stride_b = 20, .stride_c = 30};
  StitchGemmExtent extent;
  stitch_gemm_extent(&shape, &extent);
  expect_true("min_lda = m when A is transposed", extent.min_lda == 3);
  expect_true("min_ldb = n", extent.min_ldb == 4);
  expect_true("min_ldc = n", extent.min_ldc == 4);
  expect_true("A spans (k - 1) lda + m, then one stride", extent.a_elements == 4 * 6 + 3 + 40);
  expect_true("C spans (m - 1) ldc + n, then one stride", extent.c_elements == 2 * 7 + 4 + 30);
  shape.alpha = 0;
  stitch_gemm_extent(&shape, &extent);
  expect_true("alpha = 0 reads no A", extent.a_elements == 0 && extent.b_elements == 0);
}

/* ---- element-wise kernels and reductions -------------------------------------------------- */

static void test_elementwise(int threads) {
  static const int64_t sizes[] = {1, 7, 100003};
  for (size_t s = 0; s < 3; s++) {
    int64_t n = sizes[s];
    snprintf(context, sizeof context, "threads=%d n=%lld", threads, (long long)n);
    float *a = random_floats((size_t)n, 2), *b = random_floats((size_t)n, 2), *out = filled((size_t)n, NAN);
    float *want = malloc((size_t)n * sizeof(float));
    for (int64_t i = 0; i < n; i++) want[i] = a[i] + b[i];
    stitch_add(a, b, out, n);
    expect_equal("add", out, want, (size_t)n);

    float *y = copy_of(b, (size_t)n);
    for (int64_t i = 0; i < n; i++) want[i] = b[i] + (float)-1.3 * a[i];
    stitch_axpy(-1.3, a, y, n);
    expect_equal("axpy", y, want, (size_t)n);

    for (int64_t i = 0; i < n; i++) want[i] = y[i] * (float)0.7;
    stitch_scale(y, 0.7, n);
    expect_equal("scale", y, want, (size_t)n);

    double squares = 0;
    for (int64_t i = 0; i < n; i++) squares += (double)a[i] * (double)a[i];
    double got = stitch_sum_squares(a, n);
    checks++;
    if (fabs(got - squares) > 1e-12 * squares) {
      failures++;
      printf("FAIL %s: sumSquares = %.17g, want %.17g\n", context, got, squares);
    }
    free(a), free(b), free(out), free(want), free(y);
  }

  static const int64_t shapes[][2] = {{1, 1}, {5, 3}, {301, 257}};
  for (size_t s = 0; s < 3; s++) {
    int64_t rows = shapes[s][0], cols = shapes[s][1];
    size_t size = (size_t)(rows * cols);
    snprintf(context, sizeof context, "threads=%d rows=%lld cols=%lld", threads, (long long)rows, (long long)cols);
    float *x = random_floats(size, 1), *bias = random_floats((size_t)cols, 1);
    float *with_bias = copy_of(x, size), *want = malloc(size * sizeof(float));
    for (size_t i = 0; i < size; i++) want[i] = x[i] + bias[i % (size_t)cols];
    stitch_add_bias_rows(with_bias, bias, rows, cols);
    expect_equal("addBiasRows", with_bias, want, size);

    for (int accumulate = 0; accumulate < 2; accumulate++) {
      float *out = filled((size_t)cols, accumulate ? 0.5f : NAN);
      double *sums = zeros((size_t)cols);
      for (int64_t c = 0; c < cols; c++) {
        sums[c] = accumulate ? 0.5 : 0;
        for (int64_t r = 0; r < rows; r++) sums[c] += x[r * cols + c];
      }
      expect_true("sumRows status", stitch_sum_rows(x, rows, cols, out, accumulate) == STITCH_OK);
      expect_close(accumulate ? "sumRows (accumulate)" : "sumRows", out, sums, (size_t)cols, 1e-4, 1e-5);
      free(out), free(sums);
    }
    free(x), free(bias), free(with_bias), free(want);
  }
}

/* ---- activations -------------------------------------------------------------------------- */

static double reference_activation(int kind, double x) {
  switch (kind) {
    case STITCH_RELU: return x > 0 ? x : 0;
    case STITCH_GELU_TANH: return 0.5 * x * (1 + tanh(sqrt(2 / M_PI) * (x + 0.044715 * x * x * x)));
    case STITCH_GELU_ERF: return 0.5 * x * (1 + erf(x / sqrt(2)));
    case STITCH_TANH: return tanh(x);
    default: return x * tanh(log1p(exp(x)));
  }
}

static double reference_derivative(int kind, double x) {
  switch (kind) {
    case STITCH_RELU: return x > 0 ? 1 : 0;
    case STITCH_GELU_TANH: {
      double u = sqrt(2 / M_PI) * (x + 0.044715 * x * x * x), t = tanh(u);
      return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * sqrt(2 / M_PI) * (1 + 3 * 0.044715 * x * x);
    }
    case STITCH_GELU_ERF: return 0.5 * (1 + erf(x / sqrt(2))) + x * exp(-0.5 * x * x) / sqrt(2 * M_PI);
    case STITCH_TANH: return 1 - tanh(x) * tanh(x);
    default: {
      double t = tanh(log1p(exp(x))), sigmoid = 1 / (1 + exp(-x));
      return t + x * (1 - t * t) * sigmoid;
    }
  }
}

static void test_activations(int threads) {
  static const int64_t sizes[] = {5, 10007};
  for (int kind = STITCH_RELU; kind <= STITCH_MISH; kind++)
    for (size_t s = 0; s < 2; s++) {
      int64_t n = sizes[s];
      snprintf(context, sizeof context, "threads=%d kind=%d n=%lld", threads, kind, (long long)n);
      float *x = random_floats((size_t)n, 8), *out = filled((size_t)n, NAN), *grad_out = random_floats((size_t)n, 1);
      x[0] = 0.3f; /* near 0, where tanh and erf switch to their series */
      double *want = zeros((size_t)n);
      for (int64_t i = 0; i < n; i++) want[i] = reference_activation(kind, x[i]);
      stitch_activation(kind, x, out, n);
      expect_close("activation", out, want, (size_t)n, 1e-6, 1e-5);

      for (int accumulate = 0; accumulate < 2; accumulate++) {
        float *grad_x = accumulate ? random_floats((size_t)n, 1) : filled((size_t)n, NAN);
        for (int64_t i = 0; i < n; i++)
          want[i] = (accumulate ? grad_x[i] : 0) + reference_derivative(kind, x[i]) * grad_out[i];
        stitch_activation_backward(kind, x, grad_out, grad_x, n, accumulate);
        expect_close(accumulate ? "activationBackward (accumulate)" : "activationBackward", grad_x, want, (size_t)n, 1e-6, 1e-5);
        free(grad_x);
      }
      free(x), free(out), free(grad_out), free(want);
    }

  static const int64_t shapes[][2] = {{3, 5}, {211, 67}};
  for (int kind = STITCH_RELU; kind <= STITCH_MISH; kind++)
    for (size_t s = 0; s < 2; s++) {
      int64_t rows = shapes[s][0], cols = shapes[s][1];
      size_t size = (size_t)(rows * cols);
      snprintf(context, sizeof context, "threads=%d kind=%d rows=%lld cols=%lld", threads, kind, (long long)rows, (long long)cols);
      float *x = random_floats(size, 4), *bias = random_floats((size_t)cols, 1), *out = filled(size, NAN);
      double *pre = zeros(size), *want = zeros(size);
      for (size_t i = 0; i < size; i++) {
        pre[i] = (double)(x[i] + bias[i % (size_t)cols]);
        want[i] = reference_activation(kind, pre[i]);
      }
      stitch_bias_activation(kind, x, bias, out, rows, cols);
      expect_close("biasActivation x (the pre-activation)", x, pre, size, 0, 0);
      expect_close("biasActivation out", out, want, size, 1e-6, 1e-5);

      for (int accumulate = 0; accumulate < 2; accumulate++) {
        float *grad_out = random_floats(size, 1), *grad_x = filled(size, NAN);
        float *bias_grad = accumulate ? random_floats((size_t)cols, 1) : filled((size_t)cols, NAN);
        double *want_bias = zeros((size_t)cols);
        for (int64_t c = 0; c < cols; c++) want_bias[c] = accumulate ? bias_grad[c] : 0;
        for (size_t i = 0; i < size; i++) {
          want[i] = reference_derivative(kind, x[i]) * grad_out[i];
          want_bias[i % (size_t)cols] += want[i];
        }
        StitchStatus status = stitch_activation_backward_bias(kind, x, grad_out, grad_x, bias_grad, rows, cols, accumulate);
        expect_true("activationBackwardBias status", status == STITCH_OK);
        expect_close("activationBackwardBias gradX", grad_x, want, size, 1e-6, 1e-5);
        expect_close("activationBackwardBias biasGrad", bias_grad, want_bias, (size_t)cols, 1e-4, 1e-4);
        free(grad_out), free(grad_x), free(bias_grad), free(want_bias);
      }
      free(x), free(bias), free(out), free(pre), free(want);
    }
}

/* ---- dropout ------------------------------------------------------------------------------ */

/* dropoutKeep of src/engine/backend.ts, transcribed */
static bool reference_keep(uint32_t seed, uint32_t index, double p) {
  uint32_t x = index * 0x9e3779b1u + seed;
  x ^= x >> 16;
  x *= 0x85ebca6bu;
  x ^= x >> 13;
  x *= 0xc2b2ae35u;
  x ^= x >> 16;
  return (double)(x >> 8) * (1.0 / 16777216.0) >= p;
}

static void test_dropout(int threads) {
  static const double probabilities[] = {0, 0.1, 0.5, 1};
  static const int64_t sizes[] = {9, 70001};
  for (size_t q = 0; q < 4; q++)
    for (size_t s = 0; s < 2; s++) {
      double p = probabilities[q];
      int64_t n = sizes[s];
      uint32_t seed = 0xdeadbeefu + (uint32_t)q;
      snprintf(context, sizeof context, "threads=%d p=%g n=%lld", threads, p, (long long)n);
      float *x = random_floats((size_t)n, 3), *out = filled((size_t)n, NAN), *want = malloc((size_t)n * sizeof(float));
      double keep_scale = 1.0 / (1.0 - p);
      for (int64_t i = 0; i < n; i++) want[i] = reference_keep(seed, (uint32_t)i, p) ? (float)((double)x[i] * keep_scale) : 0.0f;
      stitch_dropout(x, out, n, p, seed);
      expect_equal("dropout", out, want, (size_t)n);

      for (int accumulate = 0; accumulate < 2; accumulate++) {
        float *grad_x = accumulate ? random_floats((size_t)n, 1) : filled((size_t)n, NAN);
        for (int64_t i = 0; i < n; i++) {
          double g = reference_keep(seed, (uint32_t)i, p) ? (double)x[i] * keep_scale : 0.0;
          want[i] = (float)(accumulate ? (double)grad_x[i] + g : g);
        }
        stitch_dropout_backward(x, grad_x, n, p, seed, accumulate);
        expect_equal(accumulate ? "dropoutBackward (accumulate)" : "dropoutBackward", grad_x, want, (size_t)n);
        free(grad_x);
      }
      free(x), free(out), free(want);
    }
}

/* ---- LayerNorm ---------------------------------------------------------------------------- */

static void test_layer_norm(int threads) {
  static const int64_t shapes[][2] = {{1, 1}, {37, 65}, {1000, 67}};
  const double eps = 1e-5;
  for (size_t s = 0; s < 3; s++) {
    int64_t rows = shapes[s][0], cols = shapes[s][1];
    size_t size = (size_t)(rows * cols);
    snprintf(context, sizeof context, "threads=%d rows=%lld cols=%lld", threads, (long long)rows, (long long)cols);
    float *x = random_floats(size, 3), *gamma = random_floats((size_t)cols, 1), *beta = random_floats((size_t)cols, 1);
    for (size_t i = 0; i < size; i++) x[i] += 1.5f; /* an offset, so that the mean matters */
    float *out = filled(size, NAN), *mean = filled((size_t)rows, NAN), *rstd = filled((size_t)rows, NAN);
    double *want = zeros(size), *want_mean = zeros((size_t)rows), *want_rstd = zeros((size_t)rows);
    for (int64_t r = 0; r < rows; r++) {
      double mu = 0, variance = 0;
      for (int64_t c = 0; c < cols; c++) mu += x[r * cols + c];
      mu /= (double)cols;
      for (int64_t c = 0; c < cols; c++) variance += (x[r * cols + c] - mu) * (x[r * cols + c] - mu);
      variance /= (double)cols;
      want_mean[r] = mu;
      want_rstd[r] = 1 / sqrt(variance + eps);
      for (int64_t c = 0; c < cols; c++) want[r * cols + c] = (x[r * cols + c] - mu) * want_rstd[r] * gamma[c] + beta[c];
    }
    stitch_layer_norm(x, gamma, beta, out, mean, rstd, rows, cols, eps);
    expect_close("layerNorm mean", mean, want_mean, (size_t)rows, 1e-6, 1e-6);
    expect_close("layerNorm rstd", rstd, want_rstd, (size_t)rows, 1e-6, 1e-4);
    expect_close("layerNorm out", out, want, size, 1e-5, 1e-4);

    for (int accumulate = 0; accumulate < 2; accumulate++) {
      float *grad_out = random_floats(size, 1), *grad_x = accumulate ? random_floats(size, 1) : filled(size, NAN);
      /* gamma and beta gradients always accumulate */
      float *grad_gamma = random_floats((size_t)cols, 1), *grad_beta = random_floats((size_t)cols, 1);
      double *want_x = zeros(size), *want_gamma = zeros((size_t)cols), *want_beta = zeros((size_t)cols);
      for (int64_t c = 0; c < cols; c++) want_gamma[c] = grad_gamma[c], want_beta[c] = grad_beta[c];
      for (int64_t r = 0; r < rows; r++) {
        double mean_dxhat = 0, mean_dxhat_xhat = 0;
        for (int64_t c = 0; c < cols; c++) {
          double xhat = (x[r * cols + c] - (double)mean[r]) * rstd[r], dxhat = (double)grad_out[r * cols + c] * gamma[c];
          mean_dxhat += dxhat / (double)cols;
          mean_dxhat_xhat += dxhat * xhat / (double)cols;
          want_gamma[c] += grad_out[r * cols + c] * xhat;
          want_beta[c] += grad_out[r * cols + c];
        }
        for (int64_t c = 0; c < cols; c++) {
          double xhat = (x[r * cols + c] - (double)mean[r]) * rstd[r], dxhat = (double)grad_out[r * cols + c] * gamma[c];
          want_x[r * cols + c] = (accumulate ? grad_x[r * cols + c] : 0) + rstd[r] * (dxhat - mean_dxhat - xhat * mean_dxhat_xhat);
        }
      }
      StitchStatus status = stitch_layer_norm_backward(x, gamma, mean, rstd, grad_out, grad_x, grad_gamma, grad_beta, rows,
                                                       cols, accumulate);
      expect_true("layerNormBackward status", status == STITCH_OK);
      expect_close(accumulate ? "layerNormBackward gradX (accumulate)" : "layerNormBackward gradX", grad_x, want_x, size, 1e-4, 1e-4);
      expect_close("layerNormBackward gradGamma", grad_gamma, want_gamma, (size_t)cols, 1e-3, 1e-4);
      expect_close("layerNormBackward gradBeta", grad_beta, want_beta, (size_t)cols, 1e-3, 1e-4);
      free(grad_out), free(grad_x), free(grad_gamma), free(grad_beta), free(want_x), free(want_gamma), free(want_beta);
    }
    free(x), free(gamma), free(beta), free(out), free(mean), free(rstd), free(want), free(want_mean), free(want_rstd);
  }
}

/* ---- attention ---------------------------------------------------------------------------- */

static void check_attention(const StitchAttentionShape *s, bool with_mask) {
  const int64_t B = s->batch, T = s->tokens, H = s->heads, D = s->head_dim, C = H * D, row = 3 * C;
  size_t qkv_size = (size_t)(B * T * row), probs_size = (size_t)(B * H * T * T), out_size = (size_t)(B * T * C);
  float *qkv = random_floats(qkv_size, 2), *probs = filled(probs_size, NAN), *out = filled(out_size, NAN);
  float *mask = NULL;
  if (with_mask) {
    /* batch 0 hides its second key; the last batch hides every key, so its rows are all zeros */
    mask = filled((size_t)(B * T), 1);
    mask[1] = 0;
    for (int64_t t = 0; t < T; t++) mask[(B - 1) * T + t] = 0;
  }
  double keep_scale = s->dropout > 0 ? 1 / (1 - s->dropout) : 1, scale = 1 / sqrt((double)D);
  double *want_probs = zeros(probs_size), *dropped = zeros(probs_size), *want_out = zeros(out_size);
  for (int64_t b = 0; b < B; b++)
    for (int64_t h = 0; h < H; h++)
      for (int64_t i = 0; i < T; i++) {
        double *p = want_probs + ((b * H + h) * T + i) * T, max_score = -INFINITY, total = 0;
        for (int64_t j = 0; j < T; j++) {
          bool visible = (!s->causal || j <= i) && (mask == NULL || mask[b * T + j] != 0);
          double score = -INFINITY;
          if (visible) {
            score = 0;
            for (int64_t d = 0; d < D; d++) score += (double)qkv[(b * T + i) * row + h * D + d] * qkv[(b * T + j) * row + C + h * D + d];
            score *= scale;
          }
          p[j] = score;
          if (score > max_score) max_score = score;
        }
        for (int64_t j = 0; j < T; j++) total += p[j] = max_score == -INFINITY || p[j] == -INFINITY ? 0 : exp(p[j] - max_score);
        for (int64_t j = 0; j < T; j++) {
          p[j] = total > 0 ? p[j] / total : 0;
          uint32_t index = (uint32_t)(((b * H + h) * T + i) * T + j);
          dropped[((b * H + h) * T + i) * T + j] = reference_keep(s->seed, index, s->dropout) ? p[j] * keep_scale : 0;
        }
        for (int64_t d = 0; d < D; d++) {
          double total_v = 0;
          for (int64_t j = 0; j < T; j++) total_v += dropped[((b * H + h) * T + i) * T + j] * qkv[(b * T + j) * row + 2 * C + h * D + d];
          want_out[(b * T + i) * C + h * D + d] = total_v;
        }
      }
  expect_true("attention status", stitch_attention(qkv, mask, probs, out, s) == STITCH_OK);
  expect_close("attention probs", probs, want_probs, probs_size, 1e-6, 1e-5);
  expect_close("attention out", out, want_out, out_size, 1e-5, 1e-4);

  /* backward, from the kernel's own probabilities, accumulating into a non-zero gradient */
  float *grad_out = random_floats(out_size, 1), *grad_qkv = random_floats(qkv_size, 1);
  double *want_grad = zeros(qkv_size), *grad_scores = zeros((size_t)T);
  for (size_t e = 0; e < qkv_size; e++) want_grad[e] = grad_qkv[e];
  for (int64_t b = 0; b < B; b++)
    for (int64_t h = 0; h < H; h++)
      for (int64_t i = 0; i < T; i++) {
        const float *p = probs + ((b * H + h) * T + i) * T;
        const double *pd = dropped + ((b * H + h) * T + i) * T;
        const float *d_out = grad_out + (b * T + i) * C + h * D;
        double dot = 0;
        for (int64_t j = 0; j < T; j++) {
          /* dV_j += P'_ij dOut_i ; dP'_ij = dOut_i . V_j, then through the dropout mask */
          double d_p = 0;
          for (int64_t d = 0; d < D; d++) {
            want_grad[(b * T + j) * row + 2 * C + h * D + d] += pd[j] * d_out[d];
            d_p += (double)d_out[d] * qkv[(b * T + j) * row + 2 * C + h * D + d];
          }
          uint32_t index = (uint32_t)(((b * H + h) * T + i) * T + j);
          grad_scores[j] = reference_keep(s->seed, index, s->dropout) ? d_p * keep_scale : 0;
          dot += grad_scores[j] * p[j];
        }
        for (int64_t j = 0; j < T; j++) {
          double d_s = p[j] * (grad_scores[j] - dot) * scale;
          for (int64_t d = 0; d < D; d++) {
            want_grad[(b * T + i) * row + h * D + d] += d_s * qkv[(b * T + j) * row + C + h * D + d];
            want_grad[(b * T + j) * row + C + h * D + d] += d_s * qkv[(b * T + i) * row + h * D + d];
          }
        }
      }
  StitchStatus status = stitch_attention_backward(qkv, probs, grad_out, grad_qkv, s, true);
  expect_true("attentionBackward status", status == STITCH_OK);
  expect_close("attentionBackward gradQkv", grad_qkv, want_grad, qkv_size, 1e-5, 1e-4);
  free(qkv), free(probs), free(out), free(mask), free(want_probs), free(dropped), free(want_out);
  free(grad_out), free(grad_qkv), free(want_grad), free(grad_scores);
}

static void test_attention(int threads) {
  static const int64_t shapes[][4] = {{2, 5, 3, 4}, {1, 1, 1, 1}, {8, 24, 2, 16}};
  for (size_t s = 0; s < 3; s++)
    for (int variant = 0; variant < 4; variant++) {
      StitchAttentionShape shape = {.batch = shapes[s][0], .tokens = shapes[s][1], .heads = shapes[s][2], .head_dim = shapes[s][3],
                                    .causal = variant & 1, .dropout = variant & 2 ? 0.3 : 0, .seed = 77u + (uint32_t)variant};
      bool with_mask = shape.batch > 1 && variant != 1;
      snprintf(context, sizeof context, "threads=%d attention B=%lld T=%lld H=%lld D=%lld causal=%d dropout=%g mask=%d", threads,
               (long long)shape.batch, (long long)shape.tokens, (long long)shape.heads, (long long)shape.head_dim, shape.causal,
               shape.dropout, with_mask);
      check_attention(&shape, with_mask);
    }
}

/* ---- embedding rows ----------------------------------------------------------------------- */

static void test_embedding(int threads) {
  static const int64_t shapes[][3] = {{3, 5, 4}, {20, 1000, 100}}; /* table rows, cols, lookups */
  for (size_t s = 0; s < 2; s++) {
    int64_t table_rows = shapes[s][0], cols = shapes[s][1], count = shapes[s][2];
    snprintf(context, sizeof context, "threads=%d table=%lldx%lld lookups=%lld", threads, (long long)table_rows, (long long)cols,
             (long long)count);
    float *table = random_floats((size_t)(table_rows * cols), 1), *out = filled((size_t)(count * cols), NAN);
    int32_t *index = malloc((size_t)count * sizeof(int32_t));
    /* indices repeat: every row is looked up several times */
    for (int64_t r = 0; r < count; r++) index[r] = (int32_t)((r * 7 + 2) % table_rows);
    float *want = malloc((size_t)(count * cols) * sizeof(float));
    for (int64_t r = 0; r < count; r++) memcpy(want + r * cols, table + index[r] * cols, (size_t)cols * sizeof(float));
    stitch_gather_rows(table, index, (size_t)count, out, cols);
    expect_equal("gatherRows", out, want, (size_t)(count * cols));

    float *grad_out = random_floats((size_t)(count * cols), 1), *grad_table = random_floats((size_t)(table_rows * cols), 1);
    double *want_table = zeros((size_t)(table_rows * cols));
    for (int64_t e = 0; e < table_rows * cols; e++) want_table[e] = grad_table[e];
    for (int64_t r = 0; r < count; r++)
      for (int64_t c = 0; c < cols; c++) want_table[index[r] * cols + c] += grad_out[r * cols + c];
    stitch_scatter_add_rows(grad_out, index, (size_t)count, grad_table, cols);
    expect_close("scatterAddRows", grad_table, want_table, (size_t)(table_rows * cols), 1e-5, 1e-5);
    free(table), free(out), free(index), free(want), free(grad_out), free(grad_table), free(want_table);
  }
  snprintf(context, sizeof context, "first bad index");
  const int32_t index[] = {0, 2, 3, -1};
  expect_true("every index inside", stitch_first_bad_index(index, 2, 3) == -1);
  expect_true("index 3 of 3 rows", stitch_first_bad_index(index, 4, 3) == 2);
  expect_true("a negative index", stitch_first_bad_index(index, 4, 4) == 3);
}

/* ---- optimizers --------------------------------------------------------------------------- */

static void test_optimizers(int threads) {
  static const int64_t sizes[] = {3, 50001};
  for (size_t s = 0; s < 2; s++)
    for (int variant = 0; variant < 3; variant++) {
      int64_t n = sizes[s];
      bool lamb = variant == 2;
      StitchAdamStep step = {.lr = 1e-3, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8, .weight_decay = 0.01,
                             .bias_correction1 = 1 - pow(0.9, 3), .bias_correction2 = 1 - pow(0.999, 3), .decoupled = variant == 0};
      snprintf(context, sizeof context, "threads=%d n=%lld %s", threads, (long long)n,
               lamb ? "lamb" : step.decoupled ? "adamw" : "adam (L2)");
      float *param = random_floats((size_t)n, 1), *grad = random_floats((size_t)n, 1);
      float *m = random_floats((size_t)n, 0.1f), *v = random_floats((size_t)n, 0.01f), *update = filled((size_t)n, NAN);
      for (int64_t i = 0; i < n; i++) v[i] = fabsf(v[i]);
      double *want_param = zeros((size_t)n), *want_m = zeros((size_t)n), *want_v = zeros((size_t)n), *directions = zeros((size_t)n);
      double param_norm = 0, update_norm = 0;
      for (int64_t i = 0; i < n; i++) {
        double p = param[i], g = (double)grad[i] + (!lamb && !step.decoupled ? step.weight_decay * p : 0);
        float mi = (float)(step.beta1 * m[i] + (1 - step.beta1) * g), vi = (float)(step.beta2 * v[i] + (1 - step.beta2) * g * g);
        want_m[i] = mi, want_v[i] = vi;
        double direction = (mi / step.bias_correction1) / (sqrt(vi / step.bias_correction2) + step.eps);
        if (lamb) {
          directions[i] = direction + step.weight_decay * p;
          param_norm += p * p;
          update_norm += directions[i] * directions[i];
        } else {
          want_param[i] = p * (step.decoupled ? 1 - step.lr * step.weight_decay : 1) - step.lr * direction;
        }
      }
      if (lamb) {
        double trust = param_norm > 0 && update_norm > 0 ? sqrt(param_norm) / sqrt(update_norm) : 1;
        for (int64_t i = 0; i < n; i++) want_param[i] = param[i] - step.lr * trust * directions[i];
        stitch_lamb_update(param, grad, m, v, update, n, &step);
      } else {
        stitch_adam_update(param, grad, m, v, n, &step);
      }
      expect_close("m", m, want_m, (size_t)n, 0, 1e-6);
      expect_close("v", v, want_v, (size_t)n, 0, 1e-6);
      expect_close("param", param, want_param, (size_t)n, 1e-7, 1e-6);
      free(param), free(grad), free(m), free(v), free(update), free(want_param), free(want_m), free(want_v), free(directions);
    }
}

/* ---- threads ------------------------------------------------------------------------------ */

static void test_threads(void) {
  snprintf(context, sizeof context, "threads");
  stitch_set_threads(3);
  expect_true("setThreads(3) then threads() = 3", stitch_threads() == 3);
  char info[256];
  stitch_blas_info(info, sizeof info);
  expect_true("blasInfo names OpenBLAS and the thread count", strncmp(info, "OpenBLAS ", 9) == 0 && strstr(info, "threads=3") != NULL);
}

int main(void) {
  stitch_init_threads();
  test_threads();
  for (int threads = 1; threads <= 3; threads++) {
    stitch_set_threads(threads);
    test_gemm(threads);
    test_elementwise(threads);
    test_activations(threads);
    test_dropout(threads);
    test_layer_norm(threads);
    test_attention(threads);
    test_embedding(threads);
    test_optimizers(threads);
  }
  printf("%d checks, %d failed\n", checks, failures);
  return failures == 0 ? 0 : 1;
}
