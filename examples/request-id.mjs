// A request id on every request: the one a proxy in front sent (X-Request-Id,
// when it looks like one), else a new UUID. The Python app reads it as
// environ['HTTP_X_REQUEST_ID'] (Flask: request.headers['X-Request-Id']), and
// the client gets it back in the response's X-Request-Id header.
//
//   warpipe examples/hello.py --middleware ./examples/request-id.mjs
import { randomUUID } from 'node:crypto';

/** What an id from outside may look like; anything else is replaced (it ends up in logs). */
const WELL_FORMED = /^[\w.:@-]{1,128}$/;

/** @type {import('warpipe').Middleware} */
export default function requestId(app) {
  return (environ, startResponse) => {
    const given = environ.HTTP_X_REQUEST_ID;
    const id = typeof given === 'string' && WELL_FORMED.test(given) ? given : randomUUID();
    environ.HTTP_X_REQUEST_ID = id;
    return app(environ, (status, headers, excInfo) =>
      // a new list: the one given may be frozen (warpipe reuses the static files' lists)
      startResponse(status, [...headers.filter(([name]) => name.toLowerCase() !== 'x-request-id'), ['X-Request-Id', id]], excInfo),
    );
  };
}
