/**
 * Timers that honour an AbortSignal. A deadline for one piece of I/O: an AbortSignal that fires when `timeoutMs` pass or when any outer signal
 * (the caller's, the hook's) fires, whichever comes first — and which of the two it was, since a time-out
 * and a cancellation are answered differently (FhirReadError 'timeout' vs 'aborted').
 */
export interface Deadline {
  readonly signal: AbortSignal;
  /** True once the time-out itself (not an outer signal) aborted `signal`. */
  readonly timedOut: boolean;
  /** Clears the timer and detaches from the outer signals; call it when the work is done, however it ended. */
  dispose(): void;
}

/** Starts a deadline of `timeoutMs`; an outer signal already aborted aborts it at once. */
export function startDeadline(timeoutMs: number, outer: ReadonlyArray<AbortSignal | undefined> = []): Deadline {
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, timeoutMs);
  const onAbort = () => controller.abort();
  const signals = outer.filter((s): s is AbortSignal => s !== undefined);
  for (const s of signals) {
    if (s.aborted) controller.abort();
    s.addEventListener('abort', onAbort, { once: true });
  }
  return {
    signal: controller.signal,
    get timedOut() {
      return timedOut;
    },
    dispose() {
      clearTimeout(timer);
      for (const s of signals) s.removeEventListener('abort', onAbort);
    },
  };
}

/** Resolves after `ms`, or rejects with the signal's reason as soon as `signal` aborts (at once if it has). */
export function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
