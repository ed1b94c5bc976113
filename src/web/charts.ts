/**
 * The view's charts. uPlot (canvas, ~50 KB) for the time axes; the factor bars and the attribution heat
 * strips are plain HTML/SVG so they can be focused, clicked and read by screen readers. Every chart has a
 * text alternative (aria-label plus a values table).
 */
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { el, svg } from './dom.js';
import { bandColumns, fullWindow, NO_SUPPORT_COLOR, supportColor, type ClassBar, type EcgSection, type SecondsWindow } from './ecg-model.js';
import { factorValueText, formatPercent, formatPoints, formatTime, heatColor, timeAxisLabels, trendSeries, trendSourceText, type Curve, type FactorBar, type TrendPoint } from './model.js';

const HOUR_S = 3600;
/** Okabe–Ito: raising (vermillion) and lowering (blue) read apart with the common colour-vision deficiencies. */
export const RAISE = '#b84f00';
export const LOWER = '#0067a3';
const INK = '#1a1a1a';

const timeTicks = (_u: uPlot, splits: number[], _axis: number, _space: number, increment: number): string[] => timeAxisLabels(splits, increment);

function cssVar(name: string, fallback: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || fallback;
}

function widthOf(node: HTMLElement): number {
  return Math.max(280, Math.floor(node.getBoundingClientRect().width || 600));
}

/** Resizes a plot with its container (1024×768 and tablet widths both fit). */
function keepSized(plot: uPlot, container: HTMLElement, height: number, after?: () => void): void {
  const ro = new ResizeObserver(() => {
    plot.setSize({ width: widthOf(container), height });
    after?.();
  });
  ro.observe(container);
}

/**
 * Score over the last 48 h, with the band cut-offs as dashed lines. Scores stored at the time are filled
 * dots, scores rescored now from the data available at that hour hollow dots; one line joins them in time
 * order. The legend under the chart says the same in words (main.ts).
 */
export function trendChart(container: HTMLElement, points: TrendPoint[], thresholds: { moderate: number; high: number }, window: { start: number; end: number }): void {
  const series = trendSeries(points);
  const top = Math.min(100, Math.max(thresholds.high * 100 * 1.3, ...series.line.map((y) => y * 1.2), 5));
  const accent = cssVar('--accent', '#2d3a8c');
  const opts: uPlot.Options = {
    width: widthOf(container),
    height: 160,
    legend: { show: false },
    // Always the whole 48 h window, so a single score still sits at its time and the axis reads in hours.
    scales: { x: { time: true, range: [window.start / 1000, window.end / 1000 + HOUR_S / 2] }, y: { range: [0, top] } },
    axes: [{ stroke: INK, values: timeTicks }, { stroke: INK, label: 'Risk (%)', values: (_u, v) => v.map((x) => `${x}`) }],
    series: [
      {},
      { label: 'Risk', stroke: accent, width: 1.5, points: { show: false } },
      { label: 'Scored at the time', stroke: accent, paths: () => null, points: { show: true, size: 8, fill: accent, stroke: accent } },
      { label: 'Rescored from data available then', stroke: accent, paths: () => null, points: { show: true, size: 8, width: 2, fill: cssVar('--bg', '#ffffff'), stroke: accent } },
      { label: 'High band', stroke: RAISE, dash: [6, 4], width: 1, points: { show: false } },
      { label: 'Moderate band', stroke: '#8a6d00', dash: [2, 4], width: 1, points: { show: false } },
    ],
  };
  // The cut-off lines run across the whole window: x values at its two ends, with no score there (a single
  // score alone would leave each cut-off a one-point line, which draws nothing).
  const startX = window.start / 1000;
  const endX = window.end / 1000 + HOUR_S / 2;
  const lead = series.xs.length && series.xs[0]! > startX ? 1 : 0;
  const trail = !series.xs.length || series.xs[series.xs.length - 1]! < endX ? 1 : 0;
  const xs = [...(lead ? [startX] : []), ...series.xs, ...(trail ? [endX] : [])];
  const pad = (ys: Array<number | null>) => [...(lead ? [null] : []), ...ys, ...(trail ? [null] : [])];
  const data: uPlot.AlignedData = [xs, pad(series.line), pad(series.stored), pad(series.retrospective), xs.map(() => thresholds.high * 100), xs.map(() => thresholds.moderate * 100)];
  container.replaceChildren();
  const plot = new uPlot(opts, data, container);
  keepSized(plot, container, 160);
}

