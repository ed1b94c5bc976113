/** Reliability diagram (calibration plot) as a standalone SVG string, for model cards and `npm run evaluate`. */
import type { ReliabilityBin } from './metrics.js';

function esc(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/**
 * Observed event rate against mean predicted probability per bin; circle area grows with the bin's count.
 * The diagonal is perfect calibration.
 */
export function reliabilitySvg(bins: readonly ReliabilityBin[], title: string, size = 320): string {
  const pad = 40;
  const span = size - 2 * pad;
  const x = (p: number) => (pad + p * span).toFixed(1);
  const y = (p: number) => (size - pad - p * span).toFixed(1);
  const maxCount = Math.max(1, ...bins.map((b) => b.count));
  const ticks = [0, 0.25, 0.5, 0.75, 1];
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${size}" height="${size}" viewBox="0 0 ${size} ${size}" font-family="sans-serif" font-size="10">`,
    `<title>${esc(title)}</title>`,
    `<rect x="${pad}" y="${pad}" width="${span}" height="${span}" fill="none" stroke="#999"/>`,
    `<line x1="${x(0)}" y1="${y(0)}" x2="${x(1)}" y2="${y(1)}" stroke="#bbb" stroke-dasharray="4 3"/>`,
    ...ticks.map((t) => `<text x="${x(t)}" y="${size - pad + 14}" text-anchor="middle">${t}</text>`),
    ...ticks.map((t) => `<text x="${pad - 6}" y="${y(t)}" text-anchor="end" dominant-baseline="middle">${t}</text>`),
    `<text x="${size / 2}" y="${size - 6}" text-anchor="middle">mean predicted probability</text>`,
    `<text x="12" y="${size / 2}" text-anchor="middle" transform="rotate(-90 12 ${size / 2})">observed rate</text>`,
    `<text x="${size / 2}" y="${pad - 12}" text-anchor="middle" font-size="12">${esc(title)}</text>`,
  ];
  if (bins.length > 1) {
    parts.push(`<polyline fill="none" stroke="#1f77b4" points="${bins.map((b) => `${x(b.meanPredicted)},${y(b.observedRate)}`).join(' ')}"/>`);
  }
  for (const b of bins) {
    const r = (2 + 6 * Math.sqrt(b.count / maxCount)).toFixed(1);
    parts.push(`<circle cx="${x(b.meanPredicted)}" cy="${y(b.observedRate)}" r="${r}" fill="#1f77b4" fill-opacity="0.7"><title>n=${b.count}</title></circle>`);
  }
  parts.push('</svg>');
  return parts.join('\n');
}
