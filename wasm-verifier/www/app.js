// The verifier page's JavaScript: it only fetches bytes and draws. Every check (payload decoding,
// COSE signature, trust list, checkpoint signatures and witness quorum, inclusion proof, status
// proof, the verdict) runs in the wasm module built from crates/core.
//
// Privacy: the label is read from location.hash, which browsers never send to a server. The page
// requests only /checkpoint, hash tiles (/tile/...) and one status bucket (/status/...), which are
// shared by 256 labels; never anything naming the label.
//
// Trust anchor: the key that must sign the trust list is pinned into the wasm at build time
// (wasm.trustAnchor(); docs/DEPLOYMENT.md), never read from the server that serves the log.
//
// Memory (DESIGN rule 4): per log origin, the newest checkpoint verified (tree size + root hex)
// and the newest trust-list version accepted are kept in localStorage. Every later checkpoint
// must extend the remembered one (the wasm checks a consistency proof from the tiles), else the
// verdict is log_inconsistent; an older trust list is refused.

import init, * as wasm from '/assets/pkg/cyberlabel_wasm.js';

const $ = (id) => document.getElementById(id);

// What the headline says per verdict, with its icon and what the person should do.
const VERDICTS = {
  genuine: { title: 'Genuine', icon: '✓', advice: '' },
  revoked: { title: 'Revoked', icon: '✕', advice: 'This label was withdrawn by its issuer. Do not rely on it: contact the seller or manufacturer, and check the issuer\'s website for the product\'s status.' },
  suspended: { title: 'Suspended', icon: '!', advice: 'The issuer has suspended this label while it investigates. Check again later, or ask the manufacturer.' },
  superseded: { title: 'Replaced by a newer label', icon: '!', advice: 'A newer label was issued for this product (for example for new firmware). Update the device and look for the current label.' },
  expired: { title: 'Expired', icon: '!', advice: 'This label is past its validity date. The product may no longer meet the scheme; check for a renewed label or firmware update.' },
  unknown_issuer: { title: 'Unknown issuer', icon: '?', advice: 'The label is signed by someone who is not a recognised issuing body. Treat it as not genuine; you can report it to the scheme owner.' },
  not_genuine: { title: 'Not genuine', icon: '✕', advice: 'This label failed its security checks: it was altered or forged. Do not trust the claims on it, and report the product to the seller or the scheme owner.' },
  malformed: { title: 'Not genuine', icon: '✕', advice: 'This code is not a valid cybersecurity label. If it is printed on a product as a label, report it to the seller or the scheme owner.' },
  not_in_log: { title: 'Not genuine', icon: '✕', advice: 'This label was signed with an issuer\'s key but never recorded in the public log of issued labels, as every real label is. Do not trust the claims on it, and report the product to the seller or the scheme owner.' },
  log_inconsistent: { title: 'Warning: log inconsistent', icon: '!', advice: 'The label log answered with an older or different state than this device saw before, which can mean someone is replaying old data or showing you a false view. Do not rely on this label now; try again later or on another network.' },
  not_yet_valid: { title: 'Not valid yet', icon: '✕', advice: 'Check that this device\'s date and time are right. If they are, the label is post-dated and not genuine: do not rely on it.' },
  cannot_check: { title: 'Cannot check now', icon: '…', advice: '' },
};

// ---- memory (localStorage; a private/blocked storage simply means no memory) ---------------

const SEEN_PREFIX = 'cyberlabel.seen.';
const TRUST_VERSION_KEY = 'cyberlabel.trustListVersion';

function storageGet(key) {
  try { return window.localStorage.getItem(key); } catch { return null; }
}

function storageSet(key, value) {
  try { window.localStorage.setItem(key, value); } catch { /* storage unavailable: no memory */ }
}

/** The newest checkpoint verified before for a log origin: {size, root} or a zero value. */
function seenFor(origin) {
  const none = { size: 0, root: '' };
  if (!origin) return none;
  try {
    const v = JSON.parse(storageGet(SEEN_PREFIX + origin) || 'null');
    if (v && Number.isSafeInteger(v.size) && v.size > 0 && /^[0-9a-f]{64}$/.test(v.root)) return v;
  } catch { /* unreadable: as if none */ }
  return none;
}

/** Remembers `newest` (from a verification report) for `origin`, never going back. */
function remember(origin, newest) {
  if (!origin || !newest || !Number.isSafeInteger(newest.size)) return;
  if (newest.size < seenFor(origin).size) return; // the wasm never reports one, but be safe
  storageSet(SEEN_PREFIX + origin, JSON.stringify({ size: newest.size, root: newest.root }));
}

