// The CGI scripts both the --cgi tests and the fcgiwrap interop tests run, so
// the same scripts behave the same whichever runs them.

import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';

/** Write `name` under `dir`, executable unless `mode` says otherwise. */
export function writeScript(dir: string, name: string, text: string, mode = 0o755): void {
  writeFileSync(`${dir}/${name}`, text);
  chmodSync(`${dir}/${name}`, mode);
}

/**
 * Into `dir`: env.sh (prints its environment), echo.py (201, X-Len, the body
 * back), redirect.sh (Location only), sub/deep.sh (its SCRIPT_NAME and
 * PATH_INFO), notexec.sh (not executable).
 */
export function writeCgiScripts(dir: string): void {
  mkdirSync(`${dir}/sub`, { recursive: true });
  writeScript(dir, 'env.sh', '#!/bin/sh\necho "Content-Type: text/plain"\necho\nenv | sort\n');
  writeScript(
    dir,
    'echo.py',
    [
      '#!/usr/bin/env python3',
      'import os, sys',
      'body = sys.stdin.buffer.read(int(os.environ.get("CONTENT_LENGTH") or 0))',
      'sys.stdout.write("Status: 201 Created\\r\\nContent-Type: application/octet-stream\\r\\nX-Len: %d\\r\\n\\r\\n" % len(body))',
      'sys.stdout.flush()',
      'sys.stdout.buffer.write(body)',
      '',
    ].join('\n'),
  );
  writeScript(dir, 'redirect.sh', '#!/bin/sh\necho "Location: /elsewhere"\necho\n');
  writeScript(dir, 'sub/deep.sh', '#!/bin/sh\nprintf "Content-Type: text/plain\\n\\ndeep $SCRIPT_NAME $PATH_INFO"\n');
  writeScript(dir, 'notexec.sh', '#!/bin/sh\necho x\n', 0o644);
}
