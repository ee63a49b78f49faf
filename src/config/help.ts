// `warpipe --help`, generated from the settings table: every flag with its
// doc, default, WARPIPE_* variable and the peer setting it corresponds to.

import { settings, type Kind, type Setting } from './settings.js';
import type { Command } from './load.js';

/** `warpipe --help`, generated from the settings table. */
export function helpText(): string {
  const sections: Record<Setting['section'], string> = {
    app: 'The app',
    listen: 'Listening',
    workers: 'Workers',
    limits: 'Limits',
    timeouts: 'Timeouts',
    logging: 'Logging',
  };
  const lines = [
    'usage: warpipe [OPTIONS] APP',
    '       warpipe check [OPTIONS] [APP]    check the settings and import the app, serving nothing',
    '       warpipe status --control PATH    print the running pool (workers, states, requests)',
    '       warpipe reload --control PATH    reload gracefully, as SIGHUP does',
    '',
    'Serve a Python WSGI (PEP 3333) app. APP is MODULE:CALLABLE (the callable may be a dotted',
    'attribute path, or NAME() to call a factory), MODULE (callable "application", then "app"),',
    'or path/to/file.py[:CALLABLE]. Every option can also be given as its WARPIPE_* variable, or',
    'as a key of the --config file; the command line wins, then the variables, then the file.',
    '',
    'Examples:',
    '  warpipe myproject.wsgi:application -b 0.0.0.0:8000 -w 4',
    '  warpipe app.py --python ~/venvs/site/bin/python --chdir /srv/site --static /static=static',
    "  warpipe 'factory:create_app()' --fastcgi unix:/run/site.sock --user www-data",
    '  warpipe --config /etc/warpipe/site.toml',
    '  warpipe check --config /etc/warpipe/site.toml',
    '',
  ];
  for (const [section, title] of Object.entries(sections)) {
    lines.push(`${title}:`);
    for (const s of settings.filter((x) => x.section === section)) {
      const flag = (s.short ? `${s.short}, ` : '') + s.flag + (s.kind === 'bool' ? '' : ` ${valueName(s)}`);
      const def = defaultText(s);
      lines.push(`  ${flag}`);
      lines.push(`      ${s.doc}${def ? ` [${def}]` : ''} (env ${s.env}${s.peer ? `; like ${s.peer}` : ''})`);
    }
    lines.push('');
  }
  lines.push('  -h, --help      show this help and exit', '  -v, --version   print the version and exit', '');
  return lines.join('\n');
}

/** What the flag takes, as the README writes it: PREFIX=DIR for --static, PATH for a file. */
function valueName(s: Setting): string {
  if (s.path === 'pair') return 'PREFIX=DIR';
  if (s.path === 'file') return 'PATH';
  if (s.path === 'dir') return 'DIR';
  if (s.path === 'command') return 'PYTHON';
  if (s.path === 'module') return 'MODULE';
  return valueNames[s.kind];
}

const valueNames: Record<Kind, string> = {
  string: 'TEXT',
  int: 'N',
  range: 'N|MIN:MAX',
  bool: '',
  seconds: 'SECONDS',
  bytes: 'BYTES',
  address: 'ADDRESS',
  pair: 'KEY=VALUE',
  mount: 'PREFIX=URL',
  mode: 'MODE',
  level: 'LEVEL',
};

function defaultText(s: Setting): string {
  if (Array.isArray(s.default) || s.default === '' || s.default === false || s.default === null) return '';
  if (s.default === true) return 'on';
  if (s.kind === 'mode') return (s.default as number).toString(8);
  if (s.kind === 'seconds') return `${String(s.default)}s`;
  if (s.kind === 'int' && s.default === 0) return '';
  return String(s.default);
}

const commandUsage: Record<Command, string[]> = {
  check: [
    'usage: warpipe check [--config PATH] [OPTIONS] [APP]',
    '',
    'Check everything warpipe would start with, and serve nothing (as nginx -t and gunicorn',
    '--check-config do): the settings and the config file, every directory and file they name,',
    'the interpreter (as --user, when given), and the app, imported by one real worker with the',
    'same interpreter, environment, --chdir and --pythonpath. Prints what it checked.',
    '',
    'Exit status: 0 all good, 2 a bad setting (one line says which), 3 the app failed to import',
    '(its traceback is printed). OPTIONS and APP are those of warpipe --help.',
  ],
  status: [
    'usage: warpipe status [--control PATH | --config PATH]',
    '',
    "Print the running pool: each worker's pid, state, requests served, what it runs and for how",
    "long, and its memory. PATH is the gateway's --control socket (else WARPIPE_CONTROL, else the",
    '`control` of the --config file or WARPIPE_CONFIG).',
  ],
  reload: [
    'usage: warpipe reload [--control PATH | --config PATH]',
    '',
    'Reload gracefully, as SIGHUP does: new workers import the code afresh, and the old ones stop',
    "once all of them are ready. PATH is the gateway's --control socket (else WARPIPE_CONTROL, else",
    'the `control` of the --config file or WARPIPE_CONFIG).',
  ],
};

/** `warpipe check --help`, `warpipe status --help`, `warpipe reload --help`. */
export function commandHelp(command: Command): string {
  return `${commandUsage[command].join('\n')}\n`;
}
