// An auth gate: a request without a known bearer token is answered 401 here,
// in the gateway, and never reaches a Python worker. A known token's user is
// given to the app as REMOTE_USER, as a web server's authentication does.
// Paths in `open` (a health check, say) pass without a token.
//
//   AUTH_TOKENS='alice:s3cret' warpipe examples/hello.py --middleware ./examples/auth-gate.mjs
//   curl -H 'Authorization: Bearer s3cret' http://127.0.0.1:8000/
import { createHash, timingSafeEqual } from 'node:crypto';

const digest = (text) => createHash('sha256').update(text).digest();

/**
 * @param {{ tokens: Record<string, string>, open?: string[], realm?: string }} options
 *   tokens: user name -> the token that user sends (`Authorization: Bearer TOKEN`)
 * @returns {import('warpipe').Middleware}
 */
export function authGate({ tokens, open = [], realm = 'warpipe' }) {
  const known = Object.entries(tokens).map(([user, token]) => ({ user, digest: digest(token) }));
  if (known.length === 0) throw new Error('authGate: no tokens given');
  const challenge = [
    ['Content-Type', 'text/plain; charset=utf-8'],
    ['WWW-Authenticate', `Bearer realm="${realm}"`],
  ];
  /** The user whose token this is, or null (each comparison in constant time). */
  const userOf = (authorization) => {
    const m = typeof authorization === 'string' ? /^Bearer +(\S+) *$/i.exec(authorization) : null;
    if (!m) return null;
    const sent = digest(m[1]);
    return known.find((k) => timingSafeEqual(k.digest, sent))?.user ?? null;
  };
  return (app) => (environ, startResponse) => {
    if (open.includes(environ.PATH_INFO)) return app(environ, startResponse);
    const user = userOf(environ.HTTP_AUTHORIZATION);
    if (user === null) {
      startResponse('401 Unauthorized', challenge);
      return ['a bearer token is needed\n'];
    }
    environ.REMOTE_USER = user;
    environ.AUTH_TYPE = 'Bearer';
    return app(environ, startResponse);
  };
}

/** `AUTH_TOKENS='alice:s3cret,bob:hunter2'` as { alice: 's3cret', bob: 'hunter2' }. */
function tokensFromEnv(text = '') {
  const pairs = text.split(',').filter(Boolean).map((pair) => pair.split(':'));
  if (pairs.length === 0 || pairs.some((p) => p.length !== 2 || !p[0] || !p[1])) {
    throw new Error("set AUTH_TOKENS to USER:TOKEN[,USER:TOKEN...], the tokens clients send as 'Authorization: Bearer TOKEN'");
  }
  return Object.fromEntries(pairs);
}

/**
 * For `--middleware`: the tokens from AUTH_TOKENS, read when the gateway starts (without them it
 * does not start: one line, exit 2). A program imports `authGate` and gives the tokens itself.
 * @type {import('warpipe').Middleware}
 */
export default (app) => authGate({ tokens: tokensFromEnv(process.env.AUTH_TOKENS), open: ['/health'] })(app);
