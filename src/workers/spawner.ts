// How the arbiter makes processes: the one place that starts Python. Injected,
// so that unit tests give the arbiter fake workers and templates that report
// ready, boot errors and exits when the test says.

import { ForkServer } from './fork.js';
import type { WorkerOptions } from './python.js';
import { TemplateProcess, type Template, type TemplateHooks } from './template.js';
import { WorkerProcess, type Worker, type WorkerHooks } from './worker.js';

export interface Spawner {
  /** Before the first process: with --preload, open the socket that forked workers connect to. */
  open(): Promise<void>;
  /** A worker process of its own. */
  worker(hooks: WorkerHooks): Worker;
  /** --preload: a stand-in for a worker that a template will fork (`Template.fork`). */
  forked(hooks: WorkerHooks): Worker;
  /** --preload: a template, which imports the app and forks workers. */
  template(hooks: TemplateHooks): Template;
  /** No processes from now on (--preload: the fork socket closes). */
  close(): void;
}

/** Real processes: the user's interpreter on worker.py. */
export function processSpawner(options: WorkerOptions, preload: boolean): Spawner {
  let forkServer: ForkServer | null = null;
  return {
    async open() {
      if (preload) forkServer = await ForkServer.open();
    },
    worker: (hooks) => new WorkerProcess(options, hooks),
    forked: (hooks) => new WorkerProcess(options, hooks, { forked: true }),
    template(hooks) {
      if (forkServer === null) throw new Error('a template needs the fork socket: open() first, with preload');
      return new TemplateProcess(options, hooks, forkServer);
    },
    close() {
      forkServer?.close();
    },
  };
}
