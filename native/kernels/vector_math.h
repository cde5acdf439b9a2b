/*
 * Branch-free float math shared by several kernel files (internal to native/kernels/): exp,
 * tanh and erf as polynomials, written without calls or branches so that gcc vectorizes the
 * loops that use them, and the dropout hash that must match `dropoutKeep` in backend.ts.
 */
#ifndef STITCH_VECTOR_MATH_H
#define STITCH_VECTOR_MATH_H

#include <math.h>
#include <stdint.h>
#include <string.h>

/* exp for x in [-87, 88] (callers clamp), Cephes single-precision polynomial: ~1 ulp. */
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

/* dropout: bit-identical to dropoutKeep in backend.ts */
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
static inline uint32_t keep_threshold(double p) {
  if (!(p > 0)) return 0;
  double threshold = ceil(p * 16777216.0);
  return threshold > 16777216.0 ? 16777217u : (uint32_t)threshold;
}

#endif
