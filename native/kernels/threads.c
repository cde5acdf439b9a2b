/* The one thread count shared by OpenBLAS and the OpenMP kernels, and what BLAS was loaded. */
#include <cblas.h>
#include <stdio.h>
#include <unistd.h>

#include "kernels.h"
#include "parallel.h"

int stitch_thread_count = 1;

void stitch_init_threads(void) {
  long online = sysconf(_SC_NPROCESSORS_ONLN);
  stitch_set_threads(online > 0 ? (int)online : 1);
}

void stitch_set_threads(int n) {
  stitch_thread_count = n;
  openblas_set_num_threads(n);
}

int stitch_threads(void) { return stitch_thread_count; }

void stitch_blas_info(char *text, size_t size) {
  /* openblas_get_config() starts "OpenBLAS <version> ..."; keep those two words */
  const char *config = openblas_get_config();
  int name_and_version = 0, words = 0;
  while (config[name_and_version] != '\0') {
    if (config[name_and_version] == ' ' && ++words == 2) break;
    name_and_version++;
  }
  const char *parallel = openblas_get_parallel() == 2 ? "openmp" : openblas_get_parallel() == 1 ? "pthreads" : "serial";
  snprintf(text, size, "%.*s core=%s threads=%d blas-threading=%s", name_and_version, config, openblas_get_corename(),
           stitch_thread_count, parallel);
}
