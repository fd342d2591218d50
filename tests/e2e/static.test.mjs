// The verifier page served from the published copy (issue 11): the real server publishes its
// read side to moto_server (a real S3 protocol server, PyPI `moto[server]` from the test venv:
// $CYBERLABEL_PYTHON), then is stopped; Debian's nginx in front of the bucket stands in for a
// CDN. Headless Chromium opens the labels at the nginx origin and must give the same verdicts
// as against the server (genuine; revoked), with the same privacy: only the page, its assets,
// the trust list, the checkpoint, tiles and status buckets are fetched, all from that origin.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync, rmSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import {
  startServer, mint, api, fragment, launch, newPage, open, verdictOf, assertPrivate, freePort, tmp, PYTHON,
} from './harness.mjs';

const BUCKET = 'static-read-side';
const NGINX = process.env.CYBERLABEL_NGINX || '/usr/sbin/nginx';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

let moto;
let nginx;
let server;
let browser;
let dir;

/** moto_server on a free port, with the bucket created (bounded wait). */
async function startMoto() {
  const port = await freePort();
  const child = spawn(PYTHON, ['-m', 'moto.server', '-H', '127.0.0.1', '-p', String(port)], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  child.stderr.on('data', (d) => { log += d; });
  let exited = null;
  child.on('exit', (code) => { exited = code; });
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (exited !== null) {
      throw new Error(`moto_server exited (${exited}) from ${PYTHON}: is moto[server] installed (scripts/requirements-test.txt)?\n${log}`);
    }
    try {
      const r = await fetch(`${base}/${BUCKET}`, { method: 'PUT' });
      if (r.ok) break;
      throw new Error(`moto refused to create the bucket: HTTP ${r.status}`);
    } catch (e) {
      if (String(e).includes('refused to create')) throw e;
    }
    if (Date.now() > deadline) { child.kill('SIGKILL'); throw new Error(`moto_server did not start:\n${log}`); }
    await sleep(100);
  }
  // anyone may read the objects (a public read side), only the publisher's keys write
  const policy = {
    Version: '2012-10-17',
    Statement: [{
      Sid: 'PublicRead', Effect: 'Allow', Principal: '*', Action: 's3:GetObject',
      Resource: `arn:aws:s3:::${BUCKET}/*`,
    }],
  };
  const r = await fetch(`${base}/${BUCKET}?policy`, {
    method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(policy),
  });
  if (!r.ok) throw new Error(`moto refused the bucket policy: HTTP ${r.status}`);
  return { base, child, stop() { child.kill('SIGKILL'); } };
}

/** nginx proxying the bucket at its root, as a CDN in front of an object store would. */
async function startNginx(upstream) {
  if (!existsSync(NGINX)) throw new Error(`${NGINX} not found (apt-get install nginx)`);
  const prefix = join(dir, 'nginx');
  mkdirSync(join(prefix, 'logs'), { recursive: true });
  const port = await freePort();
  const b = `${upstream}/${BUCKET}`;
  const conf = `worker_processes 1;
daemon off;
pid ${prefix}/nginx.pid;
error_log ${prefix}/logs/error.log;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path ${prefix}/cb; proxy_temp_path ${prefix}/px; fastcgi_temp_path ${prefix}/fc;
  uwsgi_temp_path ${prefix}/uw; scgi_temp_path ${prefix}/sc;
  server {
    listen 127.0.0.1:${port};
    # the store's own headers (x-amz-*) are not the site's business
    proxy_hide_header x-amz-request-id; proxy_hide_header x-amz-id-2;
    location = / { proxy_pass ${b}/index.html; }
    location / { proxy_pass ${b}/; }
  }
}
`;
  const confPath = join(prefix, 'nginx.conf');
  writeFileSync(confPath, conf);
  const child = spawn(NGINX, ['-p', prefix, '-c', confPath], { stdio: 'ignore' });
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 20_000;
  for (;;) {
    try {
      const r = await fetch(`${base}/checkpoint`);
      if (r.ok) break;
    } catch { /* not up yet */ }
    if (Date.now() > deadline) { child.kill('SIGTERM'); throw new Error('nginx did not start'); }
    await sleep(50);
  }
  return {
    base,
    async stop() {
      const done = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM'); // the master stops its workers
      await done;
    },
  };
}

/** Waits until the bucket's checkpoint is the server's current, cosigned one. */
async function waitPublished() {
  const deadline = Date.now() + 60_000;
  let last = '';
  for (;;) {
    const [served, stored] = await Promise.all([
      fetch(`${server.base}/checkpoint`).then((r) => r.text()),
      fetch(`${moto.base}/${BUCKET}/checkpoint`).then((r) => (r.ok ? r.text() : '')),
    ]);
    last = stored;
    if (served === stored && (served.match(/\n\u2014 /g) || []).length >= 2) return stored;
    if (Date.now() > deadline) throw new Error(`the bucket did not catch up:\nserver:\n${served}\nbucket:\n${last}\nserver log:\n${server.log()}`);
    await sleep(200);
  }
}

function secretsOf(view) {
  const bytes = Buffer.from(view.label, 'base64');
  const leaf = createHash('sha256').update(Buffer.concat([Buffer.from([0]), bytes])).digest();
  return [
    fragment(view.payload_url), view.label, bytes.toString('base64url'), bytes.toString('hex'),
    leaf.toString('hex'), leaf.toString('base64'), leaf.toString('base64url'),
  ];
}

