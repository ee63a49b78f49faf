// The snippets of the docs, read out of the Markdown as written, so a test runs
// what a reader copies (issue 14: "every snippet in README.md and
// docs/deploy.md is exercised by a test or a script as written, paths aside").
//
// Each fenced block is named by an HTML comment on the line before its fence,
// which also says which test runs it:
//
//     <!-- snippet deploy-fastcgi-nginx: test/interop/docs.test.ts -->
//     ```nginx
//     ...
//     ```
//
// `test/interop/docs.test.ts` checks that every fence of the checked files has
// such a marker, and that the test file it names reads the snippet by its name
// (the name appears there in quotes). A test reads one with `snippet(file, name)`,
// changes only paths, ports and the like with `substitute` (each one must be
// found, so a doc that changes under a test fails it), and runs it.

import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, ROOT } from './server.js';

export interface Snippet {
  /** The Markdown file, relative to the repository. */
  file: string;
  /** 1-based line of the opening fence. */
  line: number;
  /** The fence's info string (`sh`, `nginx`, `ini`…; '' for none). */
  lang: string;
  /** From the marker: the snippet's name and the test file that runs it (null: no marker). */
  name: string | null;
  runBy: string | null;
  /** Why a snippet marked `-` is not run (a diagram). */
  why: string | null;
  text: string;
}

/** `<!-- snippet NAME: TEST -->`, or `<!-- snippet NAME: - (why it is no code) -->` for a picture. */
const MARKER = /^<!--\s*snippet\s+([\w.-]+)\s*:\s*(\S+)(?:\s+\(([^)]*)\))?\s*-->\s*$/;

