// The benchmark's scenarios: what load wrk puts on each server. One entry per
// scenario; adding one is a few lines here (plus an app in bench/apps/ if it
// needs a new one). Every server serves the same app module for a scenario.

/** A WSGI app in bench/apps/: MODULE.py exposing CALLABLE. */
export interface AppRef {
  module: string;
  callable: string;
  /** Python modules the app imports (checked per server interpreter; Debian/pip package named in `hint`) */
  needs?: { module: string; hint: string }[];
}

export interface Scenario {
  name: string;
  title: string;
  app: AppRef;
  /** the request path wrk sends (and readiness checks) */
  path: string;
  /** a readiness GET of `path` must answer 200 with a body containing this */
  expect: string;
  /** Lua run by wrk before our done() hook: set wrk.method/wrk.body/wrk.headers or define request() */
  lua?: string;
  /** more wrk arguments, e.g. ['-H', 'Connection: close'] */
  wrkArgs?: string[];
  /** overrides --connections for this scenario */
  connections?: number;
}

const flask = { module: 'flask', hint: 'Debian python3-flask, or pip install flask' };

export const scenarios: Scenario[] = [
  {
    name: 'hello',
    title: 'hello-world: plain WSGI, 13-byte text/plain body',
    app: { module: 'hello', callable: 'application' },
    path: '/',
    expect: 'Hello, World!',
  },
  {
    name: 'flask',
    title: 'Flask JSON: GET /json, jsonify({"message": "Hello, World!"})',
    app: { module: 'flask_app', callable: 'application', needs: [flask] },
    path: '/json',
    expect: '"message"',
  },
];
