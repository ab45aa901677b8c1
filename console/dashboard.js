// dashboard.js: the operator's view: the backlog, SLA breaches and the cases
// about to breach, the KPIs (first response, resolution, SLA attainment,
// CSAT, NPS) by queue, agent, type or merchant, over time where the server
// has the daily series, the active policy version with the shadow's
// agreement, and the recent alerts.

import { get, serverNow, session } from './api.js';
import { activeCases } from './inbox.js';
import { subscribe } from './feed.js';
import { barChart, lineChart } from './charts.js';
import { shadowAgreement } from './shadow.js';
import {
  badge, caseLink, clear, countdown, debounce, duration, errorBox, h, loading, nextDue, notAvailable, num,
  percent, shortHash, when,
} from './util.js';

const DAY = 86400;
const WARN_SECONDS = 3600; // "about to breach": due within the hour

// The KPI figures the dashboard charts: label, how to read one group, format.
export const METRICS = [
  { key: 'first_response', label: 'First response p50', get: (g) => g.first_response_seconds.p50, fmt: duration },
  { key: 'resolution', label: 'Resolution p50', get: (g) => g.resolution_seconds.p50, fmt: duration },
  { key: 'sla', label: 'SLA attainment', get: (g) => g.sla_attainment, fmt: percent },
  { key: 'csat', label: 'CSAT (1-5)', get: (g) => g.csat, fmt: (v) => num(v) },
  { key: 'nps', label: 'NPS', get: (g) => g.nps, fmt: (v) => num(v, 1) },
];

function tile(label, value, cls) {
  return h('div.tile', { class: cls || null }, h('div.tile-value', value), h('div.tile-label', label));
}

