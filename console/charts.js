// charts.js: the two chart shapes the dashboard draws, on uPlot (vendored by
// the build from the uplot npm package; it sets the global uPlot).

const COLORS = ['#2563eb', '#dc2626', '#16a34a', '#d97706', '#7c3aed', '#0891b2', '#db2777', '#4b5563'];

// Group names can be long (customer_service): the axis shows their start.
function short(label) {
  return label.length > 10 ? label.slice(0, 9) + '…' : label;
}

function width(el) {
  return Math.max(260, Math.min(560, (el.clientWidth || 360) - 8));
}

// One bar per group: labels on the x axis, values (null: no data) on y.
export function barChart(el, labels, values, { title, fmt }) {
  const xs = labels.map((_, i) => i);
  const max = Math.max(0, ...values.filter((v) => v !== null && v !== undefined));
  const opts = {
    title,
    width: width(el),
    height: 200,
    legend: { show: false },
    scales: {
      x: { time: false, range: [-0.5, Math.max(labels.length - 0.5, 0.5)] },
      y: { range: [Math.min(0, ...values.filter((v) => v !== null && v !== undefined)), max > 0 ? max * 1.15 : 1] },
    },
    axes: [
      { splits: () => xs, values: (u, splits) => splits.map((i) => short(labels[i] ?? '')), size: 36, gap: 4,
        font: '11px "DejaVu Sans", sans-serif' },
      { values: (u, vals) => vals.map((v) => fmt(v)), size: 64 },
    ],
    series: [
      {},
      {
        label: title,
        stroke: COLORS[0],
        fill: COLORS[0] + '99',
        paths: uPlot.paths.bars({ size: [0.6, 48] }),
        points: { show: false },
        value: (u, v) => fmt(v),
      },
    ],
  };
  return new uPlot(opts, [xs, values.map((v) => (v === undefined ? null : v))], el);
}

// Lines over time: xs are unix seconds, each series {label, values}.
export function lineChart(el, xs, series, { title, fmt }) {
  const opts = {
    title,
    width: width(el),
    height: 220,
    scales: { x: { time: true } },
    axes: [{}, { values: (u, vals) => vals.map((v) => fmt(v)), size: 64 }],
    series: [{}, ...series.map((s, i) => ({
      label: s.label,
      stroke: COLORS[i % COLORS.length],
      width: 2,
      spanGaps: true,
      value: (u, v) => fmt(v),
    }))],
  };
  return new uPlot(opts, [xs, ...series.map((s) => s.values.map((v) => (v === undefined ? null : v)))], el);
}
