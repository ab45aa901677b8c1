// util.js: building DOM nodes, formatting values, countdowns and messages.
//
// Every value from the server reaches the page as text (textContent), never
// as HTML, so a case description or a policy message cannot inject markup.

import { serverNow } from './api.js';

// h('div.card#main', {onclick: fn, title: 'x'}, child, 'text', [more]) builds
// an element. Children that are null, undefined or false are skipped.
export function h(spec, attrs, ...children) {
  const m = /^([a-z0-9]+)((?:[.#][\w-]+)*)$/i.exec(spec);
  if (!m) throw new Error('bad element spec ' + spec);
  const el = document.createElement(m[1]);
  for (const part of m[2].match(/[.#][\w-]+/g) || []) {
    if (part[0] === '.') el.classList.add(part.slice(1));
    else el.id = part.slice(1);
  }
  if (attrs !== null && attrs !== undefined &&
      (typeof attrs !== 'object' || attrs instanceof Node || Array.isArray(attrs))) {
    children.unshift(attrs);
    attrs = null;
  }
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'class') el.classList.add(...String(v).split(/\s+/).filter(Boolean));
    else if (k === 'value') el.value = v;
    else if (k === 'checked' || k === 'disabled' || k === 'selected') el[k] = Boolean(v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

export function clear(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

// A link inside the console (hash routes).
export function link(route, text) {
  return h('a', { href: '#/' + route }, text);
}

export function caseLink(id) {
  return link('cases/' + encodeURIComponent(id), id);
}

export function cents(v) {
  if (v === null || v === undefined) return '—';
  const sign = v < 0 ? '-' : '';
  const a = Math.abs(v);
  return sign + Math.floor(a / 100) + '.' + String(a % 100).padStart(2, '0');
}

// Unix seconds as local date and time, "2026-11-02 10:00".
export function when(ts) {
  if (ts === null || ts === undefined) return '—';
  const d = new Date(ts * 1000);
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}`;
}

// A duration in seconds, "2d 3h", "1h 5m", "42s".
export function duration(sec) {
  if (sec === null || sec === undefined) return '—';
  sec = Math.round(Math.abs(sec));
  const d = Math.floor(sec / 86400), hr = Math.floor((sec % 86400) / 3600);
  const mi = Math.floor((sec % 3600) / 60), s = sec % 60;
  if (d > 0) return `${d}d ${hr}h`;
  if (hr > 0) return `${hr}h ${mi}m`;
  if (mi > 0) return `${mi}m ${s}s`;
  return `${s}s`;
}

export function percent(v) {
  return v === null || v === undefined ? '—' : (v * 100).toFixed(1) + '%';
}

export function num(v, digits = 2) {
  return v === null || v === undefined ? '—' : Number(v).toFixed(digits).replace(/\.?0+$/, '');
}

export function shortHash(v) {
  return v ? String(v).slice(0, 12) : '—';
}

export function badge(text, kind) {
  return h('span.badge', { class: 'b-' + (kind || String(text).replace(/[^\w-]/g, '')) }, text);
}

// A <pre> with JSON, for the details a human may want to look into.
export function jsonBlock(v) {
  return h('pre.json', JSON.stringify(v, null, 2));
}

export function details(summary, ...children) {
  return h('details', h('summary', summary), ...children);
}

// Calls fn at most once per `ms`, with the last arguments.
export function debounce(fn, ms) {
  let t = null;
  return (...args) => {
    clearTimeout(t);
    t = setTimeout(() => fn(...args), ms);
  };
}

export const ACTIVE_STATUSES = ['open', 'awaiting_customer', 'in_progress'];
export const QUEUES = ['customer_service', 'tech_support', 'after_sales', 'quality'];
export const CASE_TYPES = ['return', 'exchange', 'refund_only', 'repair', 'price_protection',
  'complaint', 'consultation', 'logistics'];

// ---- live countdowns ------------------------------------------------------

// A countdown to an SLA due time (unix seconds, server clock). app.js ticks
// every element made here once a second (tickCountdowns).
export function countdown(due, state) {
  const el = h('span.countdown');
  if (due === null || due === undefined) {
    el.textContent = '—';
    return el;
  }
  el.dataset.due = String(due);
  if (state) el.dataset.state = state; // 'met' | 'breached': no more counting
  el.title = 'due ' + when(due);
  paintCountdown(el, serverNow());
  return el;
}

function paintCountdown(el, now) {
  const due = Number(el.dataset.due);
  const state = el.dataset.state;
  el.classList.remove('overdue', 'soon', 'met');
  if (state === 'met') {
    el.textContent = 'met';
    el.classList.add('met');
    return;
  }
  const left = due - now;
  if (left < 0 || state === 'breached') {
    el.textContent = 'overdue ' + duration(now - due);
    el.classList.add('overdue');
  } else {
    el.textContent = 'in ' + duration(left);
    if (left < 3600) el.classList.add('soon');
  }
}

export function tickCountdowns() {
  const now = serverNow();
  for (const el of document.querySelectorAll('.countdown[data-due]')) paintCountdown(el, now);
}

// The SLA target a case works toward now: the first response until an agent
// replied, then the resolution. {kind, due, state} or null.
export function nextDue(c) {
  const sla = c.sla || {};
  const breached = sla.breached || [];
  if (!ACTIVE_STATUSES.includes(c.status)) return null;
  if (c.first_response_at === null && sla.first_response_due !== null && sla.first_response_due !== undefined) {
    return { kind: 'first response', due: sla.first_response_due,
      state: breached.includes('first_response') ? 'breached' : null };
  }
  if (sla.resolution_due !== null && sla.resolution_due !== undefined) {
    return { kind: 'resolution', due: sla.resolution_due,
      state: breached.includes('resolution') ? 'breached' : null };
  }
  return null;
}

// ---- messages -------------------------------------------------------------

export function toast(message, kind = 'ok') {
  const box = document.getElementById('toasts');
  if (!box) return;
  const el = h('div.toast', { class: kind, role: 'status' }, message);
  box.append(el);
  setTimeout(() => el.remove(), 5000);
}

// An API error as the user should read it: status, code, message and the
// details the server gave (the allowed actions of a 409, the field of a 400).
export function errorBox(err) {
  const d = err.details || {};
  const extra = [];
  if (d.field) extra.push(h('div', 'field: ', h('code', d.field)));
  if (Array.isArray(d.allowed)) {
    extra.push(h('div', 'allowed now: ', d.allowed.length ? d.allowed.join(', ') : 'nothing'));
  }
  if (Array.isArray(d.claimed_by)) {
    extra.push(h('div', 'claimed by: ', d.claimed_by.map((id, i) => [i ? ', ' : '', caseLink(id)])));
  }
  if (d.file) extra.push(h('div', 'at ', h('code', d.file + (d.line ? ':' + d.line : ''))));
  if (d.remaining_cents !== undefined) extra.push(h('div', 'remaining: ', cents(d.remaining_cents)));
  if (d.max_cents !== undefined) extra.push(h('div', 'at most: ', cents(d.max_cents)));
  if (d.version) extra.push(h('div', 'still serving version ', h('code', shortHash(d.version))));
  return h('div.error', { role: 'alert' },
    h('strong', (err.status ? err.status + ' ' : '') + (err.code || 'error')), ': ', err.message, extra);
}

// What a view shows when the server has no such endpoint yet.
export function notAvailable(what, endpoint, answered = 'it answered 404') {
  return h('div.unavailable', { dataset: { unavailable: endpoint } },
    h('strong', 'Not available on this server: '), what, ' needs ', h('code', endpoint),
    `, which this server does not have (${answered}).`);
}

export function loading(text = 'Loading…') {
  return h('div.loading', text);
}