export function renderDashboard(main) {
  const st = { alive: true, days: 30, groupBy: 'queue', charts: [], kpiSeq: 0 };
  const backlogBox = h('section.card.backlog-tiles');
  const riskBox = h('div.grid2');
  const kpiBox = h('section.card.kpi');
  const seriesBox = h('section.card.kpi-series');
  const policyBox = h('section.card.policy');
  const alertsBox = h('section.card.alerts');
  const sel = (label, options, key, parse) => h('label', label, ' ', h('select', {
    onchange: (e) => {
      st[key] = parse ? parse(e.target.value) : e.target.value;
      loadKpi();
    },
  }, options.map(([v, t]) => h('option', { value: v, selected: String(v) === String(st[key]) }, t))));

  main.append(h('section.dashboard',
    h('div.toolbar', h('h1', 'Dashboard'),
      sel('Period', [[7, 'last 7 days'], [30, 'last 30 days'], [90, 'last 90 days']], 'days', Number),
      sel('Group by', [['queue', 'queue'], ['agent', 'agent'], ['type', 'type'], ['merchant', 'merchant']],
        'groupBy')),
    backlogBox, riskBox, kpiBox, seriesBox, h('div.grid2', policyBox, alertsBox)));
  for (const b of [backlogBox, kpiBox, seriesBox, policyBox, alertsBox]) b.append(loading());

  function destroyCharts() {
    for (const c of st.charts) c.destroy();
    st.charts = [];
  }

  async function loadBacklog() {
    let r;
    try {
      r = await activeCases();
    } catch (e) {
      clear(backlogBox, h('h2', 'Backlog'), errorBox(e));
      return;
    }
    if (!st.alive) return;
    const now = serverNow();
    const byStatus = (s) => r.cases.filter((c) => c.status === s).length;
    const breached = r.cases.filter((c) => (c.sla.breached || []).length > 0);
    const soon = r.cases.filter((c) => {
      const nd = nextDue(c);
      return nd && !nd.state && nd.due >= now && nd.due - now <= WARN_SECONDS;
    });
    const queues = {};
    for (const c of r.cases) queues[c.queue] = (queues[c.queue] || 0) + 1;
    clear(backlogBox, h('h2', 'Backlog'),
      h('div.tiles',
        tile('active cases', String(r.cases.length)),
        tile('open', String(byStatus('open'))),
        tile('awaiting customer', String(byStatus('awaiting_customer'))),
        tile('in progress', String(byStatus('in_progress'))),
        tile('breached', String(breached.length), breached.length ? 'bad' : null),
        tile('due within 1 h', String(soon.length), soon.length ? 'warn' : null),
        tile('unassigned', String(r.cases.filter((c) => !c.assignee).length))),
      h('p.muted', 'By queue: ', Object.entries(queues).map(([q, n]) => `${q} ${n}`).join(' · ') || 'none',
        r.truncated ? ' (counted from the newest cases only)' : ''));
    const list = (title, cases, cls, empty) => h('section.card', { class: cls },
      h('h2', title, ' ', h('span.count', String(cases.length))),
      cases.length === 0 ? h('p.muted', empty) : h('table.list', h('tbody', cases.slice(0, 15).map((c) => {
        const nd = nextDue(c);
        return h('tr', h('td', h('span.prio', { class: 'p' + c.priority }, 'P' + c.priority)),
          h('td', caseLink(c.case_id)), h('td', c.type), h('td', c.queue), h('td', c.assignee || '—'),
          h('td', nd ? [nd.kind, ' ', countdown(nd.due, nd.state)] : (c.sla.breached || []).join(', ')));
      }))));
    clear(riskBox,
      list('SLA breaches (active cases)', breached, 'breaches', 'No active case has missed a target.'),
      list('Warnings: due within the hour', soon.sort((a, b) => nextDue(a).due - nextDue(b).due), 'warnings',
        'No case is about to miss a target.'));
  }

  function range() {
    const to = serverNow() + 1;
    return { from: to - st.days * DAY, to };
  }

  async function loadKpi() {
    const q = { ...range(), group_by: st.groupBy };
    const mySeq = ++st.kpiSeq; // a slower earlier report must not draw over a later one
    let rep;
    try {
      rep = await get('/v1/reports/kpi', q);
    } catch (e) {
      clear(kpiBox, h('h2', 'KPIs'), errorBox(e));
      return;
    }
    if (!st.alive || mySeq !== st.kpiSeq) return;
    destroyCharts();
    const t = rep.totals;
    const groups = rep.groups.slice(0, 12);
    const charts = h('div.charts');
    clear(kpiBox, h('h2', `KPIs, cases opened ${when(rep.from)} – ${when(rep.to)}, by ${st.groupBy}`),
      h('div.tiles',
        tile('cases', String(t.cases)), tile('resolved', String(t.resolved)),
        tile('resolution rate', percent(t.resolution_rate)),
        tile('first response p50 / p90', `${duration(t.first_response_seconds.p50)} / ${duration(t.first_response_seconds.p90)}`),
        tile('resolution p50 / p90', `${duration(t.resolution_seconds.p50)} / ${duration(t.resolution_seconds.p90)}`),
        tile('SLA attainment', percent(t.sla_attainment)),
        tile('CSAT', num(t.csat) + (t.survey_answers ? ` (${t.survey_answers})` : '')),
        tile('NPS', num(t.nps, 1))),
      groups.length ? charts : h('p.muted', 'No cases in this period.'),
      groups.length ? h('table.list.kpi-groups', h('thead', h('tr', [st.groupBy, 'cases', 'resolved', 'rate',
        'first response p50/p90', 'resolution p50/p90', 'SLA', 'CSAT', 'NPS'].map((x) => h('th', x)))),
      h('tbody', rep.groups.map((g) => h('tr', h('td', g.key), h('td', g.cases), h('td', g.resolved),
        h('td', percent(g.resolution_rate)),
        h('td', `${duration(g.first_response_seconds.p50)} / ${duration(g.first_response_seconds.p90)}`),
        h('td', `${duration(g.resolution_seconds.p50)} / ${duration(g.resolution_seconds.p90)}`),
        h('td', percent(g.sla_attainment)), h('td', num(g.csat)), h('td', num(g.nps, 1)))))) : null);
    if (groups.length) {
      drawAll(charts, METRICS.map((m) => ({ m, values: groups.map(m.get) })),
        (el, { m, values }) => barChart(el, groups.map((g) => g.key), values, { title: m.label, fmt: m.fmt }));
    }
    loadSeries();
  }

  // The KPIs day by day: GET /v1/reports/kpi?interval=day. An older server
  // answers 400 (unknown parameter), or 200 without `series`.
  async function loadSeries() {
    const endpoint = 'GET /v1/reports/kpi?interval=day';
    const mySeq = st.kpiSeq;
    let rep;
    try {
      rep = await get('/v1/reports/kpi', { ...range(), group_by: st.groupBy, interval: 'day' });
    } catch (e) {
      clear(seriesBox, h('h2', 'KPIs over time'), e.notAvailable || e.status === 400
        ? notAvailable('The daily KPI series', endpoint, `it answered ${e.status}`) : errorBox(e));
      return;
    }
    if (!st.alive || mySeq !== st.kpiSeq) return;
    if (!Array.isArray(rep.series)) {
      clear(seriesBox, h('h2', 'KPIs over time'), notAvailable('The daily KPI series', endpoint,
        'it ignored interval=day and answered no series'));
      return;
    }
    const xs = rep.series.map((p) => p.from);
    const keys = [];
    for (const p of rep.series) for (const g of p.groups || []) if (!keys.includes(g.key)) keys.push(g.key);
    const charts = h('div.charts');
    clear(seriesBox, h('h2', 'KPIs over time, by day and ', st.groupBy), charts);
    drawAll(charts, METRICS.map((m) => {
      const lines = [{ label: 'all', values: rep.series.map((p) => (p.totals ? m.get(p.totals) : null)) }];
      for (const k of keys.slice(0, 6)) {
        lines.push({ label: k, values: rep.series.map((p) => {
          const g = (p.groups || []).find((x) => x.key === k);
          return g ? m.get(g) : null;
        }) });
      }
      return { m, lines, values: lines.flatMap((l) => l.values) };
    }), (el, { m, lines }) => lineChart(el, xs, lines, { title: m.label, fmt: m.fmt }));
  }

  // Lays out one cell per chart first, then draws each at its cell's width
  // (drawn one by one, the first would take the whole row). A figure with no
  // data at all says so instead of drawing empty axes.
  function drawAll(box, items, draw) {
    const cells = items.map(({ m }) => h('div.chart', { dataset: { metric: m.key } }));
    box.append(...cells);
    items.forEach((item, i) => {
      if (item.values.every((v) => v === null || v === undefined)) {
        cells[i].append(h('h3', item.m.label), h('p.muted.no-data', 'No data in this period.'));
      } else {
        st.charts.push(draw(cells[i], item));
      }
    });
  }

  async function loadPolicy() {
    if (session.me.role !== 'admin') {
      try {
        const hz = await get('/healthz');
        clear(policyBox, h('h2', 'Policies'), h('p', 'Active version ', h('code.version', shortHash(hz.version))),
          h('p.muted', 'The files, the shadow set and its agreement are for admins.'));
      } catch (e) {
        clear(policyBox, h('h2', 'Policies'), errorBox(e));
      }
      return;
    }
    let p;
    try {
      p = await get('/v1/admin/policies');
    } catch (e) {
      clear(policyBox, h('h2', 'Policies'), errorBox(e));
      return;
    }
    if (!st.alive) return;
    const agreement = h('div.agreement');
    clear(policyBox, h('h2', 'Policies'),
      h('p', 'Active version ', h('code.version', { title: p.version }, shortHash(p.version)),
        ' loaded ', when(p.loaded_at), ` · ${p.files.length} files`),
      p.shadow ? h('p', 'Shadow ', h('code', { title: p.shadow.version }, shortHash(p.shadow.version)),
        ' since ', when(p.shadow.loaded_at)) : h('p.muted', 'No shadow set runs.'),
      agreement, h('p', h('a', { href: '#/policies' }, 'Manage policies')));
    if (p.shadow && p.shadow.summary) { /* the server counts every new case since the shadow started */
      const sm = p.shadow.summary;
      clear(agreement, sm.evaluated === 0 ? h('p.muted', 'No case decided by both yet.')
        : h('p', 'Shadow agreement ', h('strong.agreement-rate', percent(sm.agreed / sm.evaluated)),
          ` (${sm.agreed} of ${sm.evaluated} new cases since it started)`));
    } else if (p.shadow) {
      agreement.append(loading('Comparing the shadow’s decisions…'));
      try {
        const a = await shadowAgreement(p.shadow);
        clear(agreement, a.compared === 0 ? h('p.muted', 'No case decided by both yet.')
          : h('p', 'Shadow agreement ', h('strong.agreement-rate', percent(a.agreed / a.compared)),
            ` (${a.agreed} of ${a.compared} newest decided cases)`));
      } catch (e) {
        clear(agreement, errorBox(e));
      }
    }
  }

  async function loadAlerts() {
    let r;
    try {
      r = await get('/v1/alerts', { limit: 20 });
    } catch (e) {
      clear(alertsBox, h('h2', 'Recent alerts'), errorBox(e));
      return;
    }
    if (!st.alive) return;
    clear(alertsBox, h('h2', 'Recent alerts'), r.alerts.length === 0 ? h('p.muted', 'No alerts.')
      : h('table.list', h('tbody', r.alerts.map((a) => h('tr', { dataset: { kind: a.kind } },
        h('td', when(a.at)), h('td', badge(a.kind, 'alert')), h('td', a.merchant_id || ''),
        h('td', a.case_id ? caseLink(a.case_id) : ''), h('td.msg', a.message))))));
  }

  function loadAll() {
    loadBacklog();
    loadKpi();
    loadPolicy();
    loadAlerts();
  }

  const refresh = debounce(() => st.alive && loadAll(), 1000);
  const unsub = subscribe(() => refresh());
  loadAll();
  return () => {
    st.alive = false;
    unsub();
    destroyCharts();
  };
}
