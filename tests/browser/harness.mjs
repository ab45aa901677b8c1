// tests/browser/harness.mjs: what the browser tests share: the real server
// on a free loopback port with the manual clock (as tests/e2e/harness.py
// starts it), a small HTTP client for seeding and checking, and Debian's
// Chromium driven by playwright-core (never a downloaded browser).

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..', '..');

export const BINARY = process.env.AFTERSALED || path.join(root, 'build', 'aftersaled');
export const POLICIES = process.env.AS_POLICIES || path.join(root, 'policies');
export const ARTIFACTS = process.env.AS_ARTIFACTS || path.join(root, 'build', 'artifacts', 'browser');
export const CHROMIUM = process.env.AS_CHROMIUM || '/usr/bin/chromium';

export const DAY = 86400;
export const HOUR = 3600;
// 2026-11-02 10:00 +08:00, a Monday in working hours (tests/e2e/harness.py's T0).
export const T0 = 1793584800;

export const TOKENS = [
  { token: 'adm', role: 'admin' },
  { token: 'ag1', role: 'agent', merchant: 'm1', agent: 'a1' },
  { token: 'ag2', role: 'agent', merchant: 'm2', agent: 'a2' },
  { token: 'svc', role: 'service' },
];

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

async function waitListening(port, proc, logPath, ms = 10000) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) throw new Error('server exited: ' + fs.readFileSync(logPath, 'utf8').slice(-2000));
    const ok = await new Promise((resolve) => {
      const c = net.connect(port, '127.0.0.1', () => {
        c.end();
        resolve(true);
      });
      c.on('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 20)); // waiting for the process to listen, not for server time
  }
  throw new Error('server did not listen');
}

export class Server {
  async start({ tokens = TOKENS, policies = POLICIES } = {}) {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'as-browser-'));
    const tokPath = path.join(this.dir, 'tokens.json');
    fs.writeFileSync(tokPath, JSON.stringify({ tokens }));
    this.port = await freePort();
    this.url = `http://127.0.0.1:${this.port}`;
    this.logPath = path.join(this.dir, 'server.log');
    const log = fs.openSync(this.logPath, 'a');
    this.proc = spawn(BINARY, ['--listen', `127.0.0.1:${this.port}`, '--data', path.join(this.dir, 'db'),
      '--policies', policies, '--tokens', tokPath, '--clock', 'manual'], { stdio: ['ignore', log, log] });
    fs.closeSync(log);
    await waitListening(this.port, this.proc, this.logPath);
    await this.setClock(T0);
    return this;
  }

  // SIGTERM; answers the exit code (0 is a clean stop).
  async stop() {
    if (!this.proc || this.proc.exitCode !== null) return this.proc ? this.proc.exitCode : null;
    const done = new Promise((resolve) => this.proc.on('exit', (code, sig) => resolve(code ?? sig)));
    this.proc.kill('SIGTERM');
    let timer;
    const code = await Promise.race([done, new Promise((r) => { timer = setTimeout(() => r('timeout'), 15000); })]);
    clearTimeout(timer);
    if (code === 'timeout') this.proc.kill('SIGKILL');
    return code;
  }

  cleanup() {
    fs.rmSync(this.dir, { recursive: true, force: true });
  }

  tail(n = 3000) {
    try {
      return fs.readFileSync(this.logPath, 'utf8').slice(-n);
    } catch {
      return '';
    }
  }

  // {status, headers, json}
  async request(method, p, { body, token = 'adm', headers = {} } = {}) {
    const h = { ...headers };
    if (token) h.Authorization = 'Bearer ' + token;
    if (body !== undefined) h['Content-Type'] = 'application/json';
    const res = await fetch(this.url + p, { method, headers: h, body: body !== undefined ? JSON.stringify(body) : undefined });
    const text = await res.text();
    let json = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      json = null;
    }
    return { status: res.status, headers: res.headers, json, text };
  }

  async ok(method, p, opts) {
    const r = await this.request(method, p, opts);
    if (r.status >= 300) throw new Error(`${method} ${p}: ${r.status} ${r.text}`);
    return r.json;
  }

  setClock(ts) {
    return this.ok('POST', '/v1/admin/clock', { body: { set: ts } });
  }

  advance(seconds) {
    return this.ok('POST', '/v1/admin/clock', { body: { advance: seconds } });
  }
}

export function orderBody({ order_id, buyer_id = 'b1', merchant_id = 'm1', sku = 's1', category = 'apparel',
  price_cents = 5000, qty = 1, tier = 'regular', now = T0 } = {}) {
  return {
    order_id, buyer_id, merchant_id, paid_at: now - 3 * DAY, delivered_at: now - 2 * DAY, shipping_cents: 800,
    items: [{ sku, category, price_cents, qty, title: 'item ' + sku }],
    buyer: { tier, phone: '13812345678', email: 'alice@example.com' },
  };
}

// Chromium as root in a container: no sandbox, no GPU, nothing that reaches
// the network by itself, a fresh profile per run.
export async function launchBrowser() {
  const { chromium } = await import('playwright-core');
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'as-chromium-'));
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1360, height: 900 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  return {
    ctx,
    async close() {
      await ctx.close();
      fs.rmSync(profile, { recursive: true, force: true });
    },
  };
}

// Screenshots are the test's artifacts: kept under the build directory.
export async function screenshot(page, name) {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const file = path.join(ARTIFACTS, name + '.png');
  await page.screenshot({ path: file, fullPage: true });
  return file;
}