/** The trend's key in words and shapes (the markers alone would not say which score was shown at the time). */
export function trendLegend(points: readonly TrendPoint[], thresholds: { moderate: number; high: number }): HTMLElement {
  const rescored = points.some((p) => p.retrospective);
  return el(
    'p',
    { class: 'legend', 'data-testid': 'trend-legend' },
    el('span', { class: 'key' }, `● ${trendSourceText({})} (stored)`),
    rescored ? [' · ', el('span', { class: 'key' }, `○ ${trendSourceText({ retrospective: true })} (not shown to anyone then)`)] : null,
    // Which line is which, in words: their two colours are close for red–green colour vision (dash patterns differ).
    ` · dashed line: high-risk threshold ${formatPercent(thresholds.high)} · dotted line: alert threshold ${formatPercent(thresholds.moderate)}`,
  );
}

/** Set through CSSOM: the page's CSP forbids inline style attributes. */
function barFill(fraction: number): HTMLElement {
  const fill = el('span', { class: 'factor-bar' });
  fill.style.width = `${Math.max(2, Math.round(fraction * 100))}%`;
  return fill;
}

/** Horizontal bars, one button each: the bar's length is the factor's share of the largest contribution. */
export function factorChart(container: HTMLElement, bars: FactorBar[], onOpen: (bar: FactorBar) => void): void {
  container.replaceChildren();
  const list = el('ol', { class: 'factor-bars' });
  for (const bar of bars) {
    const points = formatPoints(bar.contribution);
    const valueText = factorValueText(bar);
    const label = `${bar.label}${bar.value === undefined && valueText ? ` ${valueText}` : ''}: ${bar.direction === 'raises' ? 'raised' : 'lowered'} the risk by ${points.replace(/^[+−]/, '')}${bar.value ? `; value ${valueText}` : ''}`;
    const button = el(
      'button',
      {
        type: 'button',
        class: `factor ${bar.direction}`,
        'aria-label': bar.evidence ? `${label}. Show the source measurement.` : `${label}. No source measurement to show.`,
        'data-feature': bar.feature,
        disabled: bar.evidence ? undefined : true,
        onclick: () => onOpen(bar),
      },
      el('span', { class: 'factor-name' }, bar.label, valueText ? el('span', { class: 'factor-value' }, ` ${valueText}`) : null),
      el(
        'span',
        { class: 'factor-track', 'aria-hidden': 'true' },
        barFill(bar.fraction),
      ),
      el('span', { class: 'factor-points' }, el('span', { class: 'arrow', 'aria-hidden': 'true' }, bar.direction === 'raises' ? '▲ ' : '▼ '), points),
    );
    list.append(el('li', {}, button));
  }
  container.append(list);
}

/**
 * A measurement's hourly curve (measured: filled dots joined by a line; carried forward: hollow dots, no
 * line) with its attribution heat strip underneath, aligned to the plot's own x axis.
 */
export function curveChart(container: HTMLElement, curve: Curve, maxAbs: number): void {
  const xs = curve.points.map((p) => p.time / 1000 + HOUR_S / 2);
  const measured = curve.points.map((p) => (p.kind === 'measured' ? p.value : null));
  const carried = curve.points.map((p) => (p.kind === 'carried-forward' ? p.value : null));
  const first = curve.points[0]?.time ?? 0;
  const last = curve.points[curve.points.length - 1]?.time ?? 0;
  const bg = cssVar('--bg', '#ffffff');
  const opts: uPlot.Options = {
    width: widthOf(container),
    height: 130,
    legend: { show: false },
    scales: { x: { time: true, range: [first / 1000, last / 1000 + HOUR_S] } },
    axes: [{ stroke: INK, values: timeTicks }, { stroke: INK, label: curve.unit ?? '', size: 56 }],
    series: [
      {},
      { label: 'Measured', stroke: INK, width: 1.5, spanGaps: true, points: { show: true, size: 6, fill: INK, stroke: INK } },
      { label: 'Carried forward', stroke: '#6b6b6b', width: 1, paths: () => null, points: { show: true, size: 6, fill: bg, stroke: '#6b6b6b', width: 1.5 } },
    ],
  };
  const plotBox = el('div', { class: 'curve-plot' });
  const strip = heatStrip(curve, maxAbs);
  container.replaceChildren(plotBox, strip);
  const align = () => {
    const dpr = window.devicePixelRatio || 1;
    strip.style.marginLeft = `${plot.bbox.left / dpr}px`;
    strip.style.width = `${plot.bbox.width / dpr}px`;
  };
  const plot = new uPlot(opts, [xs, measured, carried], plotBox);
  align();
  keepSized(plot, container, 130, align);
}

