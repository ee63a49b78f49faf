// Response headers on every answer that lacks them: here the usual security
// headers, the same for the Python app, --static files and --mount upstreams.
// A header the app set itself is left as it is.
//
//   warpipe examples/hello.py --middleware ./examples/response-headers.mjs
const SECURITY_HEADERS = [
  ['X-Content-Type-Options', 'nosniff'],
  ['Referrer-Policy', 'strict-origin-when-cross-origin'],
  ['X-Frame-Options', 'DENY'],
];

/**
 * @param {[string, string][]} add the headers to add, each unless the response has it already
 * @returns {import('warpipe').Middleware}
 */
export function responseHeaders(add) {
  const names = add.map(([name]) => name.toLowerCase());
  return (app) => (environ, startResponse) =>
    app(environ, (status, headers, excInfo) => {
      const missing = add.filter((_, i) => !headers.some(([name]) => name.toLowerCase() === names[i]));
      // a new list: the one given may be frozen (warpipe reuses the static files' lists)
      return startResponse(status, missing.length === 0 ? headers : [...headers, ...missing], excInfo);
    });
}

export default responseHeaders(SECURITY_HEADERS);
