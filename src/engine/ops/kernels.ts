import type { Backend } from '../backend.js';
import { backend } from '../backends/index.js';
import { JsBackend } from '../backends/js.js';
import type { DType } from '../tensor.js';

const reference = new JsBackend();

/** float32 runs on the selected backend; float64 (gradient checks) always on the reference kernels */
export function kernels(dtype: DType): Backend {
  return dtype === 'float64' ? reference : backend();
}