function heatStrip(curve: Curve, maxAbs: number): SVGSVGElement {
  const n = curve.points.length;
  const strip = svg('svg', { class: 'heat-strip', viewBox: `0 0 ${n} 1`, preserveAspectRatio: 'none', role: 'img', 'aria-label': `Contribution to the risk, hour by hour, of ${curve.label}` });
  curve.points.forEach((p, i) => {
    const rect = svg('rect', { x: i, y: 0, width: 1.02, height: 1, fill: p.kind === 'measured' ? heatColor(p.attribution, maxAbs) : '#f0f0f0' });
    rect.append(
      svg('title', {}, `${formatTime(new Date(p.time).toISOString())}: ${p.kind === 'measured' ? formatPoints(p.attribution) : p.kind === 'carried-forward' ? 'carried forward (no new measurement)' : 'not measured'}`),
    );
    strip.append(rect);
  });
  return strip;
}

/** Text alternative of a curve: the measured and carried-forward values with their contribution. */
export function curveTable(curve: Curve): HTMLElement {
  const rows = curve.points
    .filter((p) => p.kind !== 'none')
    .map((p) =>
      el(
        'tr',
        { class: p.kind },
        el('td', {}, formatTime(new Date(p.time).toISOString())),
        el('td', {}, p.value === null ? '—' : `${p.value}${curve.unit ? ` ${curve.unit}` : ''}`),
        el('td', {}, p.kind === 'measured' ? 'measured' : 'carried forward'),
        el('td', {}, p.kind === 'measured' ? formatPoints(p.attribution) : '—'),
      ),
    );
  return el(
    'details',
    { class: 'values' },
    el('summary', {}, `${curve.label}: values as a table`),
    el('table', {}, el('thead', {}, el('tr', {}, el('th', { scope: 'col' }, 'Hour'), el('th', { scope: 'col' }, 'Value'), el('th', { scope: 'col' }, 'Source'), el('th', { scope: 'col' }, 'Contribution'))), el('tbody', {}, rows)),
  );
}

export function trendTable(points: TrendPoint[]): HTMLElement {
  return el(
    'details',
    { class: 'values' },
    el('summary', {}, 'Scores as a table'),
    el(
      'table',
      {},
      el('thead', {}, el('tr', {}, el('th', { scope: 'col' }, 'Time'), el('th', { scope: 'col' }, 'Risk'), el('th', { scope: 'col' }, 'Source'))),
      el(
        'tbody',
        {},
        points.map((p) =>
          el('tr', { class: p.retrospective ? 'retrospective' : 'stored' }, el('td', {}, formatTime(new Date(p.time).toISOString())), el('td', {}, formatPercent(p.probability)), el('td', {}, trendSourceText(p))),
        ),
      ),
    ),
  );
}

/** Controls of a drawn ECG tracing: the visible stretch, in seconds from the first sample. */
export interface EcgChart {
  window(): SecondsWindow;
  setWindow(w: SecondsWindow): void;
  /** Shades a stretch of the tracing (the segment selected), or none. */
  highlight(w: SecondsWindow | undefined): void;
}

const BAND_HEIGHT = 18;

/**
 * The tracing (mV over seconds, uPlot; drag across it to zoom, double-click to see it whole) with the
 * saliency band under it on the same x range: one cell per CSS pixel column, coloured by the strongest
 * support for the explained class in that column (ecg-model.ts supportColor). The band is redrawn on every
 * zoom; `onWindow` hears every change of the visible stretch, whatever caused it. The container carries the
 * range as data-x-min / data-x-max (seconds) for tests and tools.
 */
