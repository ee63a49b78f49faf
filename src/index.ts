// warpipe's public surface: the PEP 3333-shaped pipeline types, and the parts a
// TypeScript program needs to embed the gateway.
export type {
  App,
  Body,
  Chunk,
  Environ,
  ErrorStream,
  Headers,
  Input,
  Middleware,
  StartResponse,
  WholeBody,
  Write,
} from './pipeline/types.js';
export { compose } from './pipeline/types.js';
export { compression, type CompressOptions } from './pipeline/compress.js';
export { Coding, parseCompress } from './pipeline/codings.js';
export { BodyInput } from './pipeline/input.js';
export { HttpListener, type HttpOptions } from './listeners/http.js';
export { pythonApp, type PythonAppOptions } from './apps/python-app.js';
export { Arbiter, type ArbiterOptions } from './workers/arbiter.js';
export { loadConfig, type Config } from './config/load.js';
export type { Address } from './address.js';
export { Logger, levels } from './log.js';
export * from './errors.js';
