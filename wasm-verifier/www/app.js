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

// Words: every page string comes from a strings table per language (/assets/i18n/<lang>.json),
// which also carries the catalog's words (scheme names, level meanings, categories) keyed by
// scheme / level / category id; the English catalog words come from the wasm (the built-in
// catalog) where a table has none. The language is the stored choice, else navigator.language.
const LANGS = { en: 'English', de: 'Deutsch' };
const LANG_KEY = 'cyberlabel.lang';
const i18n = { lang: 'en', strings: {}, reasons: {}, catalog: { schemes: {}, categories: {} } };

/** The page string `key` with `{name}` placeholders filled from `vars`. */
// Used only if no strings table could be loaded at all (the page cannot start then).
const FALLBACK = { 'error.start': 'The verifier could not start: {message}', 'verdict.cannot_check.title': 'Cannot check now' };

function t(key, vars = {}) {
  const s = i18n.strings[key] ?? FALLBACK[key];
  if (s === undefined) return key;
  return s.replace(/\{(\w+)\}/g, (m, k) => (vars[k] === undefined ? m : String(vars[k])));
}

function pickLang() {
  const stored = storageGet(LANG_KEY);
  if (stored && LANGS[stored]) return stored;
  for (const l of navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language]) {
    const base = String(l || '').toLowerCase().split('-')[0];
    if (LANGS[base]) return base;
  }
  return 'en';
}

