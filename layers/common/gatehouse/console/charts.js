// Small SVG charts built with DOM APIs (no library): bars comparing the 5m, 1h and 24h windows, and gauges.

import { h, s } from './dom.js';

/** A bar chart of [{label, value}] with a title; values drawn as text too, for screen readers. */
export function barChart(title, points, unit = '') {
  const width = 240, height = 120, pad = 22, barGap = 14;
  const max = Math.max(...points.map((p) => Number(p.value) || 0), 0) || 1;
  const barWidth = (width - pad * 2 - barGap * (points.length - 1)) / points.length;
  const svg = s('svg', { viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': title, class: 'chart' });
  points.forEach((p, i) => {
    const value = Number(p.value) || 0;
    const barHeight = Math.max(1, (value / max) * (height - pad * 2));
    const x = pad + i * (barWidth + barGap);
    const y = height - pad - barHeight;
    svg.append(
      s('rect', { x, y, width: barWidth, height: barHeight, rx: 2, class: 'bar' }),
      s('text', { x: x + barWidth / 2, y: y - 4, 'text-anchor': 'middle', class: 'value' }, formatNumber(value) + unit),
      s('text', { x: x + barWidth / 2, y: height - 6, 'text-anchor': 'middle', class: 'label' }, p.label),
    );
  });
  return h('figure', { class: 'chart-box' }, h('figcaption', {}, title), svg);
}

/** A horizontal gauge of used against limit. */
export function gauge(label, used, limit, note) {
  const ratio = limit > 0 ? Math.min(1, used / limit) : 0;
  const level = ratio >= 1 ? 'full' : ratio >= 0.8 ? 'high' : 'ok';
  const svg = s('svg', { viewBox: '0 0 200 14', preserveAspectRatio: 'none', class: `gauge ${level}`, role: 'img',
    'aria-label': `${label}: ${used} of ${limit} used` },
  s('rect', { x: 0, y: 0, width: 200, height: 14, rx: 3, class: 'track' }),
  s('rect', { x: 0, y: 0, width: Math.max(ratio * 200, used > 0 ? 2 : 0), height: 14, rx: 3, class: 'fill' }));
  return h('div', { class: 'gauge-row', 'data-level': level },
    h('div', { class: 'gauge-label' }, h('strong', {}, label), ` ${used} / ${limit} used`,
      ratio >= 1 ? h('span', { class: 'badge bad' }, 'exhausted') : null),
    svg, note ? h('small', {}, note) : null);
}

export function formatNumber(value) {
  if (!Number.isFinite(value)) return String(value);
  if (Math.abs(value) >= 1000) return value.toFixed(0);
  if (Number.isInteger(value)) return String(value);
  return value.toFixed(value < 1 ? 3 : 1);
}