/** The origin line of a checkpoint (the storage key; the wasm verifies the checkpoint). */
function originOf(checkpoint) {
  const i = checkpoint.indexOf('\n');
  return i > 0 ? checkpoint.slice(0, i) : '';
}

const state = { ready: false, trustList: null, anchor: null, busy: null, lastInputs: null };
// Progress hook read by tests/e2e: the page's state and last report (what the page shows anyway).
window.__cyberlabel = { state: 'loading', report: null, error: null };
// The benchmark hooks below are installed only when a test sets this flag before the page loads
// (Playwright addInitScript): no query string, so requests stay as private as in normal use.
const TEST_HOOKS = window.__cyberlabelTestHooks === true;

async function fetchBytes(path, opts = {}) {
  const r = await fetch(path, { cache: 'no-store', credentials: 'omit', ...opts });
  if (!r.ok) throw new Error(`${path}: HTTP ${r.status}`);
  return new Uint8Array(await r.arrayBuffer());
}

async function fetchText(path) {
  const r = await fetch(path, { cache: 'no-store', credentials: 'omit' });
  if (!r.ok) throw new Error(`${path}: HTTP ${r.status}`);
  return r.text();
}

async function boot() {
  if ('serviceWorker' in navigator) {
    // Caches the page, wasm and trust list so the offline verdict works without network.
    navigator.serviceWorker.register('/sw.js', { scope: '/' }).catch(() => {});
  }
  try {
    await init({ module_or_path: '/assets/pkg/cyberlabel_wasm_bg.wasm' });
    // The trust anchor is pinned in the wasm build; any anchor in /assets/config.json (served by
    // the log operator) is ignored.
    state.anchor = wasm.trustAnchor();
    state.demoAnchor = wasm.trustAnchorIsDemo();
    state.trustList = await fetchBytes('/trust-list', { cache: 'no-cache' });
    const seenVersion = Number(storageGet(TRUST_VERSION_KEY) || '0');
    const info = JSON.parse(wasm.checkTrustList(state.trustList, state.anchor,
      Math.floor(Date.now() / 1000), Number.isSafeInteger(seenVersion) && seenVersion > 0 ? seenVersion : 0));
    storageSet(TRUST_VERSION_KEY, String(info.version));
    state.trustListVersion = info.version;
    if (state.demoAnchor) $('demo-note').hidden = false;
    state.ready = true;
  } catch (e) {
    showError(`The verifier could not start: ${e.message || e}`);
    window.__cyberlabel.state = 'error';
    window.__cyberlabel.error = String(e);
    return;
  }
  window.addEventListener('hashchange', () => verifyFromHash());
  $('scan-button').addEventListener('click', () => startScan());
  $('photo').addEventListener('change', (ev) => scanPhoto(ev.target.files && ev.target.files[0]));
  verifyFromHash();
}

function payloadFromHash() {
  const h = location.hash.startsWith('#') ? location.hash.slice(1) : location.hash;
  try { return decodeURIComponent(h).trim(); } catch { return h.trim(); }
}

function verifyFromHash() {
  const payload = payloadFromHash();
  if (!payload) {
    render({ verdict: 'none' });
    window.__cyberlabel.state = 'idle';
    return;
  }
  verify(payload);
}

async function verify(payload) {
  const run = {};
  state.busy = run;
  window.__cyberlabel.state = 'verifying';
  const now = Math.floor(Date.now() / 1000);
  let offline;
  try {
    offline = JSON.parse(wasm.verifyOffline(payload, state.trustList, state.anchor, now));
  } catch (e) {
    offline = { verdict: 'malformed', summary: String(e) };
  }
  render(offline, { checking: true });
  // The online part: only worth doing for a label whose offline part holds.
  let report = offline;
  if (offline.online_possible) {
    let checkpoint = '', tiles = [], statusProof = '', problem = '';
    let seen = { size: 0, root: '' };
    try {
      checkpoint = await fetchText('/checkpoint');
      seen = seenFor(originOf(checkpoint));
      const plan = JSON.parse(wasm.fetchPlan(payload, state.trustList, state.anchor, now, checkpoint,
        seen.size, seen.root));
      const [tileRes, statusRes] = await Promise.allSettled([
        Promise.all(plan.tiles.map((p) => fetchBytes('/' + p))),
        fetchText('/' + plan.status),
      ]);
      if (tileRes.status !== 'fulfilled') throw tileRes.reason;
      tiles = tileRes.value;
      // Without the status proof the checkpoint and tiles are still checked (inclusion, and
      // consistency with the remembered checkpoint); the verdict then cannot be "genuine".
      if (statusRes.status === 'fulfilled') statusProof = statusRes.value;
      else problem = String(statusRes.reason && (statusRes.reason.message || statusRes.reason));
    } catch (e) {
      problem = String(e.message || e);
      checkpoint = '';
      tiles = [];
    }
    if (state.busy !== run) return; // a newer scan replaced this one
    const lens = new Uint32Array(tiles.map((t) => t.length));
    const all = new Uint8Array(lens.reduce((a, b) => a + b, 0));
    let off = 0;
    for (const t of tiles) { all.set(t, off); off += t.length; }
    if (TEST_HOOKS) state.lastInputs = { payload, now, checkpoint, tiles: all, lens, statusProof, seen };
    try {
      report = JSON.parse(wasm.verifyOnline(payload, state.trustList, state.anchor, now,
        checkpoint, all, lens, statusProof, seen.size, seen.root));
      if (report.newest && report.origin) remember(report.origin, report.newest);
    } catch (e) {
      report = { ...offline, verdict: 'cannot_check', online: { checked: false, problem: String(e) } };
    }
    if (problem && report.online) report.online.problem = problem;
  }
  if (state.busy !== run) return;
  render(report);
  window.__cyberlabel.report = report;
  window.__cyberlabel.state = 'done';
}