async function loadLang(lang) {
  const data = JSON.parse(await fetchText(`/assets/i18n/${lang}.json`));
  i18n.lang = lang;
  i18n.strings = data.strings || {};
  i18n.reasons = data.reasons || {};
  i18n.catalog = { schemes: {}, categories: {}, ...(data.catalog || {}) };
  document.documentElement.lang = lang;
  document.title = t('title');
  for (const el of document.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  for (const el of document.querySelectorAll('[data-i18n-label]')) el.setAttribute('aria-label', t(el.dataset.i18nLabel));
  const sel = $('lang');
  if (sel) sel.value = lang;
}

/** Days are whole days (FORMATS.md §1): `YYYY-MM-DD` from the wasm, shown as that very day in
 * every time zone (formatted in UTC, never the viewer's zone). */
function fmtDay(day) {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(day || '');
  if (!m) return '';
  const d = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  return new Intl.DateTimeFormat(i18n.lang, { timeZone: 'UTC', year: 'numeric', month: 'long', day: 'numeric' }).format(d);
}

/** A country code (ISO 3166) in words, in the page's language. */
function countryName(code) {
  if (!code) return '';
  try { return new Intl.DisplayNames([i18n.lang], { type: 'region' }).of(code) || code; } catch { return code; }
}

function schemeWords(id) { return (i18n.catalog.schemes || {})[id] || {}; }

function levelWords(id, level) { return ((schemeWords(id).levels || {})[String(level)]) || {}; }

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

/**
 * Where to fetch the label's log from: the page's own origin for the deployment's own log, or
 * a partner's log only at the https/http URL the signed trust list names for it (the page's CSP
 * allows exactly those). Same privacy as for the own log: no credentials, no referrer, and only
 * tiles and a 256-label status bucket, never anything that names the label.
 */
function logBase(log) {
  if (!log || log.own) return '';
  const url = String(log.url || '').replace(/\/+$/, '');
  if (!/^https?:\/\/[^/]+/.test(url)) throw new Error(`the trust list gives no URL for log ${log.origin}`);
  return url;
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
    await loadLang(pickLang());
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
    showError(String(e.message || e));
    window.__cyberlabel.state = 'error';
    window.__cyberlabel.error = String(e);
    return;
  }
  window.addEventListener('hashchange', () => verifyFromHash());
  $('lang').addEventListener('change', async (ev) => {
    const lang = ev.target.value;
    if (!LANGS[lang]) return;
    storageSet(LANG_KEY, lang);
    try { await loadLang(lang); } catch { return; }
    if (state.shown) render(state.shown.r, { checking: state.shown.checking });
  });
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
      const base = logBase(offline.log);
      let plan;
      for (let attempt = 1; ; attempt++) {
        checkpoint = await fetchText(base + '/checkpoint');
        seen = seenFor(originOf(checkpoint));
        try {
          plan = JSON.parse(wasm.fetchPlan(payload, state.trustList, state.anchor, now, checkpoint,
            seen.size, seen.root));
          break;
        } catch (e) {
          // A checkpoint published a moment ago may still be waiting for its witnesses'
          // cosignatures (milliseconds): ask again a few times before giving up.
          if (attempt >= 4 || !String(e).includes('witness policy')) throw e;
          await new Promise((resolve) => setTimeout(resolve, 500));
        }
      }
      // Every status path of the plan is fetched (a cover bucket hides a label of the newest
      // tiles among ≥ 256); the label's own is the one used.
      const statuses = plan.statuses && plan.statuses.length ? plan.statuses : [plan.status];
      const [tileRes, statusRes] = await Promise.allSettled([
        Promise.all(plan.tiles.map((p) => fetchBytes(base + '/' + p))),
        Promise.all(statuses.map((p) => fetchText(base + '/' + p)))
          .then((texts) => texts[statuses.indexOf(plan.status)]),
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
  if (state.fromScan) {
    // Only now is it known whether the QR code was a label at all.
    $('scan-status').textContent = report.verdict === 'malformed' ? t('scan.notLabel') : t('scan.checked');
    state.fromScan = false;
  }
  window.__cyberlabel.report = report;
  window.__cyberlabel.state = 'done';
}

const ICONS = {
  genuine: '✓', revoked: '✕', suspended: '!', superseded: '!', expired: '!', unknown_issuer: '?',
  tampered: '✕', key_compromised: '✕', malformed: '✕', not_in_log: '✕', log_inconsistent: '!', not_yet_valid: '✕',
  cannot_check: '…', none: '⌕',
};

function clear(el) { while (el.firstChild) el.removeChild(el.firstChild); }

function showError(msg) {
  render({ verdict: 'cannot_check', error: msg });
}

/** Draws a report: one headline, one sentence, what to do, and what the label says. */
function render(r, { checking = false } = {}) {
  state.shown = { r, checking };
  const box = $('verdict');
  const v = ICONS[r.verdict] ? r.verdict : 'none';
  const view = checking ? 'pending' : v;
  // Labels verified under the example (DEMO) trust anchor are marked as such, never plain green.
  const demo = !checking && state.demoAnchor === true && !!r.label;
  box.className = `verdict ${view}${demo ? ' demo' : ''}`;
  box.dataset.verdict = view;
  $('demo-badge').hidden = !demo;
  box.querySelector('.icon').textContent = checking ? '…' : ICONS[v];
  let headline, sentence, advice = '', note = '';
  if (checking) {
    headline = t('checking');
    sentence = t('checkingSentence');
  } else if (v === 'none') {
    headline = t('none.title');
    sentence = t('none.sentence');
  } else if (r.error) {
    headline = t(`verdict.${v}.title`);
    sentence = t('error.start', { message: r.error });
  } else {
    headline = t(`verdict.${v}.title`);
    sentence = t(`verdict.${v}.sentence`);
    advice = i18n.strings[`verdict.${v}.advice`] || '';
    const st = r.online && r.online.status;
    // The issuer's reason, where it adds something (a superseded label's reason is the verdict).
    if ((v === 'revoked' || v === 'suspended') && st && st.ok && st.reason !== null && st.reason !== undefined) {
      const reason = i18n.reasons[String(st.reason)] || st.reason_text;
      if (reason) note = t('reason', { reason });
    } else if (v === 'genuine' && r.online && r.online.checked) {
      note = t('note.checked');
    }
  }
  $('headline').textContent = headline;
  $('summary').textContent = sentence;
  $('advice').textContent = advice;
  $('advice').hidden = !advice;
  $('online-note').textContent = note;
  $('online-note').hidden = !note;
  renderDetails(checking ? {} : r);
}

function addFact(dl, name, value) {
  if (value === undefined || value === null || value === '') return;
  const dt = document.createElement('dt');
  dt.textContent = name;
  const dd = document.createElement('dd');
  dd.textContent = value;
  dl.append(dt, dd);
}

/** The level with its scale: "Level 2 of 4" (multi-level), "Pass" (binary), plus its meaning. */
function levelText(l) {
  const meaning = levelWords(l.scheme, l.level).meaning || l.level_meaning || '';
  let head;
  if (l.scheme_kind === 'multi_level' && l.levels_in_scheme) head = t('level.scale', { level: l.level, max: l.levels_in_scheme });
  else if (l.scheme_kind === 'binary') head = t('level.pass');
  else if (l.scheme_kind === 'descriptive') head = t('level.granted');
  else head = l.level_name || String(l.level);
  return meaning ? `${head}: ${meaning}` : head;
}

function renderDetails(r) {
  const l = r.label;
  $('details').hidden = !l;
  if (!l) return;
  const dl = $('facts');
  clear(dl);
  const sw = schemeWords(l.scheme);
  addFact(dl, t('fact.product'), l.product);
  addFact(dl, t('fact.manufacturer'), l.manufacturer);
  addFact(dl, t('fact.scheme'), sw.name || l.scheme_name || l.scheme);
  addFact(dl, t('fact.owner'), sw.owner || l.scheme_owner);
  addFact(dl, t('fact.country'), countryName(l.scheme_country));
  addFact(dl, t('fact.level'), levelText(l));
  addFact(dl, t('fact.supportUntil'), fmtDay(l.support_until));
  addFact(dl, t('fact.validThrough'), fmtDay(l.valid_through));
  addFact(dl, t('fact.issued'), fmtDay(l.issued_on));
  addFact(dl, t('fact.category'), (i18n.catalog.categories || {})[String(l.category)] || l.category_name);
  addFact(dl, t('fact.hardware'), l.hardware_versions);
  addFact(dl, t('fact.firmware'), l.firmware_versions);
  addFact(dl, t('fact.assessment'), l.assessment === 'self_declared' ? t('assessment.self')
    : l.assessment === 'third_party' ? t('assessment.lab', { lab: l.lab_name ? `${l.lab_name}, ${l.lab}` : l.lab }) : l.assessment_text);
  addFact(dl, t('fact.issuer'), r.issuer && r.issuer.name);
  addFact(dl, t('fact.number'), l.serial !== undefined ? String(l.serial) : '');
  const provs = l.provisions || [];
  $('provisions-box').hidden = provs.length === 0;
  const ul = $('provisions');
  clear(ul);
  for (const p of provs) {
    const li = document.createElement('li');
    const title = ((i18n.catalog.provisions || {})[p.id]) || p.title;
    li.textContent = title ? `${p.id} ${title}` : p.id;
    ul.append(li);
  }
  const eqs = r.equivalents || [];
  $('equivalents-box').hidden = eqs.length === 0;
  const eu = $('equivalents');
  clear(eu);
  for (const e of eqs) {
    // Plain words: where, and as what; the legal basis and its source keys stay in the data.
    const pw = schemeWords(e.to_scheme);
    let scheme = pw.short || pw.name || e.to_scheme_name || e.to_scheme;
    const lw = levelWords(e.to_scheme, e.to_level);
    if (e.to_scheme_kind === 'multi_level') {
      scheme += `, ${lw.name || e.to_level_name}`;
    }
    const li = document.createElement('li');
    li.textContent = t(`eq.${e.effect}`, { country: countryName(e.to_country), scheme });
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
  state.fromScan = true;
  $('scan-status').textContent = t('scan.read');
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
    $('scan-status').textContent = t('scan.noCameraApi');
    return;
  }
  try {
    stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: 'environment' }, audio: false });
  } catch (e) {
    $('scan-status').textContent = t('scan.noCamera', { error: e.name || e });
    return;
  }
  const video = $('video');
  video.srcObject = stream;
  video.hidden = false;
  await video.play().catch(() => {});
  $('scan-status').textContent = t('scan.looking');
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
  $('scan-status').textContent = t('scan.reading');
  try {
    const bmp = await createImageBitmap(file);
    const text = await decodeFrame(bmp, bmp.width, bmp.height);
    if (text) found(text);
    else $('scan-status').textContent = t('scan.noQr');
  } catch (e) {
    $('scan-status').textContent = t('scan.photoError', { error: e.message || e });
  }
}

if (TEST_HOOKS) {
  // Benchmark hook for tests/e2e: median wall time of one full verification of a label in wasm
  // (verifyOnline: trust list, signature, issuer, catalog, dates, checkpoint signatures + witness
  // quorum, inclusion from tiles, status proof) on the bytes fetched by the last verification.
  // `n` samples, each the mean of `k` back-to-back verifications: Chromium clamps
  // performance.now() to 0.1 ms, about a third of one verification, so single runs would only
  // give multiples of 0.1 ms. The native benchmark (examples/native_bench.rs) samples the same way.
  window.__cyberlabelBench = (n, k = 1) => {
    const x = state.lastInputs;
    if (!x) return null;
    const times = [];
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      for (let j = 0; j < k; j++) {
        wasm.verifyOnline(x.payload, state.trustList, state.anchor, x.now, x.checkpoint, x.tiles, x.lens,
          x.statusProof, x.seen.size, x.seen.root);
      }
      times.push((performance.now() - t0) / k);
    }
    times.sort((a, b) => a - b);
    return { median: times[Math.floor(times.length / 2)], min: times[0], samples: n, per_sample: k };
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
