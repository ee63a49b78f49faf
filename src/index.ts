// warpipe's public surface, what `import … from 'warpipe'` gives (docs/embedding.md):
// startGateway and its types, the PEP 3333-shaped pipeline types a middleware is
// written against, and the errors startGateway rejects with. Everything else is
// internal and may change between versions.
export {
  startGateway,
  type BoundAddress,
  type GatewayHandle,
  type GatewayOptions,
  type SettingOptions,
} from './embed.js';
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
export type { Address } from './address.js';
export type { PoolStatus } from './workers/pool-status.js';
export { ConfigCheckError, ConfigError, GatewayError, StartError, WorkerError, codes } from './errors.js';
