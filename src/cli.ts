#!/bin/sh
//usr/bin/env true; exec "${WARPIPE_NODE:-node}" --max-semi-space-size=8 "$0" "$@"
// (Run as the `warpipe` command, the line above is shell: it starts Node --
// $WARPIPE_NODE if set, else the `node` on PATH -- with a young generation
// capped at 8 MiB per semi-space. Node's default of 16 MiB grows the gateway to
// ~84 MiB RSS under load for no measurable speed; at 8 it stays ~71 MiB and is
// as fast. To JavaScript the line is a comment. `node dist/src/cli.js` also
// works, with Node's defaults. docs/deploy.md "The runtime" says which Node.)
//
// The command line: argv (and the WARPIPE_* variables, and the --config file)
// becomes a Config (src/config/), the Config a running Gateway (src/gateway.ts),
// and each failure an exit code:
//   0 clean shutdown, 1 runtime failure (cannot bind), 2 bad arguments,
//   3 the app failed to boot (gunicorn's WORKER_BOOT_ERROR).
// `warpipe check` stops short of serving (src/check-command.ts); `warpipe status`
// and `warpipe reload` talk to a running gateway through its --control socket.

import { COMMANDS, loadConfig, type Command } from './config/load.js';
import { commandHelp, helpText } from './config/help.js';
import { readConfigFile } from './config/file.js';
import { ConfigCheckError, ConfigError, StartError, WorkerError } from './errors.js';
import cluster from 'node:cluster';
import { resolve } from 'node:path';
import { Gateway, version } from './gateway.js';
import { memberOf } from './gateways.js';
import { Primary } from './primary.js';
import { formatStatus, sendControl } from './control.js';
import { checkApp } from './check-command.js';

const EXIT_RUNTIME = 1;
const EXIT_USAGE = 2;
const EXIT_BOOT = 3;

function fail(message: string, code: number): never {
  process.stderr.write(`warpipe: ${message}\n`);
  process.exit(code);
}

/** One line on stderr and the exit code for a failure to start; anything else is a bug, and crashes with its stack. */
function exitOn(err: unknown): never {
  if (err instanceof ConfigCheckError) fail(err.message, EXIT_USAGE);
  if (err instanceof ConfigError) fail(`${err.message} (see warpipe --help)`, EXIT_USAGE);
  if (err instanceof StartError) fail(err.message, EXIT_RUNTIME);
  if (err instanceof WorkerError) process.exit(EXIT_BOOT); // the gateway logged it, with the app's traceback
  throw err;
}

/** The control socket of `warpipe status|reload`: --control, else WARPIPE_CONTROL, else the --config file's (or WARPIPE_CONFIG's). */
function controlPath(name: string, args: readonly string[]): string {
  let path = '';
  let config = '';
  const usage = `(usage: warpipe ${name} --control PATH, or --config PATH)`;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const eq = arg.startsWith('--') ? arg.indexOf('=') : -1;
    const flag = eq > 0 ? arg.slice(0, eq) : arg;
    if (flag !== '--control' && flag !== '--config') fail(`warpipe ${name}: unexpected argument ${arg} ${usage}`, EXIT_USAGE);
    const given = eq > 0 ? arg.slice(eq + 1) : args[++i];
    if (given === undefined) fail(`warpipe ${name}: ${flag} needs a value ${usage}`, EXIT_USAGE);
    if (flag === '--control') path = given;
    else config = given;
  }
  path ||= process.env.WARPIPE_CONTROL ?? '';
  config ||= process.env.WARPIPE_CONFIG ?? '';
  if (!path && config) {
    try {
      const file = readConfigFile(resolve(config));
      path = (file.values.get('control') as string | undefined) ?? '';
      if (!path) fail(`warpipe ${name}: ${file.path} names no control socket (control = "PATH")`, EXIT_USAGE);
    } catch (err) {
      if (err instanceof ConfigError) fail(err.message, EXIT_USAGE);
      throw err;
    }
  }
  if (!path) fail(`warpipe ${name} needs --control PATH (the gateway's --control socket), WARPIPE_CONTROL or --config PATH`, EXIT_USAGE);
  return path;
}

/** `warpipe status|reload [--control PATH | --config PATH]`: talk to a running gateway. */
async function command(name: 'status' | 'reload', args: readonly string[]): Promise<void> {
  const path = controlPath(name, args);
  let reply;
  try {
    reply = await sendControl(path, name);
  } catch (err) {
    fail(`cannot reach the gateway at ${path}: ${(err as Error).message}`, EXIT_RUNTIME);
  }
  if (!reply.ok) fail(reply.error ?? 'the gateway refused the command', EXIT_RUNTIME);
  process.stdout.write(name === 'status' && reply.status ? `${formatStatus(reply.status)}\n` : 'reloading\n');
}

export async function main(argv: readonly string[]): Promise<void> {
  const first = argv[0] as Command | undefined;
  if (first !== undefined && COMMANDS.includes(first) && (argv.includes('--help') || argv.includes('-h'))) {
    process.stdout.write(commandHelp(first));
    return;
  }
  if (first === 'status' || first === 'reload') return command(first, argv.slice(1));
  let action;
  try {
    action = loadConfig(argv);
  } catch (err) {
    exitOn(err);
  }
  if (action.action === 'help') {
    process.stdout.write(action.command ? commandHelp(action.command) : helpText());
    return;
  }
  if (action.action === 'version') {
    process.stdout.write(`warpipe ${version}\n`);
    return;
  }
  try {
    if (action.action === 'check') process.exit(await checkApp(action.config));
    // --gateways N: this process is the primary, or one of its gateways (src/primary.ts)
    const member = memberOf(process.env, cluster.isWorker);
    if (Primary.needed(action.config) && member === null) await Primary.start(action.config);
    else await Gateway.start(action.config, member);
  } catch (err) {
    exitOn(err);
  }
}

void main(process.argv.slice(2));
