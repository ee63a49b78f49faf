// `warpipe --help`, generated from the settings table: every flag with its
// doc, default, WARPIPE_* variable and the peer setting it corresponds to.

import { settings, type Kind, type Setting } from './settings.js';

/** `warpipe --help`, generated from the settings table. */
export function helpText(): string {
  const sections: Record<Setting['section'], string> = {
    app: 'The app', listen: 'Listening', workers: 'Workers', limits: 'Limits', timeouts: 'Timeouts', logging: 'Logging',
  };
  const lines = [
    'usage: warpipe [OPTIONS] APP',
    '       warpipe status --control PATH    print the running pool (workers, states, requests)',
    '       warpipe reload --control PATH    reload gracefully, as SIGHUP does',
    '',
    'Serve a Python WSGI (PEP 3333) app. APP is MODULE:CALLABLE (the callable may be a dotted',
    'attribute path, or NAME() to call a factory), MODULE (callable "application", then "app"),',
    'or path/to/file.py[:CALLABLE].',
    '',
  ];
  for (const [section, title] of Object.entries(sections)) {
    lines.push(`${title}:`);
    for (const s of settings.filter((x) => x.section === section)) {
      const flag = (s.short ? `${s.short}, ` : '') + s.flag + (s.kind === 'bool' ? '' : ` ${valueNames[s.kind]}`);
      const def = defaultText(s);
      lines.push(`  ${flag}`);
      lines.push(`      ${s.doc}${def ? ` [${def}]` : ''} (env ${s.env}${s.peer ? `; like ${s.peer}` : ''})`);
    }
    lines.push('');
  }
  lines.push('  -h, --help      show this help and exit', '  -v, --version   print the version and exit', '');
  return lines.join('\n');
}

const valueNames: Record<Kind, string> = { string: 'TEXT', int: 'N', range: 'N|MIN:MAX', bool: '', seconds: 'SECONDS', bytes: 'BYTES', address: 'ADDRESS', pair: 'KEY=VALUE', mount: 'PREFIX=URL', mode: 'MODE', level: 'LEVEL' };

function defaultText(s: Setting): string {
  if (Array.isArray(s.default) || s.default === '' || s.default === false || s.default === null) return '';
  if (s.default === true) return 'on';
  if (s.kind === 'mode') return (s.default as number).toString(8);
  if (s.kind === 'seconds') return `${String(s.default)}s`;
  if (s.kind === 'int' && s.default === 0) return '';
  return String(s.default);
}
