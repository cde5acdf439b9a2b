/* The WebAssembly build's thread count and description: the kernels run on the calling thread
   (native/kernels' OpenMP pragmas are ignored without -fopenmp). */
#include "kernels.h"
#include "parallel.h"

int stitch_thread_count = 1;

void stitch_init_threads(void) { stitch_thread_count = 1; }

void stitch_set_threads(int n) { (void)n; }

int stitch_threads(void) { return stitch_thread_count; }