let genuine;
let revoked;

before(async () => {
  dir = tmp('static');
  moto = await startMoto();
  // the server publishes to the bucket (config by environment, as an operator would)
  Object.assign(process.env, {
    CYBERLABEL_PUBLISH_URL: `s3://${BUCKET}`,
    CYBERLABEL_PUBLISH_ENDPOINT: moto.base,
    CYBERLABEL_PUBLISH_INTERVAL_SECS: '1',
    AWS_ACCESS_KEY_ID: 'e2e',
    AWS_SECRET_ACCESS_KEY: 'e2e-secret',
    AWS_REGION: 'us-east-1',
  });
  server = await startServer();
  genuine = await mint(server, { product: 'StaticCam 1' });
  revoked = await mint(server, { product: 'StaticCam 2' });
  await api(server, 'POST', `/labels/${revoked.index}/revoke`, { reason: 6 });
  await waitPublished();
  // the issuing server is gone: only the bucket (behind nginx) is left
  await server.stop();
  nginx = await startNginx(moto.base);
  browser = await launch();
});

after(async () => {
  if (browser) await browser.close();
  if (nginx) await nginx.stop();
  if (server) { await server.stop(); server.cleanup(); }
  if (moto) moto.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('the issuing server is down', async () => {
  await assert.rejects(fetch(`${server.base}/checkpoint`));
});

test('a genuine label checked against the static copy shows Genuine; requests stay private', async () => {
  const { context, page, requests, consoleErrors } = await newPage(browser);
  const v = await open(page, `${nginx.base}/v#${fragment(genuine.payload_url)}`);
  assert.equal(v.state, 'done', `page error: ${v.error}`);
  assert.equal(v.report.verdict, 'genuine', JSON.stringify(v.report));
  assert.equal(v.headline, 'Genuine');
  assert.match(v.text, /StaticCam 1/);
  assert.deepEqual(consoleErrors.filter((e) => !/favicon/.test(e)), []);
  const paths = requests.map((u) => new URL(u.split('#')[0]).pathname);
  for (const want of ['/checkpoint', '/trust-list']) assert.ok(paths.includes(want), paths.join(' '));
  assert.ok(paths.some((p) => p.startsWith('/tile/')), paths.join(' '));
  assert.ok(paths.some((p) => p.startsWith('/status/')), paths.join(' '));
  assertPrivate(requests, secretsOf(genuine), nginx.base);
  // the page carries its CSP in the file (a bucket sends no such header)
  const html = await (await fetch(`${nginx.base}/v`)).text();
  assert.match(html, /http-equiv="Content-Security-Policy"[^>]*connect-src 'self'/);
  // tiles are immutable for caches, the checkpoint short-lived
  const cp = await fetch(`${nginx.base}/checkpoint`);
  assert.match(cp.headers.get('cache-control') || '', /max-age=5/);
  const tilePath = paths.find((p) => /^\/tile\/0\/\d{3}$/.test(p) || /^\/tile\/0\//.test(p));
  const tile = await fetch(`${nginx.base}${tilePath}`);
  assert.match(tile.headers.get('cache-control') || '', /immutable/);
  await context.close();
});

test('a label revoked before publication shows Revoked from the static copy', async () => {
  const { context, page, requests } = await newPage(browser);
  const v = await open(page, `${nginx.base}/v#${fragment(revoked.payload_url)}`);
  assert.equal(v.report.verdict, 'revoked', JSON.stringify(v.report));
  assert.equal(v.headline, 'Revoked');
  assertPrivate(requests, secretsOf(revoked), nginx.base);
  await context.close();
});

test('the register works from the static copy: manufacturer lookup and page, Verify into the copy', async () => {
  const { context, page, consoleErrors } = await newPage(browser);
  await page.goto(`${nginx.base}/register`);
  await page.waitForFunction(() => document.body.dataset.loaded === 'yes');
  assert.equal(await page.evaluate(() => document.body.dataset.ready), 'static');
  await page.fill('#f-manufacturer', 'acme devices pte');
  await page.click('#go');
  await page.waitForFunction(() => /found/.test(document.getElementById('summary').textContent));
  const link = await page.$eval('#results a', (a) => a.getAttribute('href'));
  assert.equal(link, '/register?m=acme-devices-pte-ltd');
  await page.goto(`${nginx.base}${link}`);
  await page.waitForFunction(() => document.body.dataset.loaded === 'yes');
  const items = await page.$$eval('#results > li', (lis) => lis.map((li) => ({
    index: Number(li.dataset.index), text: li.innerText, verify: li.querySelector('a')?.getAttribute('href'),
  })));
  const g = items.find((l) => l.index === genuine.index);
  const r = items.find((l) => l.index === revoked.index);
  assert.ok(g && r, JSON.stringify(items.map((l) => l.index)));
  assert.match(g.text, /active/);
  assert.match(r.text, /revoked/);
  assert.match(r.text, /Revoked \(entry \d+\) — nonconformity found/);
  // the Verify link stays on the static copy and gives the log's verdict
  await page.goto(`${nginx.base}${r.verify}`);
  const v = await verdictOf(page);
  assert.equal(v.dom, 'revoked', v.text);
  // the only failed request: the search API, which a static copy does not have
  assert.deepEqual(consoleErrors.filter((e) => !/favicon|\/register\/search\?limit=1|404/.test(e)), []);
  await context.close();
});
