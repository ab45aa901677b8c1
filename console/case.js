// case.js: one case: its state and SLA, the decision, the refund, the order,
// the buyer's other cases, the timeline, and a button for each action the
// case allows now (GET /v1/cases/{id}/actions). Every submit carries an
// Idempotency-Key made when the form opens, so a double click or a retry
// after a lost answer acts once. The view refreshes itself from the feed.

import { ApiError, get, newIdempotencyKey, post, session } from './api.js';
import { subscribe } from './feed.js';
import {
  badge, caseLink, cents, clear, countdown, debounce, details, duration, errorBox, h, jsonBlock,
  loading, shortHash, toast, when,
} from './util.js';

// What each action asks for (SPEC section 3). Fields: name, label, kind
// (text, textarea, select, cents, agent), required, options.
const FORMS = {
  reply: [{ name: 'body', label: 'Reply to the customer', kind: 'textarea', required: true }],
  note: [{ name: 'body', label: 'Internal note (the customer does not see it)', kind: 'textarea', required: true }],
  assign: [{ name: 'agent_id', label: 'Agent', kind: 'agent', required: true }],
  escalate: [{ name: 'reason', label: 'Why', kind: 'text', required: true }],
  reopen: [{ name: 'reason', label: 'Why', kind: 'text', required: true }],
  approve: [{ name: 'reason', label: 'Note for the decision (optional)', kind: 'text' },
    { name: 'amount_cents', label: 'Amount, replacing the policy\'s refund (optional)', kind: 'cents',
      only: ['refund_only', 'price_protection'] }],
  reject: [{ name: 'reason', label: 'Note for the decision (optional)', kind: 'text' }],
  cancel: [{ name: 'reason', label: 'Why (optional)', kind: 'text' }],
  ship_back: [{ name: 'carrier', label: 'Carrier', kind: 'text', required: true },
    { name: 'tracking_no', label: 'Tracking number', kind: 'text', required: true }],
  receive: [{ name: 'notes', label: 'Notes (optional)', kind: 'text' }],
  inspect: [{ name: 'result', label: 'Result', kind: 'select', options: ['pass', 'fail'], required: true },
    { name: 'notes', label: 'Notes (optional)', kind: 'text' },
    { name: 'amount_cents', label: 'Amount on pass, replacing the policy\'s refund (optional)', kind: 'cents',
      only: ['return'] }],
  refund: [{ name: 'amount_cents', label: 'Amount', kind: 'cents', required: true, remaining: true }],
  ship_to_customer: [{ name: 'carrier', label: 'Carrier', kind: 'text', required: true },
    { name: 'tracking_no', label: 'Tracking number', kind: 'text', required: true }],
  repair_done: [{ name: 'notes', label: 'Notes (optional)', kind: 'text' }],
  resolve: [{ name: 'resolution', label: 'Resolution', kind: 'text', required: true }],
  close: [{ name: 'reason', label: 'Why (optional)', kind: 'text' }],
};

// "12.50" -> 1250; null when empty; NaN when not an amount.
function parseCents(text) {
  const t = text.trim();
  if (t === '') return null;
  const m = /^(\d+)(?:\.(\d{1,2}))?$/.exec(t);
  if (!m) return NaN;
  return Number(m[1]) * 100 + Number((m[2] || '').padEnd(2, '0'));
}

// Every page of a case's timeline (the server answers it in pages: next_after).
export async function timelineAll(id, maxPages = 20) {
  const events = [];
  let after = 0;
  for (let page = 0; page < maxPages; page++) {
    const r = await get('/v1/cases/' + encodeURIComponent(id) + '/timeline', { after: after || null, limit: 500 });
    events.push(...r.events);
    if (r.next_after === null || r.next_after === undefined) return { case_id: id, events, complete: true };
    after = r.next_after;
  }
  return { case_id: id, events, complete: false };
}

