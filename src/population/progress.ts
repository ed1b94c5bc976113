/**
 * Progress of a population run on stderr. On a terminal: one bar redrawn in place
 * ("scoring ████████░░░░ 120/300 patients  41.2/s  ETA 4s"). Elsewhere (CI logs, pipes): a plain
 * line per phase and at most one progress line every `intervalMs`, so a log stays readable.
 * The line text is a pure function (progressLine) so its format is tested without a terminal.
 */

export interface ProgressEvent {
  phase: 'auth' | 'export' | 'download' | 'score' | 'done';
  /** Free text for phases without counts (export status, file being read). */
  message?: string;
  done?: number;
  total?: number;
}

export interface ProgressReporter {
  update(event: ProgressEvent): void;
  /** Ends the bar (newline on a terminal). */
  close(): void;
}

export interface ProgressStream {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

const BAR_WIDTH = 24;

/** The text of one progress line. Pure. */
export function progressLine(event: ProgressEvent, rate?: number, opts: { bar?: boolean } = {}): string {
  if (event.done === undefined || event.total === undefined) return `${event.phase}: ${event.message ?? ''}`.trimEnd();
  const total = Math.max(event.total, 0);
  const fraction = total === 0 ? 1 : Math.min(1, event.done / total);
  const filled = Math.round(fraction * BAR_WIDTH);
  const bar = opts.bar ? `${'█'.repeat(filled)}${'░'.repeat(BAR_WIDTH - filled)} ` : '';
  const pct = `${Math.floor(fraction * 100)}%`;
  const speed = rate !== undefined && Number.isFinite(rate) && rate > 0 ? `  ${rate.toFixed(1)}/s` : '';
  const eta = rate && rate > 0 && event.done < total ? `  ETA ${Math.ceil((total - event.done) / rate)}s` : '';
  return `${event.phase} ${bar}${event.done}/${total} patients ${pct}${speed}${eta}${event.message ? `  ${event.message}` : ''}`;
}

export function streamProgress(stream: ProgressStream, options: { intervalMs?: number; now?: () => number } = {}): ProgressReporter {
  const tty = stream.isTTY === true;
  const now = options.now ?? (() => performance.now());
  const interval = options.intervalMs ?? 5000;
  let lastPhase: ProgressEvent['phase'] | undefined;
  let lastPrint = -Infinity;
  let phaseStart = now();
  let phaseStartDone = 0;
  let drawn = false;

  return {
    update(event) {
      const t = now();
      const newPhase = event.phase !== lastPhase;
      if (newPhase) {
        if (drawn && tty) stream.write('\n');
        drawn = false;
        lastPhase = event.phase;
        phaseStart = t;
        phaseStartDone = event.done ?? 0;
      }
      const elapsed = (t - phaseStart) / 1000;
      const rate = event.done !== undefined && elapsed > 0 ? (event.done - phaseStartDone) / elapsed : undefined;
      if (tty) {
        // A pseudo-terminal may report no width (0): assume 100 columns then.
        const width = Math.max(20, (stream.columns && stream.columns > 0 ? stream.columns : 100) - 1);
        stream.write(`\r${progressLine(event, rate, { bar: true }).slice(0, width).padEnd(width)}`);
        drawn = true;
        return;
      }
      const finished = event.done !== undefined && event.total !== undefined && event.done >= event.total;
      if (newPhase || finished || t - lastPrint >= interval) {
        stream.write(`${progressLine(event, rate)}\n`);
        lastPrint = t;
      }
    },
    close() {
      if (drawn && tty) stream.write('\n');
      drawn = false;
    },
  };
}

/** No output (library use, tests). */
export const silentProgress: ProgressReporter = { update: () => undefined, close: () => undefined };
