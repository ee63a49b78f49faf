// `npm run lint`: Biome's lint rules (biome.jsonc: its recommended set, and no
// function over 100 lines, 120 in src/protocols/), then what Biome cannot check:
// no line over 140 characters (a string or a comment the formatter cannot wrap)
// and no file in src/ over 700 lines. Exits 1 if either found something.
// `--check-format` also runs the format check (`npm test` does).
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const MAX_COLUMNS = 140;
const MAX_FILE_LINES = 700;
const DIRS = ['src', 'test', 'bench', 'scripts'];

const biome = (args) => {
  const r = spawnSync(process.execPath, ['node_modules/@biomejs/biome/bin/biome', ...args], { stdio: 'inherit' });
  if (r.error) process.stderr.write(`biome: ${r.error.message}\n`);
  return r.status ?? 1;
};

function* sources(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* sources(path);
    else if (/\.(ts|mjs)$/.test(entry.name)) yield path;
  }
}

const sizes = () => {
  const found = [];
  for (const file of DIRS.flatMap((d) => [...sources(d)])) {
    const lines = readFileSync(file, 'utf8').split('\n');
    if (lines.at(-1) === '') lines.pop();
    lines.forEach((line, i) => {
      if (line.length > MAX_COLUMNS) found.push(`${file}:${i + 1}: ${line.length} characters (at most ${MAX_COLUMNS})`);
    });
    if (file.startsWith('src/') && lines.length > MAX_FILE_LINES) {
      found.push(`${file}: ${lines.length} lines (at most ${MAX_FILE_LINES} in src/)`);
    }
  }
  for (const f of found) process.stderr.write(`${f}\n`);
  if (found.length > 0) process.stderr.write(`${found.length} lines or files too long\n`);
  return found.length === 0 ? 0 : 1;
};

const failed = [];
if (biome(['lint', '--error-on-warnings']) !== 0) failed.push('biome lint');
if (sizes() !== 0) failed.push('line width or file length');
if (process.argv.includes('--check-format') && biome(['format']) !== 0) failed.push('format (npm run format fixes it)');
if (failed.length > 0) {
  process.stderr.write(`lint: ${failed.join(', ')} failed\n`);
  process.exit(1);
}
