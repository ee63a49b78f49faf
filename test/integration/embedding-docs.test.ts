// Every TypeScript snippet in docs/embedding.md runs as written: each block
// (named by its first line, `// server.ts`) is type-checked against the
// package's own types, as a project that installed warpipe sees them
// (`import … from 'warpipe'`), then compiled and run, and what it does is
// checked with real requests to a real Python worker.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import ts from 'typescript';
import { ROOT, runCli, startServer } from '../helpers/server.js';

const doc = readFileSync(join(ROOT, 'docs/embedding.md'), 'utf8');
const blocks = [...doc.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!);
const project = mkdtempSync(join(tmpdir(), 'warpipe-docs-'));
const snippets = new Map<string, string>();

before(() => {
  // a project that installed warpipe: node_modules/warpipe is this checkout, built
  writeFileSync(join(project, 'package.json'), '{ "name": "mysite", "private": true, "type": "module" }\n');
  mkdirSync(join(project, 'node_modules'));
  symlinkSync(ROOT, join(project, 'node_modules/warpipe'), 'dir');
  for (const block of blocks) {
    const name = /^\/\/ ([\w-]+)\.ts\n/.exec(block)?.[1];
    assert.ok(name, `a TypeScript block in docs/embedding.md starts with its file name (// name.ts):\n${block}`);
    snippets.set(name, block);
    writeFileSync(join(project, `${name}.ts`), block);
    const js = ts.transpileModule(block, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } });
    writeFileSync(join(project, `${name}.js`), js.outputText);
  }
});
after(() => rmSync(project, { recursive: true, force: true }));

/** Beside the page's blocks: what the option types refuse (each `@ts-expect-error` must meet an error, or that is one). */
const TYPING = `import { startGateway } from 'warpipe';
export function typing(): void {
  void startGateway({ app: 'a.py', http: ['127.0.0.1:0'], workers: 2, keepaliveTimeout: 75, static: '/s=./s', preload: true });
  void startGateway({ app: 'a.py', workers: '2:8', limitRequestBody: '10M', socketMode: '660', middleware: ['./x.mjs', (app) => app] });
  // @ts-expect-error: no such setting
  void startGateway({ app: 'a.py', workrs: 2 });
  // @ts-expect-error: a mode is octal text
  void startGateway({ app: 'a.py', socketMode: 0o660 });
  // @ts-expect-error: seconds, not a boolean
  void startGateway({ app: 'a.py', keepaliveTimeout: true });
  // @ts-expect-error: one value only
  void startGateway({ app: 'a.py', chdir: ['/a', '/b'] });
  // @ts-expect-error: the app is required
  void startGateway({ http: '127.0.0.1:0' });
}
`;

test('docs/embedding.md: every TypeScript block type-checks against the package; the option types refuse what they should', () => {
  assert.ok(snippets.size >= 3, `found ${snippets.size} blocks`);
  writeFileSync(join(project, 'typing.ts'), TYPING);
  const program = ts.createProgram([...[...snippets.keys()].map((name) => join(project, `${name}.ts`)), join(project, 'typing.ts')], {
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
    strict: true,
    noUncheckedIndexedAccess: true,
    noEmit: true,
    skipLibCheck: true,
    types: ['node'],
    typeRoots: [join(ROOT, 'node_modules/@types')],
  });
  const diagnostics = ts.getPreEmitDiagnostics(program);
  const text = ts.formatDiagnostics(diagnostics, {
    getCanonicalFileName: (f) => f,
    getCurrentDirectory: () => project,
    getNewLine: () => '\n',
  });
  assert.equal(diagnostics.length, 0, text);
});

test('docs/embedding.md: every block runs, and does what the page says', async () => {
  const known = new Set(['server', 'errors', 'powered-by']);
  assert.deepEqual(
    [...snippets.keys()].filter((n) => !known.has(n)),
    [],
    'blocks this test does not know how to run: add them here',
  );

  // server.ts: serves examples/hello.py with a Server-Timing header; SIGTERM -> close() -> the process ends by itself
  const proc = spawn(process.execPath, [join(project, 'server.js')], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    proc.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening on (http:\/\/127\.0\.0\.1:\d+)\n/.exec(out);
      if (m) resolve(m[1]!);
    });
    proc.stderr.on('data', (d: Buffer) => (out += d.toString()));
    void exited.then((code) => reject(new Error(`server.js exited (${code}):\n${out}`)));
  });
  try {
    // (Connection: close: no idle connection of ours for the drain to wait for)
    const res = await fetch(url, { headers: { Connection: 'close' } });
    assert.equal(res.status, 200);
    assert.match(await res.text(), /Hello from warpipe/);
    assert.match(res.headers.get('server-timing') ?? '', /^app;dur=\d+\.\d$/);
    proc.kill('SIGTERM');
    assert.equal(await exited, 0, out);
  } finally {
    proc.kill('SIGKILL');
  }

  // errors.ts prints what the page says it prints
  const printed = /^prints `(.*)`\.$/m.exec(doc)?.[1];
  assert.ok(printed, 'the page says what errors.ts prints');
  const { stdout } = await promisify(execFile)(process.execPath, [join(project, 'errors.js')], { cwd: ROOT, timeout: 30_000 });
  assert.equal(stdout, `${printed}\n`);

  // powered-by.ts, compiled, as --middleware ./powered-by.js
  const srv = await startServer(join(ROOT, 'examples/hello.py'), { args: ['--middleware', './powered-by.js'], cwd: project });
  try {
    const res = await fetch(`${srv.url}/json`);
    assert.equal(res.headers.get('x-powered-by'), 'warpipe');
    assert.deepEqual(await res.json(), { hello: 'world', path: '/json' });
  } finally {
    assert.equal(await srv.stop(), 0);
  }

  // powered-by.ts as it is: Node 24 (and 22.18+) strips its types when it imports it; Node 20 cannot
  const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
  if (major >= 23 || (major === 22 && minor >= 18)) {
    const direct = await startServer(join(ROOT, 'examples/hello.py'), { args: ['--middleware', './powered-by.ts'], cwd: project });
    try {
      assert.equal((await fetch(`${direct.url}/`)).headers.get('x-powered-by'), 'warpipe');
    } finally {
      assert.equal(await direct.stop(), 0);
    }
  } else {
    const r = await runCli([join(ROOT, 'examples/hello.py'), '--http', '127.0.0.1:0', '--middleware', './powered-by.ts'], { cwd: project });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^warpipe: --middleware \/\S*\/powered-by\.ts: cannot import it: TypeError: Unknown file extension ".ts"/);
  }
});
