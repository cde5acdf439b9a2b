/**
 * Ctrl-C (SIGINT) and SIGTERM during `stitch train`: the first asks the run to stop at the
 * current step, write a checkpoint and say how to continue; the listeners are then removed, so
 * the next signal gets the default action and ends the process at once, even mid-step or
 * mid-write (the files it was writing are atomic, so nothing already saved is lost).
 */

export const INTERRUPT_SIGNALS = ['SIGINT', 'SIGTERM'] as const;
export type InterruptSignal = (typeof INTERRUPT_SIGNALS)[number];

/** the shell's convention for a process ended by a signal: 128 + its number */
export const SIGNAL_EXIT_CODES: Readonly<Record<InterruptSignal, number>> = { SIGINT: 130, SIGTERM: 143 };

/** the part of `process` this needs (a test passes an EventEmitter) */
export interface SignalSource {
  on(event: InterruptSignal, listener: () => void): unknown;
  removeListener(event: InterruptSignal, listener: () => void): unknown;
}

export interface InterruptHandle {
  signal: AbortSignal;
  /** the signal that arrived, if one did */
  received(): InterruptSignal | null;
  /** removes the listeners (when the run ended without a signal) */
  dispose(): void;
}

export function handleInterrupts(source: SignalSource, notify: (text: string) => void): InterruptHandle {
  const controller = new AbortController();
  let received: InterruptSignal | null = null;
  const listeners = new Map<InterruptSignal, () => void>();
  const dispose = (): void => {
    for (const [name, listener] of listeners) source.removeListener(name, listener);
    listeners.clear();
  };
  for (const name of INTERRUPT_SIGNALS) {
    const listener = (): void => {
      received = name;
      dispose();
      notify(`\n${name}: stopping at the current step to write a checkpoint; ${name === 'SIGINT' ? 'press Ctrl-C again' : 'send it again'} to stop at once (losing the steps since the last checkpoint)\n`);
      controller.abort();
    };
    listeners.set(name, listener);
    source.on(name, listener);
  }
  return { signal: controller.signal, received: () => received, dispose };
}
