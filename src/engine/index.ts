/** The engine: tensors, automatic differentiation, and the ops the algorithms are written in. */
export type { Activation, Backend, FloatArray, Storage, TensorBackend } from './backend.js';
export { backend, describeBackend, setBackend, type BackendName, type HostBackendName } from './backends/index.js';
export { Scalar } from './scalar.js';
export { Rng } from './rng.js';
export {
  bufferPool, getDefaultDType, isGradEnabled, keepScalar, noGrad, Parameter, readStorage, stageUploads, Tensor, tidy, withDefaultDType, type DType,
} from './tensor.js';
export * from './ops/elementwise.js';
export * from './ops/linalg.js';
export * from './ops/losses.js';
export * from './ops/nn.js';
export * from './ops/shape.js';
