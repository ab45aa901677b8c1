// policies.js: the admins' policy page: the active set and a reload, the
// versions with a diff between two of them, activate and roll back, a
// dry-run of a case (stored or written here) on the active set and on a
// candidate, a replay of stored cases on the candidate, and the shadow set
// with its agreement.
//
// A candidate is the policies directory with some files replaced: the
// `sources` object of the admin API ({"returns.lua": "TEXT", ...}).

import { PENDING, api, get, post, session } from './api.js';
import { shadowAgreement } from './shadow.js';
import {
  badge, caseLink, cents, clear, details, errorBox, h, jsonBlock, loading, notAvailable, percent, shortHash,
  toast, when,
} from './util.js';

// Line diff (longest common subsequence): [{op: ' '|'-'|'+', text}].
export function lineDiff(a, b) {
  const x = a.split('\n'), y = b.split('\n');
  const n = x.length, m = y.length;
  const L = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) L[i][j] = x[i] === y[j] ? L[i + 1][j + 1] + 1 : Math.max(L[i + 1][j], L[i][j + 1]);
  }
  const out = [];
  let i = 0, j = 0;
  while (i < n && j < m) {
    if (x[i] === y[j]) {
      out.push({ op: ' ', text: x[i++] });
      j++;
    } else if (L[i + 1][j] >= L[i][j + 1]) out.push({ op: '-', text: x[i++] });
    else out.push({ op: '+', text: y[j++] });
  }
  while (i < n) out.push({ op: '-', text: x[i++] });
  while (j < m) out.push({ op: '+', text: y[j++] });
  return out;
}

function fileText(f) {
  return f.source ?? f.text ?? f.content ?? null;
}

// The files two policy versions differ in, with a line diff when the server
// gives the sources.
function renderVersionDiff(a, b) {
  const fa = new Map((a.files || []).map((f) => [f.name, f]));
  const fb = new Map((b.files || []).map((f) => [f.name, f]));
  const names = [...new Set([...fa.keys(), ...fb.keys()])].sort();
  const rows = [];
  for (const name of names) {
    const x = fa.get(name), y = fb.get(name);
    let status = 'same';
    if (!x) status = 'added';
    else if (!y) status = 'removed';
    else if (x.sha256 !== y.sha256) status = 'changed';
    if (status === 'same') continue;
    const tx = x && fileText(x), ty = y && fileText(y);
    rows.push(h('div.file-diff', h('h4', badge(status), ' ', name),
      tx !== null || ty !== null ? h('pre.diff', lineDiff(tx || '', ty || '').map((d) =>
        h('span', { class: d.op === '+' ? 'add' : d.op === '-' ? 'del' : 'ctx' }, d.op + ' ' + d.text + '\n')))
        : h('p.muted', `sha256 ${shortHash(x && x.sha256)} → ${shortHash(y && y.sha256)} (this server does not give the sources)`)));
  }
  return h('div.version-diff', h('p', `${shortHash(a.version)} → ${shortHash(b.version)}: `,
    rows.length ? `${rows.length} file(s) differ` : 'no file differs'), rows);
}

// The editor of a candidate's files.
function sourcesEditor() {
  const list = h('div.sources');
  const add = (name = '', text = '') => {
    const row = h('div.source',
      h('input.source-name', { placeholder: 'file, e.g. returns.lua or merchants/m1/returns.lua', value: name,
        'aria-label': 'policy file name' }),
      h('textarea.source-text', { rows: 8, spellcheck: 'false', 'aria-label': 'policy file text' }, text),
      h('button.secondary', { type: 'button', onclick: () => row.remove() }, 'Remove'));
    list.append(row);
  };
  const el = h('div.sources-editor', list,
    h('button.secondary', { type: 'button', onclick: () => add() }, 'Add a file'));
  return {
    el,
    add,
    // {name: text} or null when no file is given
    value() {
      const out = {};
      for (const row of list.querySelectorAll('.source')) {
        const name = row.querySelector('.source-name').value.trim();
        if (name) out[name] = row.querySelector('.source-text').value;
      }
      return Object.keys(out).length ? out : null;
    },
  };
}

