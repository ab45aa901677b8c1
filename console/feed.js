// feed.js: live updates from GET /v1/events.
//
// The console follows the durable events feed from its current end: views
// subscribe and get each new event (case.created, case.updated, alert.raised,
// ...) without a reload. The feed is for admins and services; an agent's
// token gets 403 there, so for agents the console falls back to asking the
// views to refresh every POLL_MS ({type: 'poll'} instead of events).

import { ApiError, get, syncClock } from './api.js';

const FEED_MS = 2000;
const POLL_MS = 10000;

const listeners = new Set();
let state = { mode: 'starting', after: 0, timer: null, error: null };
const statusListeners = new Set();

export function feedMode() {
  return state.mode; // 'starting' | 'feed' | 'poll' | 'error'
}

export function onFeedStatus(fn) {
  statusListeners.add(fn);
  fn(state.mode, state.error);
  return () => statusListeners.delete(fn);
}

function setMode(mode, error) {
  state.mode = mode;
  state.error = error || null;
  for (const fn of statusListeners) fn(mode, state.error);
}

// Subscribes fn(event); answers the function that unsubscribes.
export function subscribe(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

function emit(ev) {
  for (const fn of [...listeners]) {
    try {
      fn(ev);
    } catch (e) {
      console.error('feed listener', e);
    }
  }
}

async function hasEventsAfter(seq) {
  const r = await get('/v1/events', { after: seq, limit: 1 });
  return r.events.length > 0;
}

// The feed's current end, found with a few cheap probes (limit=1) instead of
// reading the whole history: gallop up, then halve the gap.
async function findTail() {
  let lo = 0;
  let hi = 256;
  while (await hasEventsAfter(hi)) {
    lo = hi;
    hi *= 4;
  }
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (await hasEventsAfter(mid)) lo = mid;
    else hi = mid;
  }
  return (await hasEventsAfter(lo)) ? hi : lo;
}

async function step() {
  try {
    const r = await get('/v1/events', { after: state.after, limit: 200 });
    if (r.events.length > 0) await syncClock(); // timers may have moved the clock
    for (const ev of r.events) emit(ev);
    state.after = r.next_after;
    if (state.mode !== 'feed') setMode('feed');
    state.timer = setTimeout(step, r.events.length === 200 ? 0 : FEED_MS);
  } catch (e) {
    setMode('error', e);
    state.timer = setTimeout(step, POLL_MS);
  }
}

function poll() {
  syncClock().then(() => emit({ type: 'poll' }));
  state.timer = setTimeout(poll, POLL_MS);
}

export async function startFeed() {
  stopFeed();
  setMode('starting');
  try {
    state.after = await findTail();
    setMode('feed');
    state.timer = setTimeout(step, FEED_MS);
  } catch (e) {
    if (e instanceof ApiError && e.status === 403) {
      setMode('poll');
      state.timer = setTimeout(poll, POLL_MS);
    } else {
      setMode('error', e);
      state.timer = setTimeout(startFeed, POLL_MS);
    }
  }
}

export function stopFeed() {
  clearTimeout(state.timer);
  state.timer = null;
}
