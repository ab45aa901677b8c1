// app.js: the console's shell: sign-in with a token, the navigation, the
// hash routes (#/inbox, #/cases/ID, #/dashboard, #/policies), the live feed
// indicator and the once-a-second tick of the SLA countdowns.

import { get, session, setToken, setUnauthorizedHandler, syncClock, api } from './api.js';
import { onFeedStatus, startFeed, stopFeed } from './feed.js';
import { clear, errorBox, h, tickCountdowns } from './util.js';
import { renderInbox } from './inbox.js';
import { renderCase } from './case.js';
import { renderDashboard } from './dashboard.js';
import { renderPolicies } from './policies.js';

const views = {
  inbox: renderInbox,
  cases: renderCase,
  dashboard: renderDashboard,
  policies: renderPolicies,
};

const main = document.getElementById('main');
let cleanup = null;

function showLogin(message) {
  stopFeed();
  document.getElementById('nav').hidden = true;
  document.getElementById('signout').hidden = true;
  document.getElementById('who').textContent = '';
  document.getElementById('live').textContent = '';
  const input = h('input#token', { type: 'password', autocomplete: 'off', required: true,
    placeholder: 'Bearer token', 'aria-label': 'token' });
  const status = h('div.login-status');
  if (message) status.append(h('div.error', message));
  const form = h('form.login.card', {
    onsubmit: async (e) => {
      e.preventDefault();
      const token = input.value.trim();
      status.replaceChildren();
      try {
        const me = await api('GET', '/v1/me', { token });
        setToken(token);
        session.me = me;
        start();
      } catch (err) {
        status.append(err.status === 401
          ? h('div.error', { role: 'alert' }, 'The server does not accept this token.')
          : errorBox(err));
      }
    },
  },
  h('h1', 'Sign in'),
  h('p', 'Paste the API token you were given. It stays in this browser tab only ',
    '(session storage) and goes with every request, so you see exactly what the API lets it see.'),
  h('label', { for: 'token' }, 'Token'), input,
  h('button', { type: 'submit' }, 'Sign in'), status);
  if (cleanup) cleanup();
  cleanup = null;
  clear(main, form);
  input.focus();
}

function signOut(message) {
  setToken(null);
  session.me = null;
  showLogin(message);
}

function describeMe(me) {
  const parts = [me.role];
  if (me.agent_id) parts.push('agent ' + me.agent_id);
  parts.push(me.merchant_id ? 'merchant ' + me.merchant_id : 'all merchants');
  return parts.join(' · ');
}

function start() {
  const me = session.me;
  document.getElementById('nav').hidden = false;
  for (const a of document.querySelectorAll('#nav [data-admin]')) a.hidden = me.role !== 'admin';
  document.getElementById('who').textContent = describeMe(me);
  const out = document.getElementById('signout');
  out.hidden = false;
  out.onclick = () => signOut();
  startFeed();
  route();
}

function route() {
  if (!session.me) return;
  const parts = location.hash.replace(/^#\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);
  const name = views[parts[0]] ? parts[0] : 'inbox';
  for (const a of document.querySelectorAll('#nav a')) a.classList.toggle('active', a.dataset.route === name);
  if (cleanup) cleanup();
  cleanup = null;
  clear(main);
  try {
    cleanup = views[name](main, parts.slice(1)) || null;
  } catch (e) {
    main.append(h('div.error', String(e)));
  }
}

onFeedStatus((mode, err) => {
  const el = document.getElementById('live');
  const text = {
    starting: 'connecting to the events feed…',
    feed: '● live: events feed',
    poll: '● live: refreshing every 10 s (the events feed is for admins and services)',
    error: 'events feed unreachable' + (err ? ' (' + err.message + ')' : '') + ', retrying',
  }[mode];
  el.textContent = session.me ? text : '';
  el.dataset.mode = mode;
});

setUnauthorizedHandler(() => signOut('The server no longer accepts your token; sign in again.'));
window.addEventListener('hashchange', route);
setInterval(tickCountdowns, 1000);
setInterval(syncClock, 30000);

(async function boot() {
  await syncClock();
  if (session.token) {
    try {
      session.me = await get('/v1/me');
    } catch {
      setToken(null);
    }
  }
  if (session.me) start();
  else showLogin();
})();
