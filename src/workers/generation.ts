// A generation: the workers that imported one version of the app's code (and,
// with --preload, the template that imported it for them), with the arbiter's
// bookkeeping for each worker. The pool starts generation 0; each reload
// starts the next, which serves once all of it is ready, and the one it
// replaces retires. The processes know none of this: it is the arbiter's.

import type { Template } from './template.js';
import type { Worker } from './worker.js';

/** One process as `warpipe status` shows it: a row of PoolStatus's `workers` (pool-status.ts). */
export interface StatusRow {
  pid: number;
  generation: number;
  /** template, booting, warming, busy, idle, retiring (why), ready (a reload's, not serving yet), stopping */
  state: string;
  served: number;
  rss: number;
  /** seconds since spawn */
  age: number;
  running: { request: string; seconds: number }[];
}

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
  /** --warmup: it said READY and answers its warm-up requests (it is not ready for the pool until it has). */
  warming: boolean;
  /** Why it was killed before it was taken on (a failed warm-up), for the line its exit gets. */
  failed: string | null;
  /** When it is to be killed (clock ms; 0: not doomed). */
  killAt: number;
  /** Retiring: when its --graceful-timeout runs out and it is killed with what it still runs (clock ms; 0: never). */
  drainBy: number;
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

  /** Every worker of it has said READY and answered its warm-up (or is gone). */
  get ready(): boolean {
    for (const slot of this.slots.values()) if (slot.worker.state === 'booting' || slot.warming) return false;
    return true;
  }

  /** No process of it is left. */
  get empty(): boolean {
    return this.slots.size === 0 && this.template === null;
  }

  /** For a generation that missed its deadline: which workers were still warming up, on what ('' if none). */
  stillWarming(): string {
    const warming = [...this.slots.values()].filter((s) => s.warming);
    if (warming.length === 0) return '';
    const on = warming.map((s) => `worker ${s.worker.pid} on ${s.worker.channels[0]?.exchange?.describe() ?? '?'}`);
    return ` (still warming up: ${on.join(', ')})`;
  }

  /** Its template as `warpipe status` shows it (call only when it has one). */
  templateRow(now: number): StatusRow {
    const t = this.template!;
    return {
      pid: t.pid,
      generation: this.number,
      state: 'template',
      served: 0,
      rss: t.rss(),
      age: (now - this.templateSince) / 1000,
      running: [],
    };
  }

  /** Its workers as `warpipe status` shows them; `serving`: whether the dispatcher lends to one. */
  workerRows(now: number, serving: (w: Worker) => boolean): StatusRow[] {
    const rows: StatusRow[] = [];
    for (const slot of this.slots.values()) {
      const w = slot.worker;
      const running: { request: string; seconds: number }[] = [];
      for (const ch of w.channels) {
        if (ch.exchange) running.push({ request: ch.exchange.describe(), seconds: ch.runningFor(now) / 1000 });
      }
      let state: string = w.state;
      if (slot.retiring !== null) state = `retiring (${slot.retiring})`;
      else if (slot.warming) state = 'warming';
      else if (w.state !== 'booting' && serving(w)) state = w.busy > 0 ? 'busy' : 'idle';
      rows.push({
        pid: w.pid,
        generation: this.number,
        state,
        served: w.served,
        rss: w.rss(),
        age: (now - slot.spawnedAt) / 1000,
        running,
      });
    }
    return rows;
  }
}