function fmtDate(secs) {
  if (secs === undefined || secs === null) return '';
  return new Date(secs * 1000).toLocaleDateString(undefined, { year: 'numeric', month: 'long', day: 'numeric' });
}

function clear(el) { while (el.firstChild) el.removeChild(el.firstChild); }

function showError(msg) {
  render({ verdict: 'cannot_check', summary: msg });
}

function render(r, { checking = false } = {}) {
  const box = $('verdict');
  const v = r.verdict || 'none';
  const meta = VERDICTS[v] || { title: 'Scan a label', icon: '⌕', advice: '' };
  box.className = `verdict ${checking ? 'pending' : v}`;
  box.dataset.verdict = checking ? 'pending' : v;
  $('headline').textContent = checking && v === 'genuine' ? 'Checking the log…' : (v === 'none' ? 'Scan a label' : meta.title);
  box.querySelector('.icon').textContent = checking ? '…' : meta.icon;
  $('summary').textContent = r.summary || (v === 'none'
    ? 'Point your camera at the QR code on the product or its box, or choose a photo of it.' : '');
  const advice = $('advice');
  advice.textContent = checking ? '' : meta.advice;
  advice.hidden = checking || !meta.advice;
  const note = $('online-note');
  const online = r.online;
  if (!checking && online && online.note) {
    note.textContent = online.note;
    note.hidden = false;
  } else if (!checking && v === 'cannot_check' && r.label) {
    note.textContent = 'The signature and dates were checked on this device, but the log and revocation checks could not be done (no connection). Try again when online.';
    note.hidden = false;
  } else {
    note.hidden = true;
  }
  renderDetails(r);
}

function addFact(dl, name, value) {
  if (value === undefined || value === null || value === '') return;
  const dt = document.createElement('dt');
  dt.textContent = name;
  const dd = document.createElement('dd');
  dd.textContent = value;
  dl.append(dt, dd);
}

function renderDetails(r) {
  const l = r.label;
  $('details').hidden = !l;
  if (!l) return;
  const dl = $('facts');
  clear(dl);
  addFact(dl, 'Product', l.product);
  addFact(dl, 'Manufacturer', l.manufacturer);
  addFact(dl, 'Scheme', l.scheme_name ? `${l.scheme_name} (${l.scheme})` : l.scheme);
  addFact(dl, 'Level', [l.level_name, l.level_meaning].filter(Boolean).join(': '));
  addFact(dl, 'Security updates until', fmtDate(l.support_ends));
  addFact(dl, 'Label valid until', fmtDate(l.expires_at));
  addFact(dl, 'Issued', fmtDate(l.issued_at));
  addFact(dl, 'Category', l.category);
  addFact(dl, 'Hardware versions', l.hardware);
  addFact(dl, 'Firmware versions', l.firmware);
  addFact(dl, 'Assessment', l.assessment);
  addFact(dl, 'Issued by', r.issuer && r.issuer.name);
  addFact(dl, 'Label number', l.index !== undefined ? String(l.index) : '');
  if (r.status && r.status.as_of) addFact(dl, 'Status checked as of', new Date(r.status.as_of * 1000).toLocaleString());
  const provs = l.provisions || [];
  $('provisions-box').hidden = provs.length === 0;
  const ul = $('provisions');
  clear(ul);
  for (const p of provs) {
    const li = document.createElement('li');
    li.textContent = p.title ? `${p.id} ${p.title}` : p.id;
    ul.append(li);
  }
  const eqs = r.equivalents || [];
  $('equivalents-box').hidden = eqs.length === 0;
  const eu = $('equivalents');
  clear(eu);
  for (const e of eqs) {
    const li = document.createElement('li');
    li.textContent = e.text;
    eu.append(li);
  }
}

