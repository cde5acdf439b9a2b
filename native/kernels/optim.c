/* Adam(W) and LAMB steps: double arithmetic per element, as the TypeScript reference does. */
#include <math.h>

#include "kernels.h"
#include "parallel.h"

/* updates m and v (stored as float, then read back as the reference does) and returns m_hat / (sqrt(v_hat) + eps) */
static inline double adam_direction(double g, float *m, float *v, const StitchAdamStep *s, double inv_sqrt_bc2) {
  float mi = (float)(s->beta1 * (double)*m + (1 - s->beta1) * g);
  float vi = (float)(s->beta2 * (double)*v + (1 - s->beta2) * g * g);
  *m = mi;
  *v = vi;
  double denom = sqrt((double)vi) * inv_sqrt_bc2 + s->eps;
  return (double)mi / s->bias_correction1 / denom;
}

static void adam_range(float *param, const float *grad, float *m, float *v, const StitchAdamStep *s, size_t begin, size_t end) {
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

void stitch_adam_update(float *param, const float *grad, float *m, float *v, int64_t n, const StitchAdamStep *step) {
  FOR_BLOCKS((size_t)n, GRAIN_MEMORY / 4, adam_range(param, grad, m, v, step, begin, end));
}

void stitch_lamb_update(float *param, const float *grad, float *m, float *v, float *update, int64_t n,
                        const StitchAdamStep *step) {
  const StitchAdamStep s = *step;
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
    /* the trust ratio from the per-part sums, added in part order */
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
}
