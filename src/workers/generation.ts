// A generation: the workers that imported one version of the app's code (and,
// with --preload, the template that imported it for them), with the arbiter's
// bookkeeping for each worker. The pool starts generation 0; each reload
// starts the next, which serves once all of it is ready, and the one it
// replaces retires. The processes know none of this: it is the arbiter's.

import type { Template } from './template.js';
import type { Worker } from './worker.js';

/** The arbiter's bookkeeping for one worker. */
export interface Slot {
  readonly worker: Worker;
  readonly generation: Generation;
  /** When it was spawned (clock ms). */
  readonly spawnedAt: number;
  /** It is recycled after this many requests (--max-requests plus its jitter; Infinity: never). */
  readonly requestLimit: number;
  /** Why it is leaving (a recycling cause, reload, timeout, scaled down, failed reload), once it is. */
  retiring: string | null;
  /** When it is to be killed (clock ms; 0: not doomed). */
  killAt: number;
  /** Since when it has had no request (clock ms; kept by manageWorkers). */
  idleSince: number;
  /** Recycling: the worker it was started to replace, and why; until it is ready. */
  replaces: { old: Slot; reason: string } | null;
  /** Recycling: the replacement starting for it. */
  replacedBy: Slot | null;
}

export class Generation {
  /** Its workers, each with its bookkeeping. */
  readonly slots = new Map<Worker, Slot>();
  /** --preload: the process that imported this generation's code and forks its workers. */
  template: Template | null = null;
  /** When `template` was spawned (clock ms). */
  templateSince = 0;
  /** --preload: workers waiting for the template to be ready to fork them. */
  readonly unforked = new Set<Slot>();
  /** Why it no longer serves (a reload replaced it, or it failed to start), once it does not. */
  retired: string | null = null;

  constructor(readonly number: number) {}

  /** Every worker of it has said READY (or is gone). */
  get ready(): boolean {
    for (const w of this.slots.keys()) if (w.state === 'booting') return false;
    return true;
  }

  /** No process of it is left. */
  get empty(): boolean {
    return this.slots.size === 0 && this.template === null;
  }
}
