// The library the notebooks import (compiled to dist/src/index.js).
export * from './backend';
export * from './checkpoint';
export * from './embedding';
export * from './metrics';
export * from './mixture';
export * from './model';
export * from './normal';
export * from './optim';
export * from './paths';
export * from './rng';
export * from './sample';
export * from './scheduler';
export * from './train';