/** Every fenced block of `file` (relative to the repository), with its marker if it has one. */
export function readSnippets(file: string): Snippet[] {
  const lines = readFileSync(join(ROOT, file), 'utf8').split('\n');
  const out: Snippet[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^(`{3,})(.*)$/.exec(lines[i]!);
    if (!open) continue;
    const fence = open[1]!;
    let end = i + 1;
    while (end < lines.length && lines[end]!.trim() !== fence) end++;
    const marker = i > 0 ? MARKER.exec(lines[i - 1]!) : null;
    out.push({
      file,
      line: i + 1,
      lang: open[2]!.trim(),
      name: marker?.[1] ?? null,
      runBy: marker?.[2] ?? null,
      why: marker?.[3] ?? null,
      text: `${lines.slice(i + 1, end).join('\n')}\n`,
    });
    i = end;
  }
  return out;
}

/** The snippet named `name` in `file`. */
export function snippet(file: string, name: string): Snippet {
  const found = readSnippets(file).filter((s) => s.name === name);
  assert.equal(found.length, 1, `${file} has one snippet named ${name}`);
  return found[0]!;
}

/** `text` with each [from, to] replaced everywhere; every `from` must be there (a doc that moved on fails its test). */
export function substitute(text: string, pairs: readonly (readonly [string, string])[]): string {
  let out = text;
  for (const [from, to] of pairs) {
    assert.ok(out.includes(from), `the snippet still says ${JSON.stringify(from)}:\n${text}`);
    out = out.split(from).join(to);
  }
  return out;
}

/** The command lines of a shell snippet: continuations joined, comments and blank lines dropped. */
export function commandLines(text: string): string[] {
  return text
    .replace(/\\\n\s*/g, '')
    .split('\n')
    .map((l) => l.replace(/\s+#\s.*$/, '').trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
}

/**
 * A directory with `warpipe` (and `npx warpipe`) on PATH as an installed package would have them: the built CLI run
 * through its own launcher line (`#!/bin/sh`, then `exec node …`), as `npm install -g` links it.
 */
export function shimDir(dir: string): string {
  const bin = join(dir, 'bin');
  mkdirSync(bin, { recursive: true });
  writeFileSync(join(bin, 'warpipe'), `#!/bin/sh\nexec /bin/sh ${CLI} "$@"\n`);
  writeFileSync(join(bin, 'npx'), `#!/bin/sh\nif [ "$1" = warpipe ]; then shift; exec warpipe "$@"; fi\nexec ${npxPath()} "$@"\n`);
  chmodSync(join(bin, 'warpipe'), 0o755);
  chmodSync(join(bin, 'npx'), 0o755);
  return bin;
}

function npxPath(): string {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    try {
      readFileSync(join(dir, 'npx'));
      return join(dir, 'npx');
    } catch {
      // not here
    }
  }
  return 'npx';
}

export interface Running {
  proc: ChildProcess;
  logs(): string;
  waitForLog(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** SIGTERM (unless it already exited) and the exit code. */
  stop(): Promise<number | null>;
}

/**
 * Run a shell script (a snippet after `substitute`) with bash, `warpipe` on PATH (`shimDir`). Its last command is
 * exec'd, so a server it starts is the process returned, and SIGTERM reaches it.
 */
export function runScript(script: string, options: { cwd: string; bin: string; env?: NodeJS.ProcessEnv }): Running {
  const lines = script
    .replace(/\\\n\s*/g, '')
    .trimEnd()
    .split('\n');
  const last = lines.length - 1;
  lines[last] = lines[last]!.replace(/^((?:\w+=\S*\s+)*)/, '$1exec '); // VAR=value exec command
  const proc = spawn('bash', ['-euc', lines.join('\n')], {
    cwd: options.cwd,
    env: { ...process.env, ...options.env, PATH: `${options.bin}:${process.env.PATH ?? ''}` },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  const waiters: (() => void)[] = [];
  const onText = (d: Buffer): void => {
    log += d.toString();
    for (const w of waiters.splice(0)) w();
  };
  proc.stdout!.on('data', onText);
  proc.stderr!.on('data', onText);
  const exited = new Promise<number | null>((resolve) =>
    proc.on('exit', (code) => {
      for (const w of waiters.splice(0)) w();
      resolve(code);
    }),
  );
  const waitForLog = async (pattern: RegExp, timeoutMs = 30_000): Promise<string> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = pattern.exec(log);
      if (m) return m[0];
      if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`exited (${proc.exitCode}) before ${pattern}:\n${log}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${pattern}:\n${log}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  };
  return {
    proc,
    logs: () => log,
    waitForLog,
    stop: async () => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 20_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

/** The files the docs mean by `app.py`, `app:application`, `myproject.wsgi:application` and `factory:create_app()`, in `dir`. */
export function writeDocApps(dir: string): void {
  const app = `import hashlib, json

def application(environ, start_response):
    body = environ['wsgi.input'].read() if environ.get('CONTENT_LENGTH') else b''
    out = json.dumps({
        'path': environ['PATH_INFO'],
        'length': len(body),
        'sha256': hashlib.sha256(body).hexdigest(),
        'remote_addr': environ.get('REMOTE_ADDR'),
        'scheme': environ['wsgi.url_scheme'],
        'protocol': environ['SERVER_PROTOCOL'],
    }).encode()
    start_response('200 OK', [('Content-Type', 'application/json'), ('Content-Length', str(len(out)))])
    return [out]
`;
  writeFileSync(join(dir, 'app.py'), app);
  mkdirSync(join(dir, 'myproject'), { recursive: true });
  writeFileSync(join(dir, 'myproject', '__init__.py'), '');
  writeFileSync(join(dir, 'myproject', 'wsgi.py'), app);
  writeFileSync(join(dir, 'factory.py'), `${app}\ndef create_app():\n    return application\n`);
}

/** `script` run (runScript) until its workers are ready; stopped again if they never are. */
export async function serveScript(script: string, options: { cwd: string; bin: string; env?: NodeJS.ProcessEnv }): Promise<Running> {
  const r = runScript(script, options);
  try {
    await r.waitForLog(/workers? ready/);
  } catch (err) {
    await r.stop();
    throw err;
  }
  return r;
}

export { ROOT };