// ---- scanning ----------------------------------------------------------------------------

let stream = null;

function payloadFromScan(text) {
  // The QR holds https://<host>/v#<digits> or CL1:<digits>; wasm accepts both forms.
  return text.trim();
}

function found(text) {
  stopScan();
  $('scan-status').textContent = 'Label found.';
  const payload = payloadFromScan(text);
  const i = payload.indexOf('#');
  const frag = i >= 0 ? payload.slice(i + 1) : payload;
  if (('#' + frag) === location.hash) verify(frag);
  else location.hash = frag; // triggers hashchange → verify; keeps it in this page only
}

function decodeImageData(img) {
  try {
    const t = wasm.decodeQr(img.data, img.width, img.height);
    return t || null;
  } catch { return null; }
}

async function decodeFrame(source, w, h) {
  if ('BarcodeDetector' in window) {
    try {
      const det = new window.BarcodeDetector({ formats: ['qr_code'] });
      const codes = await det.detect(source);
      if (codes.length) return codes[0].rawValue;
    } catch { /* fall back to the wasm decoder */ }
  }
  const canvas = $('canvas');
  // Bound the work per frame: scale large images down to ≤ 1024 px on the long side.
  const scale = Math.min(1, 1024 / Math.max(w, h));
  canvas.width = Math.max(1, Math.round(w * scale));
  canvas.height = Math.max(1, Math.round(h * scale));
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  ctx.drawImage(source, 0, 0, canvas.width, canvas.height);
  return decodeImageData(ctx.getImageData(0, 0, canvas.width, canvas.height));
}

async function startScan() {
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    $('scan-status').textContent = 'This browser has no camera access here; choose a photo instead.';
    return;
  }
  try {
    stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: 'environment' }, audio: false });
  } catch (e) {
    $('scan-status').textContent = `Camera not available (${e.name || e}). Choose a photo instead.`;
    return;
  }
  const video = $('video');
  video.srcObject = stream;
  video.hidden = false;
  await video.play().catch(() => {});
  $('scan-status').textContent = 'Looking for a label QR code…';
  const tick = async () => {
    if (!stream) return;
    if (video.videoWidth > 0) {
      const text = await decodeFrame(video, video.videoWidth, video.videoHeight);
      if (text) { found(text); return; }
    }
    setTimeout(tick, 120);
  };
  tick();
}

function stopScan() {
  if (stream) for (const t of stream.getTracks()) t.stop();
  stream = null;
  const video = $('video');
  video.srcObject = null;
  video.hidden = true;
}

async function scanPhoto(file) {
  if (!file) return;
  $('scan-status').textContent = 'Reading the photo…';
  try {
    const bmp = await createImageBitmap(file);
    const text = await decodeFrame(bmp, bmp.width, bmp.height);
    if (text) found(text);
    else $('scan-status').textContent = 'No label QR code found in this photo. Try a sharper, closer photo.';
  } catch (e) {
    $('scan-status').textContent = `Could not read the photo (${e.message || e}).`;
  }
}

if (TEST_HOOKS) {
  // Benchmark hook for tests/e2e: median wall time of one full verification of a label in wasm
  // (verifyOnline: trust list, signature, issuer, catalog, dates, checkpoint signatures + witness
  // quorum, inclusion from tiles, status proof) on the bytes fetched by the last verification.
  window.__cyberlabelBench = (n) => {
    const x = state.lastInputs;
    if (!x) return null;
    const times = [];
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      wasm.verifyOnline(x.payload, state.trustList, state.anchor, x.now, x.checkpoint, x.tiles, x.lens,
        x.statusProof, x.seen.size, x.seen.root);
      times.push(performance.now() - t0);
    }
    times.sort((a, b) => a - b);
    return { median: times[Math.floor(times.length / 2)], min: times[0] };
  };
  // The exact inputs of the last verification (for the native timing on the same bytes).
  window.__cyberlabelInputs = () => {
    const x = state.lastInputs;
    if (!x) return null;
    const b64 = (u8) => { let s = ''; for (const c of u8) s += String.fromCharCode(c); return btoa(s); };
    return {
      payload: x.payload, now: x.now, checkpoint: x.checkpoint, tiles: b64(x.tiles),
      lens: Array.from(x.lens), status_proof: x.statusProof,
      seen_size: x.seen.size, seen_root: x.seen.root,
      trust_list: b64(state.trustList), anchor: b64(state.anchor),
    };
  };
}

boot();