export function ecgChart(container: HTMLElement, ecg: Pick<EcgSection, 'signal' | 'rateHz'>, levels: Float32Array | undefined, onWindow: (w: SecondsWindow) => void): EcgChart {
  const full = fullWindow(ecg);
  const xs = Float64Array.from(ecg.signal, (_v, i) => i / ecg.rateHz);
  const plotBox = el('div', { class: 'ecg-plot' });
  const band = el('canvas', { class: 'saliency-band', height: BAND_HEIGHT, 'aria-hidden': 'true' });
  container.replaceChildren(plotBox, ...(levels ? [band] : []));
  let current: SecondsWindow = { ...full };
  let shaded: SecondsWindow | undefined;

  const drawBand = (plot: uPlot) => {
    if (!levels) return;
    const dpr = window.devicePixelRatio || 1;
    const cssWidth = Math.max(1, Math.round(plot.bbox.width / dpr));
    band.style.marginLeft = `${plot.bbox.left / dpr}px`;
    band.style.width = `${cssWidth}px`;
    band.style.height = `${BAND_HEIGHT}px`;
    band.width = cssWidth;
    band.height = BAND_HEIGHT;
    const ctx = band.getContext('2d');
    if (!ctx) return;
    bandColumns(levels, ecg.rateHz, current, cssWidth).forEach((level, x) => {
      ctx.fillStyle = supportColor(level);
      ctx.fillRect(x, 0, 1, BAND_HEIGHT);
    });
  };

  const opts: uPlot.Options = {
    width: widthOf(container),
    height: 220,
    legend: { show: false },
    cursor: { drag: { x: true, y: false, setScale: true }, points: { show: false } },
    scales: { x: { time: false, range: (_u, min, max) => [min ?? full.from, max ?? full.to] } },
    axes: [
      { stroke: INK, label: 'Seconds from the start of the recording', values: (_u, v) => v.map((x) => `${Math.round(x * 100) / 100}`) },
      { stroke: INK, label: 'mV', size: 52 },
    ],
    series: [{}, { label: 'ECG', stroke: INK, width: 1 }],
    hooks: {
      drawClear: [
        (u) => {
          if (!shaded) return;
          const left = u.valToPos(shaded.from, 'x', true);
          const right = u.valToPos(shaded.to, 'x', true);
          u.ctx.save();
          u.ctx.fillStyle = 'rgba(45, 58, 140, 0.12)';
          u.ctx.fillRect(left, u.bbox.top, right - left, u.bbox.height);
          u.ctx.restore();
        },
      ],
      setScale: [
        (u, key) => {
          if (key !== 'x') return;
          const min = u.scales.x?.min;
          const max = u.scales.x?.max;
          if (min === undefined || max === undefined || min === null || max === null) return;
          current = { from: Math.max(full.from, min), to: Math.min(full.to, max) };
          container.dataset.xMin = current.from.toFixed(3);
          container.dataset.xMax = current.to.toFixed(3);
          drawBand(u);
          onWindow(current);
        },
      ],
    },
  };
  const plot = new uPlot(opts, [xs, ecg.signal], plotBox);
  const show = (w: SecondsWindow) => plot.setScale('x', { min: w.from, max: w.to });
  show(full);
  keepSized(plot, container, 220, () => drawBand(plot));
  return {
    window: () => ({ ...current }),
    setWindow: show,
    highlight(w) {
      shaded = w;
      plot.redraw(false);
    },
  };
}

/** The class probabilities as horizontal bars, the called rhythm in bold (HTML: readable and zoomable). */
export function classChart(bars: readonly ClassBar[]): HTMLElement {
  return el(
    'ul',
    { class: 'class-bars', 'data-testid': 'class-bars' },
    bars.map((b) => {
      const fill = el('span', { class: 'class-bar-fill' });
      fill.style.width = `${Math.max(1, Math.round(b.probability * 100))}%`;
      return el(
        'li',
        { class: b.called ? 'called' : undefined },
        el('span', { class: 'class-name' }, b.name, b.called ? ' (the call)' : null),
        el('span', { class: 'factor-track', 'aria-hidden': 'true' }, fill),
        el('span', { class: 'class-value' }, formatPercent(b.probability)),
      );
    }),
  );
}

/** The colour key of the saliency band: light (little support) to dark (strong support), grey for none. */
export function supportLegend(className: string): HTMLElement {
  const steps = [0.1, 0.3, 0.5, 0.7, 0.9, 1].map((level) => {
    const swatch = el('span', { class: 'swatch', 'aria-hidden': 'true' });
    swatch.style.background = supportColor(level);
    return swatch;
  });
  const none = el('span', { class: 'swatch', 'aria-hidden': 'true' });
  none.style.background = NO_SUPPORT_COLOR;
  return el(
    'p',
    { class: 'legend', 'data-testid': 'saliency-legend' },
    `Band under the tracing: how strongly each moment supported "${className}" — weak `,
    steps,
    ' strong (scaled to the strongest moment) · ',
    none,
    ' none, or evidence against it',
  );
}
