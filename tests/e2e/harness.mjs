// Shared harness for the browser end-to-end tests: the real server binary on a temporary sled
// store, the real CLI, Debian's Chromium driven by playwright-core, and a request recorder for
// the privacy checks. Nothing is mocked.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync, writeFileSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import net from 'node:net';
import http from 'node:http';
import { chromium } from 'playwright-core';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const BIN = process.env.CYBERLABEL_BIN || join(ROOT, 'target/debug/cyberlabel');
export const CHROMIUM = process.env.CYBERLABEL_CHROMIUM || '/usr/bin/chromium';
export const PYTHON = process.env.CYBERLABEL_PYTHON || 'python3';
export const OUT = process.env.CYBERLABEL_E2E_OUT || join(ROOT, 'target/e2e');

// Flags from docs: headless, root-safe, and no background traffic onto the closed network.
const BASE_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--no-first-run', '--disable-sync', '--disable-quic',
  '--disable-dev-shm-usage',
];

export function tmp(prefix) {
  return mkdtempSync(join(tmpdir(), `cyberlabel-e2e-${prefix}-`));
}

export async function freePort() {
  return new Promise((res, rej) => {
    const s = net.createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Starts `cyberlabel serve --demo [extraArgs]` on a fresh data dir; resolves when it answers. */
export async function startServer(extraArgs = [], { port: givenPort } = {}) {
  if (!existsSync(BIN)) throw new Error(`server binary missing: ${BIN} (cargo build -p cyberlabel)`);
  const data = tmp('data');
  const port = givenPort || await freePort();
  const base = `http://127.0.0.1:${port}`;
  const child = spawn(BIN, ['serve', '--demo', '--data', data, '--listen', `127.0.0.1:${port}`, ...extraArgs], {
    cwd: ROOT,
    env: { ...process.env, CYBERLABEL_VERIFIER_URL: `${base}/v`, RUST_LOG: process.env.RUST_LOG || 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  child.stdout.on('data', (d) => { log += d; });
  child.stderr.on('data', (d) => { log += d; });
  let exited = null;
  child.on('exit', (code, sig) => { exited = { code, sig }; });
  const deadline = Date.now() + 90_000;
  for (;;) {
    if (exited) throw new Error(`server exited (${JSON.stringify(exited)}):\n${log}`);
    try {
      const r = await fetch(`${base}/healthz`);
      if (r.ok) break;
    } catch { /* not up yet */ }
    if (Date.now() > deadline) { child.kill('SIGKILL'); throw new Error(`server did not start:\n${log}`); }
    await sleep(100);
  }
  const tokenFile = join(data, 'demo-admin.token');
  for (let i = 0; i < 100 && !existsSync(tokenFile); i++) await sleep(50);
  const token = readFileSync(tokenFile, 'utf8').trim();
  return {
    base, data, token, child, log: () => log,
    async stop() {
      if (exited) return;
      const done = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await done;
      clearTimeout(t);
    },
    cleanup() { rmSync(data, { recursive: true, force: true }); },
  };
}

/** A product description as the server's mint endpoint and the CLI take it. */
export function product(overrides = {}) {
  return {
    scheme: 'SG-CLS',
    level: 2,
    manufacturer: 'Acme Devices Pte Ltd',
    product: 'SmartCam 2 Outdoor',
    hardware_versions: 'B',
    firmware_versions: '2.4.x',
    category: 1,
    provisions: ['5.1-1', '5.3-13'],
    assessment: 'third_party',
    lab: 'SG-LAB-1',
    support_until: '2031-12-31',
    ...overrides,
  };
}

export async function api(server, method, path, body) {
  const r = await fetch(server.base + path, {
    method,
    headers: {
      authorization: `Bearer ${server.token}`,
      'content-type': 'application/json',
      'idempotency-key': `e2e-${Date.now()}-${Math.random().toString(36).slice(2)}`,
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  if (!r.ok) throw new Error(`${method} ${path}: HTTP ${r.status}: ${text}`);
  return text ? JSON.parse(text) : null;
}

/** Mints a label through the HTTP API; returns the label view (index, label, payload_url, …). */
export async function mint(server, overrides) {
  const v = await api(server, 'POST', '/labels', product(overrides));
  return v.label && v.payload_url ? v : (v.view || v);
}

export function fragment(url) {
  const i = url.indexOf('#');
  if (i < 0) throw new Error(`no fragment in ${url}`);
  return url.slice(i + 1);
}

/** Label bytes → payload digits (FORMATS.md §3), for building tampered payloads. */
export function encodeDigits(bytes) {
  const DIGITS = [0, 3, 5, 8, 10, 13, 15, 17];
  let out = '';
  for (let i = 0; i < bytes.length; i += 7) {
    const chunk = bytes.subarray(i, i + 7);
    let v = 0n;
    for (const b of chunk) v = (v << 8n) | BigInt(b);
    out += v.toString().padStart(DIGITS[chunk.length], '0');
  }
  return out;
}

// Packed text (docs/FORMATS.md §1): the claim carries printable-ASCII names as 6-bit symbols
// (0-9 A-Z a-z space; 63 escapes to the other printable ASCII), padded with 1 bits.
const PRIMARY = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz ';
const SECONDARY = '!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~';

/** The packed bytes of a printable-ASCII text, as a label's claim carries a name. */
export function packText(text) {
  let bits = '';
  for (const ch of text) {
    const p = PRIMARY.indexOf(ch);
    if (p >= 0) bits += p.toString(2).padStart(6, '0');
    else {
      const e = SECONDARY.indexOf(ch);
      if (e < 0) throw new Error(`not packable: ${JSON.stringify(ch)}`);
      bits += '111111' + e.toString(2).padStart(6, '0');
    }
  }
  bits += '1'.repeat((8 - (bits.length % 8)) % 8);
  const out = Buffer.alloc(bits.length / 8);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(bits.slice(8 * i, 8 * i + 8), 2);
  return out;
}

/**
 * A copy of a label with the name `from` in its signed claim rewritten to `to` (same packed
 * length): still a well-formed label, no longer the one that was signed.
 */
export function forgeName(label, from, to) {
  const [a, b] = [packText(from), packText(to)];
  assert.equal(a.length, b.length, 'the forged name must pack to the same length');
  const at = label.indexOf(a);
  assert.ok(at > 0, `${from} not found in the label`);
  const forged = Buffer.from(label);
  b.copy(forged, at);
  return forged;
}

/** Signs a label for a fresh key nobody trusts, with the real CLI (keygen + issue). */
export function issueWithFreshKey(verifierUrl) {
  const dir = tmp('unknown');
  execFileSync(BIN, ['keygen', '--out', dir], { cwd: ROOT, stdio: 'pipe' });
  const out = join(dir, 'label');
  const p = product();
  execFileSync(BIN, [
    'issue', '--key', join(dir, 'issuer.key.pem'), '--out', out, '--verifier-url', verifierUrl,
    '--scheme', p.scheme, '--level', String(p.level), '--manufacturer', p.manufacturer,
    '--product', p.product, '--hardware-versions', p.hardware_versions,
    '--firmware-versions', p.firmware_versions, '--category', String(p.category),
    '--provision', p.provisions.join(','), '--assessment', 'third-party', '--lab', p.lab,
    '--support-until', p.support_until, '--serial', '0',
  ], { cwd: ROOT, stdio: 'pipe' });
  const payload = readFileSync(join(out, 'payload.txt'), 'utf8').split('\n').map((l) => l.trim())
    .find((l) => l.startsWith('http'));
  if (!payload) throw new Error('payload.txt has no URL line');
  return { dir, url: payload, qrPng: join(out, 'qr.png') };
}

/** Writes a y4m fake-camera video of a PNG (scripts/png2y4m.py, Pillow). */
export function pngToY4m(png, y4m) {
  execFileSync(PYTHON, [join(ROOT, 'scripts/png2y4m.py'), png, y4m], { stdio: 'pipe' });
}

export async function launch(extraArgs = []) {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [...BASE_ARGS, ...extraArgs],
  });
}

/** A fresh profile (context) whose every request is recorded, with console errors collected.
 * `options` are Playwright context options (timezoneId, locale, viewport, …). */
export async function newPage(browser, options = {}) {
  const context = await browser.newContext(options);
  const page = await context.newPage();
  const requests = [];
  context.on('request', (r) => requests.push(r.url()));
  const consoleErrors = [];
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
  page.on('pageerror', (e) => consoleErrors.push(String(e)));
  // name the URL of failed loads (the console message does not)
  page.on('response', (r) => { if (r.status() >= 400) consoleErrors.push(`HTTP ${r.status()} ${r.url()}`); });
  return { context, page, requests, consoleErrors };
}

/** Waits for the page to finish a verification; returns the report. */
export async function verdictOf(page, timeout = 30_000) {
  await page.waitForFunction(() => window.__cyberlabel
    && (window.__cyberlabel.state === 'done' || window.__cyberlabel.state === 'error'), null, { timeout });
  const state = await page.evaluate(() => ({
    state: window.__cyberlabel.state,
    error: window.__cyberlabel.error,
    report: window.__cyberlabel.report,
    dom: document.getElementById('verdict').dataset.verdict,
    headline: document.getElementById('headline').textContent,
    text: document.getElementById('main').innerText,
  }));
  return state;
}

/** Opens `url` and waits for a fresh verification (resets the hook first for hash changes). */
export async function open(page, url) {
  await page.goto(url);
  return verdictOf(page);
}

/**
 * Privacy: the requests a verification made may only be the page, its static assets, the trust
 * list, the checkpoint, hash tiles and status buckets — and none may contain anything unique to
 * the label. Fragments are dropped first: browsers never send them (RFC 9110 §4.2.4), and
 * Playwright reports the navigation URL with its fragment.
 */
export function assertPrivate(requests, secrets, base) {
  const allowed = [
    /^\/$/, /^\/v$/, /^\/sw\.js$/, /^\/assets\/[A-Za-z0-9._/-]+$/, /^\/trust-list$/,
    /^\/checkpoint$/, /^\/tile\/(\d+|entries)\/(x\d{3}\/)*\d{3}(\.p\/\d+)?$/,
    /^\/status\/(x\d{3}\/)*\d{3}$/, /^\/favicon\.ico$/,
  ];
  const problems = [];
  for (const raw of requests) {
    const noFrag = raw.split('#')[0];
    if (!noFrag.startsWith(base)) { problems.push(`foreign request ${noFrag}`); continue; }
    const u = new URL(noFrag);
    if (u.search) problems.push(`query string in ${noFrag}`);
    if (!allowed.some((re) => re.test(u.pathname))) problems.push(`unexpected path ${u.pathname}`);
    for (const s of secrets) {
      if (s && noFrag.includes(s)) problems.push(`request ${noFrag} contains label value ${s.slice(0, 24)}`);
    }
  }
  if (problems.length) throw new Error(`privacy violations:\n${problems.join('\n')}`);
}

export function saveOut(name, data) {
  mkdirSync(OUT, { recursive: true });
  writeFileSync(join(OUT, name), typeof data === 'string' ? data : JSON.stringify(data, null, 1));
}

/** Signs a label with the demo (EXAMPLE) issuer key by the real CLI, with a chosen serial and
 * issue day: a validly signed label the server never logged. */
export function issueDemo(verifierUrl, serial, issuedAt) {
  const dir = tmp('offlog');
  const out = join(dir, 'label');
  const p = product({ product: 'SmartCam Off-Log' });
  execFileSync(BIN, [
    'issue', '--demo', '--out', out, '--verifier-url', verifierUrl,
    '--scheme', p.scheme, '--level', String(p.level), '--manufacturer', p.manufacturer,
    '--product', p.product, '--hardware-versions', p.hardware_versions,
    '--firmware-versions', p.firmware_versions, '--category', String(p.category),
    '--provision', p.provisions.join(','), '--assessment', 'third-party', '--lab', p.lab,
    '--support-until', p.support_until, '--serial', String(serial), '--issued-at', issuedAt,
  ], { cwd: ROOT, stdio: 'pipe' });
  const payload = readFileSync(join(out, 'payload.txt'), 'utf8').split('\n').map((l) => l.trim())
    .find((l) => l.startsWith('http'));
  if (!payload) throw new Error('payload.txt has no URL line');
  return { dir, url: payload };
}

/** Log data the page fetches: the paths a recording/replaying proxy deals with. */
const LOG_PATH = /^\/(checkpoint$|tile\/|status\/)/;
const HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'content-length', 'content-encoding', 'host',
  'accept-encoding', 'upgrade', 'proxy-connection']);

/**
 * An HTTP proxy between the page and a demo server, standing in for a hostile network or
 * server: `forward` passes everything to `target` (which a test may switch to another server);
 * with `recording` set it keeps the last 200 body of every log path (/checkpoint, /tile/...,
 * /status/...); in `replay` mode it answers log paths from the recording (404 if not recorded)
 * and forwards the rest. `override` (path → {type, body}) answers a GET path with fixed bytes in
 * any mode. Every upstream request is bounded by a timeout.
 */
export async function startProxy(target) {
  const port = await freePort();
  const p = {
    base: `http://127.0.0.1:${port}`, target, mode: 'forward', recording: false,
    recorded: new Map(), replayed: [], override: new Map(),
  };
  const server = http.createServer(async (req, res) => {
    try {
      const path = new URL(req.url, p.base).pathname;
      const fixed = req.method === 'GET' && p.override.get(path);
      if (fixed) {
        res.writeHead(200, { 'content-type': fixed.type, 'cache-control': 'no-store' });
        res.end(fixed.body);
        return;
      }
      if (p.mode === 'replay' && req.method === 'GET' && LOG_PATH.test(path)) {
        const r = p.recorded.get(path);
        if (!r) { res.writeHead(404, { 'content-type': 'text/plain' }); res.end('not recorded'); return; }
        p.replayed.push(path);
        res.writeHead(200, { 'content-type': r.type, 'cache-control': 'no-store' });
        res.end(r.body);
        return;
      }
      const chunks = [];
      for await (const c of req) chunks.push(c);
      const headers = {};
      for (const [k, v] of Object.entries(req.headers)) if (!HOP.has(k)) headers[k] = v;
      const up = await fetch(p.target + req.url, {
        method: req.method, headers, redirect: 'manual', signal: AbortSignal.timeout(15_000),
        body: chunks.length && req.method !== 'GET' && req.method !== 'HEAD' ? Buffer.concat(chunks) : undefined,
      });
      const body = Buffer.from(await up.arrayBuffer());
      if (p.recording && req.method === 'GET' && up.status === 200 && LOG_PATH.test(path)) {
        p.recorded.set(path, { type: up.headers.get('content-type') || 'application/octet-stream', body });
      }
      const out = {};
      up.headers.forEach((v, k) => { if (!HOP.has(k)) out[k] = v; });
      res.writeHead(up.status, out);
      res.end(body);
    } catch (e) {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(`proxy: ${e}`);
    }
  });
  await new Promise((res, rej) => { server.once('error', rej); server.listen(port, '127.0.0.1', res); });
  p.stop = () => new Promise((res) => { server.closeAllConnections(); server.close(() => res()); });
  return p;
}

/** The checkpoint's origin line and tree size (second line). */
export function checkpointInfo(text) {
  const [origin, size, root] = text.split('\n');
  return { origin, size: Number(size), root };
}

/** The page's memory: the remembered checkpoint per log origin and the trust-list version. */
export async function pageMemory(page) {
  return page.evaluate(() => {
    const out = {};
    for (let i = 0; i < localStorage.length; i++) {
      const k = localStorage.key(i);
      out[k] = localStorage.getItem(k);
    }
    return out;
  });
}

/** Starts `cyberlabel witness serve` for `logVkey` on a free port; resolves with its vkey, URL. */
export async function startWitness(logVkey, name = 'witness.example/e2e-w1') {
  const dir = tmp('witness');
  execFileSync(BIN, ['witness', 'keygen', '--name', name, '--out', dir], { cwd: ROOT, stdio: 'pipe' });
  const vkey = readFileSync(join(dir, 'witness.vkey'), 'utf8').trim();
  const child = spawn(BIN, ['witness', 'serve', '--key', join(dir, 'witness.key'), '--data', join(dir, 'db'),
    '--listen', '127.0.0.1:0', '--log', logVkey], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let exited = null;
  child.stdout.on('data', (d) => { out += d; });
  child.stderr.on('data', (d) => { out += d; });
  child.on('exit', (code, sig) => { exited = { code, sig }; });
  const deadline = Date.now() + 30_000;
  let url = null;
  while (!url) {
    const m = /listening (http:\/\/\S+)/.exec(out);
    if (m) url = m[1];
    else if (exited) throw new Error(`witness exited (${JSON.stringify(exited)}):\n${out}`);
    else if (Date.now() > deadline) { child.kill('SIGKILL'); throw new Error(`witness did not start:\n${out}`); }
    else await sleep(50);
  }
  return {
    name, vkey, url, log: () => out,
    async stop() {
      if (exited) return;
      const done = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await done;
      clearTimeout(t);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * A demo server whose trust list has a witness policy: one real witness process, quorum 1,
 * `max_age` seconds. The list (the example issuer, the example log key under its own origin,
 * the witness) is signed here with the example trust-list key by the real CLI and given to
 * `serve --demo --trust-list … --trust-anchor … --witness …`.
 */
export async function startWitnessedServer(maxAge = 3600) {
  const example = JSON.parse(readFileSync(join(ROOT, 'keys-example/trust-list.EXAMPLE.json'), 'utf8'));
  const logVkey = readFileSync(join(ROOT, 'keys-example/log-EXAMPLE-DO-NOT-USE.vkey'), 'utf8').trim();
  const origin = logVkey.split('+')[0];
  const witness = await startWitness(logVkey);
  const dir = tmp('tl');
  const now = Math.floor(Date.now() / 1000);
  const list = {
    ...example,
    version: 1,
    issued_at: now - 86_400,
    expires_at: now + 365 * 86_400,
    logs: [{ origin, vkey: logVkey, url: '', max_merge_delay: 0 }],
    witnesses: [{ name: witness.name, vkey: witness.vkey }],
    witness_policy: { quorum: 1, max_age: maxAge },
  };
  writeFileSync(join(dir, 'trust-list.json'), JSON.stringify(list, null, 1));
  // the example key file is world-readable in the repository; the CLI wants 0600
  const key = join(dir, 'tl.key.pem');
  writeFileSync(key, readFileSync(join(ROOT, 'keys-example/trust-list-EXAMPLE-DO-NOT-USE.key.pem')), { mode: 0o600 });
  execFileSync(BIN, ['trust-list', 'sign', '--json', join(dir, 'trust-list.json'), '--key', key,
    '--out', join(dir, 'trust-list.cose')], { cwd: ROOT, stdio: 'pipe' });
  let server;
  try {
    server = await startServer([
      '--origin', origin, '--trust-list', join(dir, 'trust-list.cose'),
      '--trust-anchor', join(ROOT, 'keys-example/trust-list-EXAMPLE-DO-NOT-USE.pub.pem'),
      '--witness', `${witness.vkey}@${witness.url}`,
    ]);
  } catch (e) {
    await witness.stop();
    throw e;
  }
  const stopServer = server.stop.bind(server);
  const cleanupServer = server.cleanup.bind(server);
  return {
    ...server,
    witness,
    async stop() { await stopServer(); await witness.stop(); },
    cleanup() { cleanupServer(); rmSync(dir, { recursive: true, force: true }); },
  };
}

/**
 * Waits (bounded) until the server's /checkpoint has tree size ≥ `minSize` and carries the
 * cosignature of every witness named in `names`; returns the checkpoint text.
 */
export async function waitCosigned(server, minSize, names, timeout = 20_000) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const r = await fetch(`${server.base}/checkpoint`, { signal: AbortSignal.timeout(5_000) });
    const text = r.ok ? await r.text() : '';
    const size = Number(text.split('\n')[1]);
    if (size >= minSize && names.every((n) => text.includes(`\u2014 ${n} `))) return text;
    if (Date.now() > deadline) throw new Error(`checkpoint not cosigned by ${names.join(', ')} at size ≥ ${minSize}:\n${text}`);
    await sleep(100);
  }
}

/** Re-signs the served trust list with a fresh key (real CLI) and a higher version: what a log
 * operator that could choose the anchor would serve. Returns {cose, publicRaw}. */
export async function foreignTrustList(server) {
  const dir = tmp('foreign-tl');
  try {
    const r = await fetch(`${server.base}/trust-list.json`, { signal: AbortSignal.timeout(10_000) });
    const list = await r.json();
    writeFileSync(join(dir, 'tl.json'), JSON.stringify({ ...list, version: list.version + 1 }, null, 1));
    execFileSync(BIN, ['keygen', '--out', dir], { cwd: ROOT, stdio: 'pipe' });
    execFileSync(BIN, ['trust-list', 'sign', '--json', join(dir, 'tl.json'), '--key', join(dir, 'issuer.key.pem'),
      '--out', join(dir, 'tl.cose')], { cwd: ROOT, stdio: 'pipe' });
    const pem = readFileSync(join(dir, 'issuer.pub.pem'), 'utf8');
    const der = Buffer.from(pem.split('\n').filter((l) => l && !l.startsWith('-----')).join(''), 'base64');
    return { cose: readFileSync(join(dir, 'tl.cose')), publicRaw: der.subarray(der.length - 32) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
