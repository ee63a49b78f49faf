// Prefix mounts as a pipeline App (PEP 3333's SCRIPT_NAME / PATH_INFO split):
// the longest mounted prefix that PATH_INFO starts with, on a segment
// boundary, takes the request; SCRIPT_NAME gains the prefix and PATH_INFO
// keeps the rest. Anything else goes to `fallback`.

import type { App } from '../pipeline/types.js';

/**
 * @example router([['/static', staticFiles('./public')]], pythonApp(pool, log, opts))
 */
export function router(mounts: readonly (readonly [prefix: string, app: App])[], fallback: App): App {
  if (mounts.length === 0) return fallback;
  const sorted = mounts.map(([p, app]) => [p.replace(/\/+$/, ''), app] as const).sort((a, b) => b[0].length - a[0].length);
  return (environ, startResponse) => {
    const path = String(environ.PATH_INFO ?? '');
    for (const [prefix, app] of sorted) {
      if (path === prefix || path.startsWith(prefix + '/')) {
        environ.SCRIPT_NAME = String(environ.SCRIPT_NAME ?? '') + prefix;
        environ.PATH_INFO = path.slice(prefix.length);
        return app(environ, startResponse);
      }
    }
    return fallback(environ, startResponse);
  };
}
