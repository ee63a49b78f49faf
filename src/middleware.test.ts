import { test } from 'node:test';
import assert from 'node:assert/strict';
import { wrapApp, type Piece } from './middleware.js';
import { ConfigCheckError } from './errors.js';
import type { App, Environ, Middleware } from './pipeline/types.js';

const app: App = (_environ, startResponse) => {
  startResponse('200 OK', []);
  return ['app'];
};
const piece = (name: string, middleware: Middleware): Piece => ({ name, middleware });
const tag =
  (name: string): Middleware =>
  (inner) =>
  async (environ, startResponse) => {
    const body = (await inner(environ, startResponse)) as string[];
    return [name, ...body];
  };

test('no middleware: the app itself, so a request pays for nothing', () => {
  assert.equal(wrapApp([], app), app);
});

test('the first piece is the outermost, as compose has it', async () => {
  const wrapped = wrapApp([piece('a', tag('a')), piece('b', tag('b'))], app);
  const body = await wrapped({} as Environ, () => () => {});
  assert.deepEqual(body, ['a', 'b', 'app']);
});

test('a piece that throws or gives back no function is refused once, at start, by its name', () => {
  assert.throws(
    () => wrapApp([piece('--middleware ./x.mjs', () => undefined as unknown as App)], app),
    (err: Error) =>
      err instanceof ConfigCheckError && err.message.startsWith('--middleware ./x.mjs: it returned undefined when given the app'),
  );
  assert.throws(
    () =>
      wrapApp(
        [
          piece('--middleware ./y.mjs', () => {
            throw new TypeError('bad\nmore');
          }),
        ],
        app,
      ),
    new ConfigCheckError('--middleware ./y.mjs: it threw when given the app: TypeError: bad'),
  );
});
