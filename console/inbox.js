// inbox.js: the agent's inbox: "my queue" (the active cases assigned to the
// signed-in agent) and the backlog (every other active case the token sees),
// each sorted by priority, then by the SLA due time the case works toward,
// with a live countdown. It refreshes from the events feed.

import { PENDING, listAll, post, session } from './api.js';
import { subscribe } from './feed.js';
import {
  ACTIVE_STATUSES, CASE_TYPES, QUEUES, badge, caseLink, clear, countdown, debounce, errorBox, h, loading,
  nextDue, notAvailable, toast, when,
} from './util.js';

const MAX_PER_STATUS = 600;

function byPriorityThenDue(a, b) {
  if (a.priority !== b.priority) return a.priority - b.priority;
  const da = nextDue(a), db = nextDue(b);
  const ta = da ? da.due : Infinity, tb = db ? db.due : Infinity;
  if (ta !== tb) return ta - tb;
  return a.created_at - b.created_at;
}

function caseTable(cases, empty) {
  if (cases.length === 0) return h('p.muted.empty', empty);
  return h('table.list.cases', h('thead', h('tr', ['Prio', 'Case', 'Type', 'Status', 'Queue', 'Assignee',
    'Buyer', 'Next target', 'Due', 'Updated'].map((t) => h('th', t)))),
  h('tbody', cases.map((c) => {
    const nd = nextDue(c);
    return h('tr', {
      dataset: { caseId: c.case_id, priority: c.priority, due: nd ? nd.due : '' },
      class: (c.sla.breached || []).length ? 'breached' : null,
      onclick: (e) => {
        if (e.target.tagName !== 'A') location.hash = '#/cases/' + encodeURIComponent(c.case_id);
      },
    },
    h('td', h('span.prio', { class: 'p' + c.priority }, 'P' + c.priority)),
    h('td', caseLink(c.case_id)), h('td', c.type.replace(/_/g, ' ')),
    h('td', badge(c.status), ' ', h('span.stage', c.stage)),
    h('td', c.queue), h('td', c.assignee || '—'), h('td', c.buyer_id),
    h('td', nd ? nd.kind : '—'), h('td', nd ? countdown(nd.due, nd.state) : '—'),
    h('td', when(c.updated_at)));
  })));
}

export function renderInbox(main) {
  const me = session.me;
  const state = { alive: true, queue: '', type: '', unassigned: false, seq: 0 };
  const mine = h('section.card.mine');
  const backlog = h('section.card.backlog');
  const nextBox = h('div.next-case');
  const stamp = h('span.muted.stamp');

  const select = (label, values, key) => h('label', label, ' ', h('select', {
    onchange: (e) => {
      state[key] = e.target.value;
      load();
    },
  }, h('option', { value: '' }, 'all'), values.map((x) => h('option', { value: x }, x.replace(/_/g, ' ')))));

  main.append(h('section.inbox',
    h('div.toolbar', h('h1', 'Inbox'),
      select('Queue', QUEUES, 'queue'), select('Type', CASE_TYPES, 'type'),
      h('label', h('input', { type: 'checkbox', onchange: (e) => {
        state.unassigned = e.target.checked;
        load();
      } }), ' unassigned only'),
      me.agent_id ? h('button#next-case', { type: 'button', onclick: nextCase }, 'Next case') : null,
      stamp),
    nextBox, mine, backlog));
  if (me.agent_id) mine.append(loading());
  else mine.hidden = true;
  backlog.append(loading());

  // The agent's next case, chosen by the server. The endpoint is being built
  // (docs/console.md); until then a 404 says so.
  async function nextCase() {
    clear(nextBox);
    try {
      const r = await post(PENDING.nextCase(me.agent_id), {});
      const c = r && (r.case || r);
      if (c && c.case_id) location.hash = '#/cases/' + encodeURIComponent(c.case_id);
      else toast('No case is waiting for you.');
    } catch (e) {
      clear(nextBox, e.notAvailable ? notAvailable('Picking the next case',
        'POST ' + PENDING.nextCase(me.agent_id)) : errorBox(e));
    }
  }

  async function load() {
    const filter = { queue: state.queue, type: state.type };
    const mySeq = ++state.seq; // a slower earlier load must not draw over a later one
    try {
      const [my, ...lists] = await Promise.all([
        me.agent_id ? listAll('/v1/cases', { assignee: me.agent_id, ...filter }, MAX_PER_STATUS)
          : Promise.resolve({ cases: [], truncated: false }),
        ...ACTIVE_STATUSES.map((status) => listAll('/v1/cases', { status, ...filter }, MAX_PER_STATUS)),
      ]);
      if (!state.alive || mySeq !== state.seq) return;
      const myCases = my.cases.filter((c) => ACTIVE_STATUSES.includes(c.status)).sort(byPriorityThenDue);
      const mineIds = new Set(myCases.map((c) => c.case_id));
      let rest = lists.flatMap((l) => l.cases).filter((c) => !mineIds.has(c.case_id));
      if (state.unassigned) rest = rest.filter((c) => !c.assignee);
      rest.sort(byPriorityThenDue);
      const truncated = lists.some((l) => l.truncated);
      if (me.agent_id) {
        clear(mine, h('h2', 'My queue ', h('span.count', String(myCases.length))),
          caseTable(myCases, 'Nothing assigned to you is waiting.'));
      }
      clear(backlog, h('h2', 'Backlog ', h('span.count', String(rest.length))),
        h('p.muted', 'Active cases (open, awaiting customer, in progress)',
          me.merchant_id ? ` of merchant ${me.merchant_id}` : '', me.agent_id ? ', other than yours' : '', '.',
          truncated ? ` Only the newest ${MAX_PER_STATUS} of each status are shown.` : ''),
        caseTable(rest, 'The backlog is empty.'));
      stamp.textContent = 'updated ' + new Date().toLocaleTimeString();
    } catch (e) {
      if (!state.alive) return;
      clear(backlog, h('h2', 'Backlog'), errorBox(e));
    }
  }

  const refresh = debounce(() => state.alive && load(), 300);
  const unsub = subscribe((ev) => {
    if (ev.type === 'poll' || ev.type.startsWith('case.') || ev.type === 'sla.breached') refresh();
  });
  load();
  return () => {
    state.alive = false;
    unsub();
  };
}

// Exported for the dashboard: the active cases of the token, every status.
export async function activeCases(max = MAX_PER_STATUS) {
  const lists = await Promise.all(ACTIVE_STATUSES.map((status) => listAll('/v1/cases', { status }, max)));
  return { cases: lists.flatMap((l) => l.cases), truncated: lists.some((l) => l.truncated) };
}