export function renderCase(main, params) {
  const id = params[0];
  const v = {
    id,
    alive: true,
    kase: null,
    agents: null,
    allowedKey: null, // the allowed list last drawn: buttons (and an open form) are redrawn only when it changes
    timelineKey: null, // the same for the timeline
    openForm: null, // {action, key}: the form open now and its Idempotency-Key
    notice: null, // the last refused submit's error, kept while the buttons re-render
  };
  const head = h('div.case-head');
  const actions = h('section.card.actions', { 'aria-label': 'actions' });
  const facts = h('div.grid');
  const timeline = h('section.card.timeline');
  const order = h('section.card.order');
  const others = h('section.card.others');
  main.append(h('section.case', { dataset: { caseId: id } }, head, actions, facts,
    h('div.grid2', h('div', timeline), h('div', order, others))));
  head.append(loading());

  async function load() {
    let kase;
    try {
      kase = await get('/v1/cases/' + encodeURIComponent(id));
    } catch (e) {
      clear(head, h('h1', 'Case ', id), errorBox(e));
      actions.hidden = true;
      return;
    }
    if (!v.alive) return;
    const first = v.kase === null;
    v.kase = kase;
    renderHead(head, kase);
    renderFacts(facts, kase);
    // A note in the same second as the last change leaves the case as it
    // was (the manual clock stands still): the timeline is asked every time.
    await Promise.all([loadActions(), loadTimeline()]);
    if (first) {
      loadOrder();
      loadOthers();
    }
  }

  async function loadActions() {
    let allowed;
    try {
      allowed = (await get('/v1/cases/' + encodeURIComponent(id) + '/actions')).allowed;
    } catch (e) {
      clear(actions, h('h2', 'Actions'), errorBox(e));
      return;
    }
    if (!v.alive) return;
    const key = JSON.stringify(allowed);
    if (key === v.allowedKey) return; // an open form keeps what is typed in it
    v.allowedKey = key;
    renderActions(allowed);
  }

  function renderActions(allowed) {
    const formBox = h('div.action-form');
    const buttons = allowed.map((a) => h('button.action', {
      type: 'button',
      dataset: { action: a },
      class: v.openForm && v.openForm.action === a ? 'open' : null,
      onclick: () => openForm(a, formBox),
    }, a.replace(/_/g, ' ')));
    clear(actions, h('h2', 'Actions'),
      allowed.length ? h('div.buttons', buttons) : h('p.muted', 'This case allows no action now.'),
      v.notice, formBox);
    if (v.openForm && allowed.includes(v.openForm.action)) openForm(v.openForm.action, formBox, true);
    else v.openForm = null;
  }

  async function agentOptions() {
    if (v.agents === null) {
      try {
        v.agents = (await get('/v1/agents')).agents;
      } catch {
        v.agents = [];
      }
    }
    return v.agents;
  }

  // Opens the form of one action. The Idempotency-Key is made here, once per
  // opened form: resubmitting the same form (a retry) reuses it.
  async function openForm(action, box, keep) {
    if (!keep || !v.openForm || v.openForm.action !== action) {
      v.openForm = { action, key: newIdempotencyKey() };
      if (v.notice) v.notice.remove();
      v.notice = null;
    }
    for (const b of actions.querySelectorAll('button.action')) b.classList.toggle('open', b.dataset.action === action);
    const kase = v.kase;
    const inputs = {};
    const rows = [];
    for (const f of FORMS[action] || []) {
      if (f.only && !f.only.includes(kase.type)) continue;
      let input;
      const fid = 'f-' + action + '-' + f.name;
      if (f.kind === 'textarea') input = h('textarea', { id: fid, name: f.name, rows: 3, required: f.required });
      else if (f.kind === 'select') {
        input = h('select', { id: fid, name: f.name }, f.options.map((o) => h('option', { value: o }, o)));
      } else if (f.kind === 'agent') {
        const agents = await agentOptions();
        input = h('input', { id: fid, name: f.name, required: true, list: fid + '-list',
          value: session.me.agent_id || '' });
        rows.push(h('datalist', { id: fid + '-list' },
          agents.map((a) => h('option', { value: a.agent_id },
            `${a.name || a.agent_id} (${a.queues.join(', ')}; load ${a.load}/${a.capacity}${a.online ? '' : ', offline'})`))));
      } else {
        input = h('input', { id: fid, name: f.name, required: f.required, inputmode: f.kind === 'cents' ? 'decimal' : null });
        if (f.remaining) {
          const r = kase.refund || {};
          const left = (r.approved_cents || 0) - (r.refunded_cents || 0);
          if (left > 0) input.value = cents(left);
        }
      }
      inputs[f.name] = { f, input };
      rows.push(h('label', { for: fid }, f.label + (f.kind === 'cents' ? ' (in yuan, e.g. 59.00)' : '')), input);
    }
    const result = h('div.result');
    const submit = h('button', { type: 'submit' }, 'Submit ' + action.replace(/_/g, ' '));
    const form = h('form', {
      dataset: { action },
      onsubmit: async (e) => {
        e.preventDefault();
        const body = { action };
        if (action === 'reply') body.by = 'agent';
        for (const [name, { f, input }] of Object.entries(inputs)) {
          const raw = input.value;
          if (f.kind === 'cents') {
            const c = parseCents(raw);
            if (Number.isNaN(c)) {
              clear(result, h('div.error', f.label + ': not an amount'));
              return;
            }
            if (c !== null) body[name] = c;
          } else if (raw.trim() !== '') body[name] = raw.trim();
        }
        submit.disabled = true;
        clear(result, loading('Submitting…'));
        try {
          const kase = await post('/v1/cases/' + encodeURIComponent(id) + '/actions', body,
            { idempotencyKey: v.openForm.key });
          v.openForm = null;
          v.allowedKey = null;
          toast(`${action.replace(/_/g, ' ')}: case is now ${kase.status}/${kase.stage}`);
          clear(box);
          await load();
        } catch (err) {
          submit.disabled = false;
          if (err.status === 409) {
            // The case moved on (someone else acted): say so above the
            // buttons, which now show what it allows.
            v.openForm = null;
            v.allowedKey = null;
            v.notice = h('div.notice', errorBox(err));
            clear(box);
            await load();
            return;
          }
          clear(result, errorBox(err));
          // A refused action changed nothing: the next try may use a new key.
          if (err instanceof ApiError && err.status >= 400 && err.status < 500) v.openForm.key = newIdempotencyKey();
        }
      },
    }, h('h3', action.replace(/_/g, ' ')), rows,
    h('div.buttons', submit, h('button', { type: 'button', class: 'secondary', onclick: () => {
      v.openForm = null;
      clear(box);
      for (const b of actions.querySelectorAll('button.action')) b.classList.remove('open');
    } }, 'Cancel')), result);
    clear(box, form);
    const firstInput = form.querySelector('input, textarea, select');
    if (firstInput && !keep) firstInput.focus();
  }

  async function loadTimeline() {
    let tl;
    try {
      tl = await timelineAll(id);
    } catch (e) {
      clear(timeline, h('h2', 'Timeline'), errorBox(e));
      return;
    }
    if (!v.alive) return;
    const last = tl.events[tl.events.length - 1];
    const key = tl.events.length + ':' + (last ? last.seq : '');
    if (key === v.timelineKey) return; // keeps the records a reader opened
    v.timelineKey = key;
    clear(timeline, h('h2', 'Timeline ', h('span.muted', `(${tl.events.length} entries)`)),
      h('ol.events', tl.events.map(timelineEntry)),
      tl.complete ? null : h('p.muted', 'Only the first entries are shown; the case has more.'));
  }

  async function loadOrder() {
    const kase = v.kase;
    if (!kase.order_id) {
      clear(order, h('h2', 'Order'), h('p.muted', 'This case has no order.'));
      return;
    }
    try {
      const o = await get('/v1/orders/' + encodeURIComponent(kase.order_id));
      if (v.alive) renderOrder(order, o, kase);
    } catch (e) {
      clear(order, h('h2', 'Order ', kase.order_id), errorBox(e));
    }
  }

  async function loadOthers() {
    const kase = v.kase;
    try {
      const r = await get('/v1/customers/' + encodeURIComponent(kase.buyer_id) + '/cases', { limit: 50 });
      const list = r.cases.filter((c) => c.case_id !== kase.case_id);
      clear(others, h('h2', 'Buyer ', kase.buyer_id, '’s other cases'),
        list.length === 0 ? h('p.muted', 'None.') : h('table.list', h('thead', h('tr',
          ['Case', 'Type', 'Status', 'Created'].map((t) => h('th', t)))),
        h('tbody', list.map((c) => h('tr', h('td', caseLink(c.case_id)), h('td', c.type),
          h('td', badge(c.status), ' ', c.stage), h('td', when(c.created_at)))))),
        r.next_cursor ? h('p.muted', 'Only the newest 50 are shown.') : null);
    } catch (e) {
      clear(others, h('h2', 'Buyer’s other cases'), errorBox(e));
    }
  }

  const refresh = debounce(() => v.alive && load(), 200);
  const unsub = subscribe((ev) => {
    if (ev.type === 'poll' || ev.case_id === id) refresh();
  });
  load();
  return () => {
    v.alive = false;
    unsub();
  };
}

