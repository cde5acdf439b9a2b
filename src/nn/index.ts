export * from './checkpoint.js';
export * from './init.js';
export * from './layers.js';
export * from './module.js';
export * from './optim.js';
export * from './safetensors.js';
export * from './transformer.js';
