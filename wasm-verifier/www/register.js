// The public register's page. Against the issuing server it uses the search API
// (/register/search); against a static copy (object store or CDN, no API) it falls back to the
// published shards: the manufacturer lists by first character and each manufacturer's page.
// All text from labels is untrusted: it is only ever set as textContent.

const $ = (id) => document.getElementById(id);
let api = false;
let next = null;

const day = (unix) => new Date(unix * 1000).toISOString().slice(0, 10);

async function getJson(path) {
  const r = await fetch(path, { cache: 'no-store', credentials: 'omit' });
  if (!r.ok) {
    let msg = `${r.status}`;
    try { msg = (await r.json()).message || msg; } catch { /* not JSON */ }
    throw new Error(msg);
  }
  return r.json();
}

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  if (cls) e.className = cls;
  return e;
}

function link(text, href) {
  const a = el('a', text);
  a.href = href;
  a.rel = 'noopener noreferrer';
  return a;
}

// The verifier on this origin, with the label's QR payload (the URL's fragment).
function verifyHref(listing) {
  const v = listing.links && listing.links.verifier;
  if (!v) return null;
  const hash = v.indexOf('#');
  return hash < 0 ? null : `/v${v.slice(hash)}`;
}

const EVENT = { issued: 'Issued', renewed: 'Renewed by entry', suspended: 'Suspended', reinstated: 'Reinstated', revoked: 'Revoked' };

function renderListing(l) {
  const li = el('li', undefined, `listing status-${l.status}`);
  li.dataset.index = String(l.index);
  li.appendChild(el('h3', `${l.manufacturer} — ${l.product}`));
  const status = el('p', undefined, 'listing-status');
  status.appendChild(el('strong', l.status));
  if (l.reason_name) status.appendChild(document.createTextNode(` (${l.reason_name.replaceAll('_', ' ')})`));
  li.appendChild(status);
  const dl = el('dl');
  const fact = (k, v) => { dl.appendChild(el('dt', k)); dl.appendChild(el('dd', v)); };
  fact('Scheme', `${l.scheme}, level ${l.level}`);
  fact('Category', String(l.category));
  fact('Versions', `hardware ${l.hardware_versions}, firmware ${l.firmware_versions}`);
  fact('Valid', `${day(l.issued_at)} to ${day(l.expires_at)} (expires)`);
  fact('Log entry', String(l.index));
  li.appendChild(dl);
  const hist = el('ul', undefined, 'history');
  for (const e of l.history) {
    const what = e.kind === 'renewed' ? `${EVENT.renewed} ${e.index}` : `${EVENT[e.kind] || e.kind} (entry ${e.index})`;
    const reason = e.kind !== 'issued' && e.kind !== 'renewed' && e.reason_name ? ` — ${e.reason_name.replaceAll('_', ' ')}` : '';
    hist.appendChild(el('li', `${day(e.time)}: ${what}${reason}`));
  }
  li.appendChild(hist);
  const links = el('p', undefined, 'links');
  const v = verifyHref(l);
  if (v) links.appendChild(link('Verify', v));
  if (api) {
    links.appendChild(document.createTextNode(' · '));
    links.appendChild(link('QR code', l.links.qr_svg));
    links.appendChild(document.createTextNode(' · '));
    links.appendChild(link('Label artwork', l.links.artwork_png));
    links.appendChild(document.createTextNode(' · '));
    links.appendChild(link('Label and proofs', l.links.label));
  }
  const slug = l.links.manufacturer.replace(/^\/register\/manufacturer\//, '').replace(/\.json$/, '');
  links.appendChild(document.createTextNode(' · '));
  links.appendChild(link('All from this manufacturer', `/register?m=${encodeURIComponent(decodeURIComponent(slug))}`));
  li.appendChild(links);
  return li;
}

function params() {
  const p = new URLSearchParams();
  for (const name of ['q', 'manufacturer', 'model', 'scheme', 'level', 'status', 'issued_from', 'issued_to']) {
    const input = document.querySelector(`[name="${name}"]`);
    if (input && input.value.trim() !== '') p.set(name, input.value.trim());
  }
  return p;
}

async function search(more) {
  const list = $('results');
  if (!more) { list.replaceChildren(); next = null; }
  $('summary').textContent = 'Searching…';
  try {
    if (api) {
      const p = params();
      p.set('limit', '20');
      if (more && next) p.set('cursor', next);
      const page = await getJson(`/register/search?${p}`);
      for (const l of page.results) list.appendChild(renderListing(l));
      next = page.next;
      $('summary').textContent = `${list.children.length} shown; the register reflects the log's first ${page.indexed_size} entries.`;
      $('more').hidden = !next;
    } else {
      await staticSearch();
    }
  } catch (e) {
    $('summary').textContent = `The register could not be searched: ${e.message}`;
  }
}

// Static copy: manufacturers whose page name starts with the typed text.
function slugOf(name) {
  let out = '';
  for (const c of name.toLowerCase()) {
    if (/[\p{L}\p{N}]/u.test(c)) out += c;
    else if (out && !out.endsWith('-')) out += '-';
  }
  return out.replace(/-+$/, '');
}

async function staticSearch() {
  const typed = slugOf($('f-manufacturer').value);
  const list = $('results');
  if (!typed) { $('summary').textContent = 'Type the start of a manufacturer\u2019s name.'; return; }
  const shard = /^[a-z0-9]/.test(typed) ? typed[0] : '_';
  const idx = await getJson(`/register/manufacturers/${shard}.json`);
  const hits = idx.manufacturers.filter((m) => m.slug.startsWith(typed));
  for (const m of hits) {
    const li = el('li', undefined, 'manufacturer');
    li.appendChild(link(`${m.name} (${m.labels} label${m.labels === 1 ? '' : 's'})`, `/register?m=${encodeURIComponent(m.slug)}`));
    list.appendChild(li);
  }
  $('summary').textContent = `${hits.length} manufacturer${hits.length === 1 ? '' : 's'} found.`;
  $('more').hidden = true;
}

async function showManufacturer(slug) {
  $('results-title').textContent = 'Manufacturer';
  const page = await getJson(`/register/manufacturer/${encodeURIComponent(slug)}.json`);
  $('results-title').textContent = `${page.name}: ${page.labels} label${page.labels === 1 ? '' : 's'}`;
  const list = $('results');
  list.replaceChildren();
  for (const l of page.listings) list.appendChild(renderListing(l));
  $('summary').textContent = `Every label of this manufacturer, newest first, with its history (the register reflects the log's first ${page.indexed_size} entries).`;
}

async function main() {
  try {
    await getJson('/register/search?limit=1');
    api = true;
    $('mode').textContent = 'Search by any combination of fields.';
    try {
      const schemes = await getJson('/schemes');
      for (const s of schemes.schemes || schemes) {
        const o = el('option', `${s.id} — ${s.name}`);
        o.value = s.id;
        $('f-scheme').appendChild(o);
      }
    } catch { /* the scheme list is a convenience */ }
  } catch {
    api = false;
    for (const e of document.querySelectorAll('.api-only')) e.hidden = true;
    $('mode').textContent = 'This is a static copy of the register: look a manufacturer up by name.';
  }
  $('search').addEventListener('submit', (ev) => { ev.preventDefault(); search(false); });
  $('more').addEventListener('click', () => search(true));
  document.body.dataset.ready = api ? 'api' : 'static';
  const m = new URLSearchParams(location.search).get('m');
  if (m) {
    try { await showManufacturer(m); } catch (e) { $('summary').textContent = `No such manufacturer page (${e.message}).`; }
  }
  document.body.dataset.loaded = 'yes';
}

main();
