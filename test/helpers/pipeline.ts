// In-process pieces for pipeline tests: the listener with test-friendly options.
import { defaultLimits } from '../../src/protocols/http1/parse.js';
import type { HttpOptions } from '../../src/listeners/http.js';
export { HttpListener } from '../../src/listeners/http.js';
export { Logger } from '../../src/log.js';
export { compose, type App, type Middleware } from '../../src/pipeline/types.js';

export function defaultLimitsFor(): HttpOptions {
  return {
    limits: defaultLimits,
    bufferRequestBody: 1 << 20,
    bufferResponse: 1 << 20,
    headerTimeout: 10,
    bodyTimeout: 30,
    minUploadRate: 0,
    keepaliveTimeout: 5,
    sendTimeout: 60,
    serverSoftware: 'warpipe/test',
  };
}