const DRY_RUN_CASE = { type: 'return', reason: 'no_reason', channel: 'app', opened: false };

function renderDryRun(r) {
  return h('div.dry-run-result',
    h('p', 'policy version ', h('code', { title: r.policy_version }, shortHash(r.policy_version))),
    r.eligibility ? h('p.eligibility', badge(r.eligibility.outcome), ' ', h('code', r.eligibility.reason_code), ' ',
      r.eligibility.message, r.eligibility.shipping_paid_by ? ` · shipping paid by ${r.eligibility.shipping_paid_by}` : '')
      : h('p.muted', 'no eligibility decision for this type'),
    r.refund ? h('p', 'refund ', cents(r.refund.amount_cents)) : null,
    h('p', `routing: ${r.routing.queue}, priority ${r.routing.priority}`),
    h('p', 'SLA: first response ', when(r.sla.first_response_due), ', resolution ', when(r.sla.resolution_due),
      r.sla.business ? ' (working hours)' : ''),
    r.compensation ? h('p', 'goodwill ', cents(r.compensation.coupon_cents), ' (', r.compensation.reason, ')') : null,
    (r.errors || []).length ? h('div.error.policy-errors', h('strong', `${r.errors.length} policy error(s): `),
      r.errors.map((e) => h('div', h('code', `${e.module}.${e.function}`), ': ', e.error))) : null,
    details(`notes (${r.notes.length})`, jsonBlock(r.notes)));
}