function renderHead(head, c) {
  clear(head,
    h('h1', 'Case ', h('span.case-id', c.case_id), ' ', h('span.muted', c.type.replace(/_/g, ' '))),
    h('div.state', badge(c.status), ' ', h('span.stage', c.stage), ' ',
      h('span.prio', { class: 'p' + c.priority }, 'P' + c.priority),
      c.escalated ? badge('escalated') : null, c.followup ? badge('follow-up') : null,
      ' queue ', h('strong', c.queue), ' · assignee ', h('strong.assignee', c.assignee || 'nobody'),
      ' · ', c.channel, ' · reason ', c.reason),
    c.description ? h('p.description', c.description) : null);
}

function slaRow(kind, label, due, doneAt, breached) {
  let state = null;
  if (breached) state = 'breached';
  else if (doneAt !== null && doneAt !== undefined) state = 'met';
  return h('tr', { class: 'sla-' + kind }, h('th', label), h('td', when(due)),
    h('td', due === null || due === undefined ? '—' : countdown(due, state)),
    h('td.done', doneAt ? 'done ' + when(doneAt) : ''));
}

function renderFacts(box, c) {
  const sla = c.sla || {};
  const breached = sla.breached || [];
  const d = c.decision;
  const r = c.refund || {};
  const s = c.survey || {};
  clear(box,
    h('section.card.sla', h('h2', 'SLA', sla.business ? h('span.muted', ' (working hours)') : null),
      h('table.kv', h('tbody',
        slaRow('first_response', 'First response', sla.first_response_due, c.first_response_at, breached.includes('first_response')),
        slaRow('resolution', 'Resolution', sla.resolution_due, c.resolved_at, breached.includes('resolution')))),
      breached.length ? h('p', badge('breached', 'breached'), ' ', breached.join(', ')) : null,
      h('p.muted', 'opened ', when(c.created_at), ' · updated ', when(c.updated_at),
        c.closed_at ? ' · closed ' + when(c.closed_at) : '')),
    h('section.card.decision', h('h2', 'Decision'), d ? h('div',
      h('p', badge(d.outcome), ' ', h('code.reason-code', d.reason_code)),
      h('p.message', d.message),
      h('p.muted', d.module ? `${d.module}.${d.function} · ` : '',
        'policy version ', h('code', { title: d.policy_version }, shortHash(d.policy_version)),
        d.settled_by ? ` · settled by ${d.settled_by.role}${d.settled_by.id ? ' ' + d.settled_by.id : ''}` : '',
        d.at ? ' · ' + when(d.at) : ''))
      : h('p.muted', 'No eligibility decision for this type of case.')),
    h('section.card.money', h('h2', 'Refund'),
      h('table.kv', h('tbody',
        h('tr', h('th', 'approved'), h('td.approved', cents(r.approved_cents))),
        h('tr', h('th', 'refunded'), h('td.refunded', cents(r.refunded_cents))),
        h('tr', h('th', 'return shipping paid by'), h('td', r.shipping_paid_by || '—')),
        c.compensation ? h('tr', h('th', 'goodwill coupon'),
          h('td', cents(c.compensation.coupon_cents), ' (', c.compensation.reason, ')')) : null,
        c.resolution ? h('tr', h('th', 'resolution'), h('td', c.resolution)) : null)),
      s.due_at ? h('p.muted', 'survey ', s.csat !== null && s.csat !== undefined
        ? `answered: CSAT ${s.csat}${s.nps !== null && s.nps !== undefined ? ', NPS ' + s.nps : ''}`
        : (s.sent_at ? 'sent ' + when(s.sent_at) : 'due ' + when(s.due_at))) : null,
      (c.shipments || []).length ? h('ul.shipments', c.shipments.map((x) =>
        h('li', x.direction === 'to_merchant' ? 'to merchant: ' : 'to customer: ', x.carrier, ' ', x.tracking_no,
          ' · ', when(x.at)))) : null));
}

