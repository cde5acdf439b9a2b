import type { TensorBackend } from '../backend.js';
import { backend, hostTensorBackend } from '../backends/index.js';
import { JsBackend } from '../backends/js.js';

const reference = hostTensorBackend(new JsBackend());

/** float32 runs on the selected backend; float64 (gradient checks) always on the reference kernels */
export function kernels(dtype: 'float32' | 'float64'): TensorBackend {
  return dtype === 'float64' ? reference : backend();
}