export function renderPolicies(main) {
  const root = h('section.policies');
  main.append(root);
  if (session.me.role !== 'admin') {
    root.append(h('h1', 'Policies'), h('div.error', 'The policy page is for admins: this token is ',
      session.me.role, '.'));
    return null;
  }
  const st = { alive: true, active: null };
  const activeBox = h('section.card.active-set');
  const versionsBox = h('section.card.versions');
  const shadowBox = h('section.card.shadow');
  const candidate = sourcesEditor();
  const dryBox = h('section.card.dry-run');
  const replayBox = h('section.card.replay');
  root.append(h('h1', 'Policies'), activeBox, versionsBox,
    h('section.card.candidate', h('h2', 'Candidate'),
      h('p.muted', 'Files that replace the active set\'s for a dry-run, a replay or a shadow run. ',
        'Leave it empty to use the active set.'), candidate.el),
    dryBox, replayBox, shadowBox);
  activeBox.append(loading());

  // note: a line to show under the reload button (the result of the last one).
  async function loadActive(note) {
    try {
      st.active = await get('/v1/admin/policies');
    } catch (e) {
      clear(activeBox, h('h2', 'Active set'), errorBox(e));
      return;
    }
    if (!st.alive) return;
    const p = st.active;
    const result = h('div.result', note || null);
    const reload = h('button#reload', { type: 'button', onclick: async () => {
      reload.disabled = true;
      clear(result, loading('Reloading…'));
      try {
        const r = await post('/v1/admin/policies/reload', {});
        toast('Policies reloaded');
        loadActive(h('p.ok', 'Reloaded: version ', h('code', shortHash(r.version)), r.version === p.version
          ? ' (the files did not change)' : ''));
        loadVersions();
      } catch (e) {
        clear(result, errorBox(e));
      } finally {
        reload.disabled = false;
      }
    } }, 'Reload from the policies directory');
    clear(activeBox, h('h2', 'Active set'),
      h('p', 'version ', h('code.version', { title: p.version }, shortHash(p.version)), ' · loaded ', when(p.loaded_at)),
      h('table.list.files', h('thead', h('tr', h('th', 'file'), h('th', 'sha256'))),
        h('tbody', p.files.map((f) => h('tr', h('td', f.name), h('td', h('code', { title: f.sha256 }, shortHash(f.sha256))))))),
      h('div.buttons', reload), result);
    renderShadow();
  }

  // Versions, diff, activate, roll back: GET /v1/admin/policies/versions
  // (newest activation first, `previous` the version a rollback returns to),
  // GET .../versions/{version} (the files with their sources, for the diff),
  // POST .../activate {version} and POST .../rollback.
  async function loadVersions() {
    let r;
    try {
      r = await get(PENDING.versions);
    } catch (e) {
      clear(versionsBox, h('h2', 'Versions'), e.notAvailable
        ? notAvailable('The version history, the diff between two versions, activate and roll back',
          'GET ' + PENDING.versions) : errorBox(e));
      return;
    }
    if (!st.alive) return;
    const versions = (r.versions || []).slice();
    const at = (v) => v.activated_at ?? v.loaded_at ?? 0;
    const activeVersion = r.active || (st.active ? st.active.version : null);
    const activeIdx = versions.findIndex((v) => v.active || v.version === activeVersion);
    const previous = r.previous ? versions.find((v) => v.version === r.previous) || { version: r.previous } : null;
    const result = h('div.result');
    const done = (what, version) => {
      toast(`${what}: version ${shortHash(version)} is active`);
      clear(result);
      loadActive();
      loadVersions();
    };
    const failed = (e, what, route) => clear(result, e.notAvailable && e.code !== 'not_found'
      ? notAvailable(what, route) : errorBox(e));
    const activate = async (version) => {
      clear(result, loading('Activate…'));
      try {
        await post(PENDING.activate, { version });
        done('Activate', version);
      } catch (e) {
        failed(e, 'Activating a version', 'POST ' + PENDING.activate);
      }
    };
    const rollback = async () => {
      clear(result, loading('Roll back…'));
      try {
        const a = await post(PENDING.rollback, {});
        done('Roll back', a.version || previous.version);
      } catch (e) {
        failed(e, 'Rolling back', 'POST ' + PENDING.rollback);
      }
    };
    // A version's files with their sources, when the list did not carry them.
    const withSources = async (v) => {
      if ((v.files || []).some((f) => fileText(f) !== null)) return v;
      try {
        return await get(PENDING.version(v.version));
      } catch {
        return v; // the diff then compares hashes only
      }
    };
    const pick = (idx) => h('select', versions.map((v, i) => h('option', { value: i, selected: i === idx },
      `${shortHash(v.version)} · ${when(at(v))}${i === activeIdx ? ' (active)' : ''}`)));
    const from = pick(Math.min(1, versions.length - 1)), to = pick(0);
    const diffBox = h('div');
    const tests = (v) => v.tests ? `${v.tests.passed} passed, ${v.tests.failed} failed` : '';
    const by = (v) => v.loaded_by ? [v.loaded_by.role, v.loaded_by.agent].filter(Boolean).join(' ') : '';
    clear(versionsBox, h('h2', 'Versions'),
      h('table.list', h('thead', h('tr', ['version', 'activated or loaded', 'by', 'files', 'tests', ''].map((x) => h('th', x)))),
        h('tbody', versions.map((v, i) => h('tr', { class: i === activeIdx ? 'this' : null },
          h('td', h('code', { title: v.version }, shortHash(v.version)), i === activeIdx ? [' ', badge('active')] : ''),
          h('td', when(at(v))), h('td', by(v)), h('td', (v.files || []).length), h('td', tests(v)),
          h('td', i === activeIdx ? '' : h('button.secondary', { type: 'button',
            onclick: () => activate(v.version) }, 'Activate')))))),
      h('div.buttons', previous ? h('button#rollback', { type: 'button', onclick: rollback },
        `Roll back to ${shortHash(previous.version)}`) : null),
      h('div.diff-pick', 'Diff ', from, ' → ', to, ' ', h('button.secondary', { type: 'button', onclick: async () => {
        clear(diffBox, loading('Reading the versions…'));
        const [a, b] = await Promise.all([withSources(versions[from.value]), withSources(versions[to.value])]);
        clear(diffBox, renderVersionDiff(a, b));
      } }, 'Show diff')),
      diffBox, result);
  }

  function dryRunForm() {
    const caseId = h('input#dry-case-id', { placeholder: 'stored case id, e.g. C0000000001', 'aria-label': 'case id' });
    const caseJson = h('textarea#dry-case', { rows: 6, spellcheck: 'false', 'aria-label': 'case JSON' },
      JSON.stringify(DRY_RUN_CASE, null, 2));
    const orderJson = h('textarea#dry-order', { rows: 6, spellcheck: 'false', 'aria-label': 'order JSON' }, 'null');
    const orderId = h('input#dry-order-id', { placeholder: 'stored order id', 'aria-label': 'order id' });
    const result = h('div.result');
    const loadCase = async () => {
      clear(result);
      try {
        const c = await get('/v1/cases/' + encodeURIComponent(caseId.value.trim()));
        // the members a dry-run's case takes (the server names them in its 400)
        const keep = ['type', 'order_id', 'buyer_id', 'merchant_id', 'sku', 'qty', 'reason', 'description',
          'channel', 'opened', 'photos'];
        caseJson.value = JSON.stringify(Object.fromEntries(keep.filter((k) => c[k] !== null && c[k] !== undefined)
          .map((k) => [k, c[k]])), null, 2);
        if (c.order_id) {
          orderId.value = c.order_id;
          await loadOrder();
        }
      } catch (e) {
        clear(result, errorBox(e));
      }
    };
    const loadOrder = async () => {
      try {
        const o = await get('/v1/orders/' + encodeURIComponent(orderId.value.trim()));
        // an order as POST /v1/orders takes it (tracking, prices, case ids are the server's)
        const keep = ['order_id', 'buyer_id', 'merchant_id', 'paid_at', 'delivered_at', 'shipping_cents', 'items',
          'buyer'];
        orderJson.value = JSON.stringify(Object.fromEntries(keep.filter((k) => o[k] !== undefined)
          .map((k) => [k, o[k]])), null, 2);
      } catch (e) {
        clear(result, errorBox(e));
      }
    };
    const run = async () => {
      let kase, order;
      try {
        kase = JSON.parse(caseJson.value);
        order = JSON.parse(orderJson.value || 'null');
      } catch (e) {
        clear(result, h('div.error', 'Not JSON: ', e.message));
        return;
      }
      const sources = candidate.value();
      clear(result, loading('Running…'));
      const one = async (body) => {
        try {
          return renderDryRun(await post('/v1/admin/policies/dry-run', body));
        } catch (e) {
          return errorBox(e);
        }
      };
      const activeRes = await one({ case: kase, order });
      const candRes = sources ? await one({ case: kase, order, sources }) : null;
      clear(result, h('div.grid2', h('div.card', h('h3', 'Active set'), activeRes),
        candRes ? h('div.card', h('h3', 'Candidate'), candRes)
          : h('div.card.muted', h('h3', 'Candidate'), 'Add files to the candidate to compare.')));
    };
    clear(dryBox, h('h2', 'Dry-run a case'),
      h('p.muted', 'Runs the decisions of a case opening, on the active set and on the candidate; nothing is stored.'),
      h('div.row', caseId, h('button.secondary', { type: 'button', onclick: loadCase }, 'Load the stored case')),
      h('label', { for: 'dry-case' }, 'Case'), caseJson,
      h('div.row', orderId, h('button.secondary', { type: 'button', onclick: loadOrder }, 'Load the order')),
      h('label', { for: 'dry-order' }, 'Order (or null)'), orderJson,
      h('div.buttons', h('button#dry-run', { type: 'button', onclick: run }, 'Dry-run')), result);
  }

  function replayForm() {
    const limit = h('input', { type: 'number', min: 1, max: 1000, value: 100, 'aria-label': 'limit' });
    const since = h('input', { type: 'date', 'aria-label': 'since' });
    const result = h('div.result');
    const run = async () => {
      const body = { limit: Number(limit.value) };
      if (since.value) body.since = Math.floor(new Date(since.value + 'T00:00:00').getTime() / 1000);
      const sources = candidate.value();
      if (sources) body.sources = sources;
      clear(result, loading('Replaying…'));
      try {
        const r = await post('/v1/admin/policies/replay', body);
        clear(result, h('p', `${r.evaluated} cases re-decided on ${shortHash(r.policy_version)}: `,
          h('strong', `${r.changed} changed`)),
        r.diffs.length ? h('table.list', h('thead', h('tr', ['case', 'stored', 'candidate'].map((x) => h('th', x)))),
          h('tbody', r.diffs.map((d) => h('tr', h('td', caseLink(d.case_id)),
            h('td', badge(d.before.outcome), ' ', d.before.reason_code),
            h('td', badge(d.after.outcome), ' ', d.after.reason_code, ' ', h('span.muted', d.after.message || ''))))))
          : null);
      } catch (e) {
        clear(result, errorBox(e));
      }
    };
    clear(replayBox, h('h2', 'Replay stored cases'),
      h('p.muted', 'Re-decides the newest stored cases with the candidate and lists the decisions that change.'),
      h('div.row', h('label', 'since ', since), h('label', 'at most ', limit),
        h('button#replay', { type: 'button', onclick: run }, 'Replay')), result);
  }

  // The server's count over every new case since the shadow started
  // (GET /v1/admin/policies, shadow.summary); the comparison below samples
  // the newest cases' timelines to show which decisions differ.
  function serverAgreement(sm) {
    return sm.evaluated === 0 ? h('p.muted.server-agreement', 'The server has compared no new case yet.')
      : h('p.server-agreement', 'Since it started: ', h('strong', percent(sm.agreed / sm.evaluated)),
        ` of ${sm.evaluated} new cases agree`, sm.errors ? `, ${sm.errors} shadow errors` : '');
  }

  async function renderShadow() {
    const p = st.active;
    const result = h('div.result');
    const agreement = h('div.agreement');
    const start = async () => {
      const sources = candidate.value();
      if (!sources) {
        clear(result, h('div.error', 'Add the candidate\'s files first.'));
        return;
      }
      clear(result, loading('Loading the shadow set and running its tests…'));
      try {
        await post('/v1/admin/policies/shadow', { sources });
        toast('Shadow set running');
        loadActive();
      } catch (e) {
        clear(result, errorBox(e));
      }
    };
    const stop = async () => {
      try {
        await api('DELETE', '/v1/admin/policies/shadow');
        toast('Shadow set stopped');
        loadActive();
      } catch (e) {
        clear(result, errorBox(e));
      }
    };
    clear(shadowBox, h('h2', 'Shadow'),
      h('p.muted', 'A shadow set decides every new case of a decided type beside the active one; ',
        'its decisions go on the timeline and are never enforced.'),
      p.shadow ? h('p', 'Running ', h('code', { title: p.shadow.version }, shortHash(p.shadow.version)),
        ' since ', when(p.shadow.loaded_at)) : h('p', 'No shadow set runs.'),
      p.shadow && p.shadow.summary ? serverAgreement(p.shadow.summary) : null,
      agreement,
      h('div.buttons',
        h('button#shadow-start', { type: 'button', onclick: start }, p.shadow ? 'Replace with the candidate'
          : 'Run the candidate in shadow'),
        p.shadow ? h('button.secondary#shadow-compare', { type: 'button', onclick: () => loadActive() },
          'Compare again') : null,
        p.shadow ? h('button.secondary#shadow-stop', { type: 'button', onclick: stop }, 'Stop the shadow') : null),
      result);
    if (p.shadow) {
      agreement.append(loading('Comparing decisions…'));
      try {
        const a = await shadowAgreement(p.shadow);
        clear(agreement, a.compared === 0 ? h('p.muted', 'No new case has been decided by both yet.')
          : h('div', h('p', 'Agreement ', h('strong.agreement-rate', percent(a.agreed / a.compared)),
            ` on the ${a.compared} newest cases decided by both`, a.errors ? `, ${a.errors} shadow errors` : ''),
          a.disagreements.length ? h('table.list', h('thead', h('tr', ['case', 'active', 'shadow'].map((x) => h('th', x)))),
            h('tbody', a.disagreements.map((d) => h('tr', h('td', caseLink(d.case_id)),
              h('td', badge(d.active.outcome), ' ', d.active.reason_code),
              h('td', d.shadow.error ? h('span.error-text', d.shadow.error)
                : [badge(d.shadow.outcome), ' ', d.shadow.reason_code]))))) : null));
      } catch (e) {
        clear(agreement, errorBox(e));
      }
    }
  }

  loadActive();
  loadVersions();
  dryRunForm();
  replayForm();
  return () => {
    st.alive = false;
  };
}