function renderOrder(box, o, kase) {
  const b = o.buyer || {};
  clear(box, h('h2', 'Order ', o.order_id),
    h('table.kv', h('tbody',
      h('tr', h('th', 'merchant'), h('td', o.merchant_id)),
      h('tr', h('th', 'buyer'), h('td', o.buyer_id, b.tier ? ' · ' + b.tier : '')),
      h('tr', h('th', 'phone'), h('td.phone', b.phone || '—')),
      h('tr', h('th', 'email'), h('td.email', b.email || '—')),
      h('tr', h('th', 'paid'), h('td', when(o.paid_at))),
      h('tr', h('th', 'delivered'), h('td', when(o.delivered_at))),
      h('tr', h('th', 'shipping'), h('td', cents(o.shipping_cents))))),
    h('table.list', h('thead', h('tr', ['SKU', 'Item', 'Category', 'Price', 'Qty'].map((t) => h('th', t)))),
      h('tbody', o.items.map((it) => h('tr', { class: it.sku === kase.sku ? 'this' : null },
        h('td', it.sku), h('td', it.title || ''), h('td', it.category), h('td', cents(it.price_cents)),
        h('td', it.qty))))),
    o.tracking && o.tracking.length ? details(`Tracking (${o.tracking.length})`,
      h('ul', o.tracking.map((t) => h('li', when(t.at), ' ', t.status, t.carrier ? ' · ' + t.carrier : '',
        t.tracking_no ? ' ' + t.tracking_no : '', t.note ? ' · ' + t.note : '')))) : null,
    h('p.muted', 'cases on this order: ', o.case_ids.map((cid, i) => [i ? ', ' : '', caseLink(cid)])));
}

