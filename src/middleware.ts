// User middleware around the whole app chain: `--middleware MODULE` (an ES
// module whose default export is a Middleware) and startGateway's
// `middleware` option (src/embed.ts). Loaded once when a gateway starts, in
// each gateway of --gateways N; what cannot be used is a ConfigCheckError
// (one line, exit 2) before any socket is bound.
//
// MODULE is a path when it starts with `./`, `../` or `/` (or is a file: URL),
// taken from a base directory (--chdir, else the working directory; a config
// file's paths arrive already absolute); anything else is a package, found
// from that directory as require.resolve finds one (its `exports` for Node and
// `require`/`default`, else `main`). A package that only exports for `import`
// is reached through a one-line module: `export { default } from 'pkg';`.

import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ConfigCheckError } from './errors.js';
import type { App, Middleware } from './pipeline/types.js';

/** A middleware and how an error names it (`--middleware ./auth.mjs`, `middleware[0]`). */
export interface Piece {
  readonly name: string;
  readonly middleware: Middleware;
}

/** The first line of what an import threw (a stack or a long message would drown the one line). */
function firstLine(err: unknown): string {
  const text = err instanceof Error ? `${err.name === 'Error' ? '' : `${err.name}: `}${err.message}` : String(err);
  return text.split('\n', 1)[0]!;
}

/** Where `spec` is, as a URL to import; a ConfigCheckError (naming it `name`) when it is not there. */
function locate(spec: string, name: string, base: string): string {
  if (spec.startsWith('file:')) return spec;
  if (/^(\.\.?\/|\/)/.test(spec)) {
    const path = resolve(base, spec);
    if (!existsSync(path)) throw new ConfigCheckError(path === spec ? `${name}: no such file` : `${name}: no such file (${path})`);
    return pathToFileURL(path).href;
  }
  try {
    return pathToFileURL(createRequire(join(base, 'noop.js')).resolve(spec)).href;
  } catch (err) {
    throw new ConfigCheckError(
      `${name}: no package ${spec} found from ${base} (${firstLine(err)}); a file is named ./${spec} or by its absolute path`,
      { cause: err },
    );
  }
}

/**
 * Import `spec` (see the top of this file) and check that its default export is
 * a function; a ConfigCheckError, naming it `name`, says what is wrong.
 */
export async function importMiddleware(spec: string, name = `--middleware ${spec}`, base = process.cwd()): Promise<Piece> {
  const url = locate(spec, name, base);
  let module: { default?: unknown };
  try {
    module = (await import(url)) as { default?: unknown };
  } catch (err) {
    throw new ConfigCheckError(`${name}: cannot import it: ${firstLine(err)}`, { cause: err });
  }
  let middleware = module.default;
  // a CommonJS build's `exports.default = fn` (what tsc writes) arrives as { default: fn }
  const inner = (middleware as { default?: unknown } | null | undefined)?.default;
  if (typeof middleware === 'object' && typeof inner === 'function') middleware = inner;
  if (typeof middleware !== 'function') {
    const what = middleware === undefined ? 'it has no default export' : `its default export is ${describe(middleware)}`;
    throw new ConfigCheckError(`${name}: ${what}, not a Middleware: export default (app) => (environ, startResponse) => body`);
  }
  return { name, middleware: middleware as Middleware };
}

function describe(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (Array.isArray(value)) return 'a list';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

/** Every `--middleware` module, in order, relative ones from `base`. */
export async function importAll(specs: readonly string[], base: string): Promise<Piece[]> {
  const chain: Piece[] = [];
  for (const spec of specs) chain.push(await importMiddleware(spec, `--middleware ${spec}`, base));
  return chain;
}

/**
 * `app` wrapped in `chain`, the first outermost (compose's order). With no
 * middleware it is `app` itself, so nothing is added to a request's path.
 * Each piece must give back a function: checked once here, not per request.
 */
export function wrapApp(chain: readonly Piece[], app: App): App {
  let inner = app;
  for (let i = chain.length - 1; i >= 0; i--) {
    const { name, middleware } = chain[i]!;
    let outer: unknown;
    try {
      outer = middleware(inner);
    } catch (err) {
      throw new ConfigCheckError(`${name}: it threw when given the app: ${firstLine(err)}`, { cause: err });
    }
    if (typeof outer !== 'function') {
      throw new ConfigCheckError(`${name}: it returned ${describe(outer)} when given the app, not an app (environ, startResponse) => body`);
    }
    inner = outer as App;
  }
  return inner;
}
