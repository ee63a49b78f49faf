// --preload: a template, one per generation. It imports the app once and forks
// the generation's workers when told to (FORK), says which pid each got
// (FORKED), reaps them and reports their exits (EXITED): they are its children,
// not the gateway's. It serves no request itself, so it has no request
// channels, only the control channel on fd 3.

import type { ChildProcess } from 'node:child_process';
import type { Socket } from 'node:net';
import { WorkerError, codes } from '../errors.js';
import type { ForkServer } from './fork.js';
import { FrameReader, T, frame } from './frame.js';
import { exitText, pythonVersion, rssMiB, signalName, spawnPython, type WorkerOptions } from './python.js';
import { WorkerProcess, type Worker, type WorkerState } from './worker.js';

/** A template as the arbiter sees it: a TemplateProcess, or a fake in unit tests. */
export interface Template {
  readonly pid: number;
  readonly state: WorkerState;
  /** The interpreter's version, once it said READY. */
  readonly python: string;
  /** Why it failed to boot, if it did. */
  readonly failure: WorkerError | null;
  /** Fork `w`, a stand-in from `Spawner.forked`; the forked process then reports as any worker does. */
  fork(w: Worker): void;
  /** Exit (the workers it forked live on). */
  stop(): void;
  /** Resident memory in MiB (0: unknown). */
  rss(): number;
  kill(signal?: NodeJS.Signals): void;
}

export interface TemplateHooks {
  templateOnReady(t: Template): void;
  templateOnBootError(t: Template, err: WorkerError): void;
  /** It broke the protocol (reported once); it must be killed. */
  templateOnBroken(t: Template, err: WorkerError): void;
  templateOnExit(t: Template, code: number | null, signal: NodeJS.Signals | null): void;
}

export class TemplateProcess implements Template {
  readonly pid: number;
  state: WorkerState = 'booting';
  python = '';
  private readonly proc: ChildProcess;
  private readonly control: Socket;
  private bootError: WorkerError | null = null;
  private readySeen = false;
  private broken = false;
  /** Workers told to fork, by id, until the template says their pid. */
  private readonly forks = new Map<number, WorkerProcess>();
  /** The workers it forked, by pid, until it reports their exit. */
  private readonly children = new Map<number, WorkerProcess>();

  constructor(
    options: WorkerOptions,
    private readonly hooks: TemplateHooks,
    private readonly server: ForkServer,
  ) {
    const proc = spawnPython(options, ['--preload', server.path], 0);
    this.proc = proc;
    this.pid = proc.pid ?? -1;
    this.control = proc.stdio[3] as Socket;
    const reader = new FrameReader((type, payload) => this.controlOnFrame(type, payload));
    this.control.on('data', (chunk: Buffer) => {
      try {
        reader.receive(chunk);
      } catch (err) {
        this.broke(err as WorkerError);
      }
    });
    this.control.on('error', () => {});
    proc.on('error', (err) => {
      // spawn failed (interpreter not found, not executable): no 'exit' will follow
      this.bootError ??= new WorkerError(codes.WORKER_BOOT, `cannot start ${options.python}: ${err.message}`);
      if (proc.pid === undefined) this.procOnExit(null, null);
    });
    proc.on('exit', (code, signal) => this.procOnExit(code, signal));
  }

  /** Why it failed to boot, if it did. */
  get failure(): WorkerError | null {
    return this.bootError;
  }

  /** Fork `w`, a stand-in made with `forked`; its sockets arrive through the fork server. */
  fork(w: Worker): void {
    if (!(w instanceof WorkerProcess) || w.proc !== null) throw new TypeError('a template forks only forked stand-ins');
    const { id, token } = this.server.expect(w);
    this.forks.set(id, w);
    const payload = Buffer.alloc(4 + token.length);
    payload.writeUInt32LE(id, 0);
    token.copy(payload, 4);
    this.control.write(frame(T.FORK, payload));
  }

  stop(): void {
    if (this.state === 'exited') return;
    const asked = this.state === 'stopping';
    this.state = 'stopping';
    if (!asked && !this.control.destroyed) this.control.write(frame(T.STOP));
  }

  rss(): number {
    return this.pid > 0 ? rssMiB(this.pid) : 0;
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    if (this.state === 'exited') return;
    try {
      this.proc.kill(signal);
    } catch {
      // already gone
    }
  }

  private controlOnFrame(type: number, payload: Buffer): void {
    if (type === T.FORKED && payload.length === 16) {
      const id = payload.readUInt32LE(0);
      const w = this.forks.get(id);
      this.forks.delete(id);
      const pid = payload.readUInt32LE(4);
      const start = payload.readBigUInt64LE(8);
      if (w) this.children.set(pid, w);
      w?.forkedAs(pid, start === 0n ? '' : String(start), this);
    } else if (type === T.EXITED && payload.length === 8) {
      const pid = payload.readUInt32LE(0);
      const code = payload.readInt32LE(4);
      const w = this.children.get(pid);
      this.children.delete(pid);
      w?.procOnExit(code >= 0 ? code : null, code < 0 ? signalName(-code) : null);
    } else if (type === T.READY && !this.readySeen && this.state !== 'exited' && this.state !== 'ready') {
      // stopping: told to stop while it booted (a reload that failed or was overtaken); not news
      this.readySeen = true;
      this.python = pythonVersion(payload);
      if (this.state === 'stopping') return;
      this.state = 'ready';
      this.hooks.templateOnReady(this);
    } else if (type === T.BOOT_ERROR) {
      this.bootError = new WorkerError(codes.WORKER_BOOT, payload.toString('utf8').trimEnd());
      this.hooks.templateOnBootError(this, this.bootError);
    } else {
      this.broke(new WorkerError(codes.WORKER_PROTOCOL, `unexpected control frame 0x${type.toString(16)}`, 502));
    }
  }

  /** It broke the protocol: reported once (it is killed then), however much more it sends. */
  private broke(err: WorkerError): void {
    if (this.broken) return;
    this.broken = true;
    this.hooks.templateOnBroken(this, err);
  }

  private procOnExit(code: number | null, signal: NodeJS.Signals | null): void {
    if (this.state === 'exited') return;
    const wasBooting = this.state === 'booting';
    this.state = 'exited';
    this.control.destroy();
    if (wasBooting && !this.bootError) {
      this.bootError = new WorkerError(codes.WORKER_BOOT, `template ${this.pid} exited with ${exitText(code, signal)} before it was ready`);
    }
    this.hooks.templateOnExit(this, code, signal);
    // nobody reports their exits now: those already gone (their channels closed before we learnt
    // of ours, say, as when both are stopped together) are reported now, the others when they go
    for (const w of this.children.values()) w.reap();
  }
}