function actorText(a) {
  if (!a) return '';
  return a.id ? `${a.role} ${a.id}` : a.role;
}

// One timeline entry, readable: a decision says its outcome, reason and
// message and the policy version that made it; the raw record stays one
// click away.
function timelineEntry(ev) {
  const d = ev.data || {};
  let what;
  switch (ev.type) {
    case 'case.created':
      what = ['opened: ', d.type, ' via ', d.channel, ', reason ', d.reason];
      break;
    case 'decision':
    case 'shadow.decision': {
      const o = d.output || {};
      what = [ev.type === 'shadow.decision' ? badge('shadow') : null, ' ',
        h('code', `${d.module}.${d.function}`), ' → ',
        o.outcome ? [badge(o.outcome), ' ', h('code', o.reason_code || ''), ' ', o.message || ''] : summarizeOutput(o),
        ' · policy ', h('code', { title: d.policy_version }, shortHash(d.policy_version))];
      break;
    }
    case 'policy.error':
    case 'shadow.error':
      what = [badge('error', 'breached'), ' ', h('code', `${d.module}.${d.function}`), ': ', d.error];
      break;
    case 'action':
      what = ['action ', h('strong', d.action), ': ', `${d.from_status}/${d.from_stage} → ${d.status}/${d.stage}`];
      break;
    case 'message':
      what = [h('strong', d.by === 'agent' ? 'reply to customer' : 'customer wrote'), ': ', h('q', d.body)];
      break;
    case 'note':
      what = [h('strong', 'internal note'), ': ', d.body];
      break;
    case 'assignment':
      what = ['assigned to ', h('strong', d.agent_id || 'nobody'), d.from ? ` (from ${d.from})` : '', ' by ', d.by];
      break;
    case 'refund':
      what = ['refund ', cents(d.amount_cents), ' (', cents(d.refunded_cents), ' refunded in all)'];
      break;
    case 'sla.breached':
      what = [badge('breached'), ' ', d.kind.replace('_', ' '), ' target missed'];
      break;
    case 'survey.sent':
      what = ['survey sent'];
      break;
    case 'survey.answered':
      what = ['survey answered: CSAT ', d.csat, d.nps !== null && d.nps !== undefined ? ', NPS ' + d.nps : '',
        d.comment ? [' · ', h('q', d.comment)] : ''];
      break;
    case 'followup':
      what = ['follow-up case ', caseLink(d.case_id), ' opened'];
      break;
    case 'status':
      what = ['closed automatically'];
      break;
    default:
      what = [ev.type];
  }
  return h('li.event', { dataset: { type: ev.type, seq: ev.seq } },
    h('div.event-head', h('span.when', when(ev.at)), ' ', h('span.etype', ev.type), ' ',
      h('span.actor', actorText(ev.actor))),
    h('div.event-body', what),
    details('record', jsonBlock(d)));
}

function summarizeOutput(o) {
  if (o === null || o === undefined) return 'nothing';
  const parts = [];
  if (o.queue) parts.push(`queue ${o.queue}`);
  if (o.priority) parts.push(`priority ${o.priority}`);
  if (o.amount_cents !== undefined) parts.push(`amount ${cents(o.amount_cents)}`);
  if (o.first_response !== undefined) parts.push(`first response within ${duration(o.first_response)}`);
  if (o.resolution !== undefined) parts.push(`resolution within ${duration(o.resolution)}`);
  if (o.business) parts.push('working hours');
  if (o.coupon_cents !== undefined) parts.push(`coupon ${cents(o.coupon_cents)}${o.reason ? ' (' + o.reason + ')' : ''}`);
  if (o.send_after !== undefined) parts.push(`survey after ${duration(o.send_after)}`);
  if (o.escalate !== undefined) parts.push(o.escalate ? 'escalate' : 'no escalation');
  if (o.followup !== undefined) parts.push(o.followup ? 'follow-up' : 'no follow-up');
  if (parts.length) return parts.join(', ');
  return Object.keys(o).length ? JSON.stringify(o) : 'nothing';
}
