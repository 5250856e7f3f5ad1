// dmsim dashboard: plain ES module, no build step. State comes from the REST API once and then
// from the server-sent event stream (/api/events).
const $ = (s) => document.querySelector(s);
const tokenInput = $('#token');
tokenInput.value = localStorage.getItem('dmsim-token') ?? '';
tokenInput.addEventListener('change', () => localStorage.setItem('dmsim-token', tokenInput.value));

const state = { lus: new Map(), copies: [], history: new Map(), lab: null, jobs: [] };

async function api(method, url, body) {
  const headers = {};
  if (method !== 'GET') headers.authorization = `Bearer ${tokenInput.value}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const r = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const data = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(data.message ?? `${r.status}`);
  return data;
}

const el = (tag, attrs = {}, ...kids) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const k of kids) e.append(k instanceof Node ? k : document.createTextNode(String(k)));
  return e;
};
// An empty table says so in one row spanning its columns, instead of showing nothing.
const fill = (tbody, rows, what) => {
  if (rows.length) return tbody.replaceChildren(...rows);
  const cols = tbody.closest('table').querySelectorAll('thead th').length;
  tbody.replaceChildren(el('tr', { class: 'empty' }, el('td', { colspan: String(cols) }, `no ${what}`)));
};
const mib = (b) => `${(b / 1048576).toFixed(1)} MiB`;

// An IQN can be 223 bytes: shorten a node's label with an ellipsis until it fits its box (the
// whole name stays in the node's <title> tooltip). Measured, since glyph widths vary.
function fitText(t, width) {
  const full = t.textContent;
  if (t.getComputedTextLength() <= width) return;
  let lo = 0, hi = full.length;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    t.textContent = `${full.slice(0, mid)}…`;
    if (t.getComputedTextLength() <= width) lo = mid; else hi = mid - 1;
  }
  t.textContent = `${full.slice(0, lo)}…`;
}

function drawFabric() {
  const lab = state.lab;
  if (!lab) return;
  $('#lab-name').textContent = lab.name;
  const svg = $('#fabric');
  svg.replaceChildren();
  const ns = 'http://www.w3.org/2000/svg';
  const nodes = new Map();
  for (const p of lab.ports) {
    const kind = p.owner === 'host' || p.owner === 'iscsi-default' ? 'host' : p.owner === 'data-mover' ? 'router' : p.owner;
    const n = nodes.get(p.node) ?? { name: p.node, kind, ports: [] };
    n.ports.push(p);
    nodes.set(p.node, n);
  }
  const cols = { host: 0, array: 1, router: 2 };
  const perCol = [0, 0, 0];
  const pos = new Map();
  for (const n of nodes.values()) {
    const c = cols[n.kind] ?? 0;
    pos.set(n.name, { x: 30 + c * 260, y: 20 + perCol[c]++ * 56 });
  }
  const zoneOf = lab.zones.map((z) => new Set(z.members));
  const down = new Set(lab.linksDown);
  const drawn = new Set();
  for (const a of nodes.values()) for (const b of nodes.values()) {
    if (a === b || drawn.has(`${b.name}|${a.name}`)) continue;
    const linked = zoneOf.some((z) => a.ports.some((p) => z.has(p.wwpn)) && b.ports.some((p) => z.has(p.wwpn)));
    if (!linked) continue;
    drawn.add(`${a.name}|${b.name}`);
    const pa = pos.get(a.name), pb = pos.get(b.name);
    const l = document.createElementNS(ns, 'line');
    const isDown = [...a.ports, ...b.ports].some((p) => down.has(p.wwpn));
    l.setAttribute('class', `link${isDown ? ' down' : ''}`);
    l.setAttribute('x1', pa.x + 80); l.setAttribute('y1', pa.y + 18);
    l.setAttribute('x2', pb.x + 80); l.setAttribute('y2', pb.y + 18);
    svg.append(l);
  }
  for (const n of nodes.values()) {
    const p = pos.get(n.name);
    const g = document.createElementNS(ns, 'g');
    g.setAttribute('class', `node ${n.kind}`);
    g.setAttribute('data-node', n.name);
    const r = document.createElementNS(ns, 'rect');
    r.setAttribute('x', p.x); r.setAttribute('y', p.y); r.setAttribute('width', 160); r.setAttribute('height', 36); r.setAttribute('rx', 5);
    const t = document.createElementNS(ns, 'text');
    t.setAttribute('x', p.x + 8); t.setAttribute('y', p.y + 15);
    t.textContent = n.name;
    const t2 = document.createElementNS(ns, 'text');
    t2.setAttribute('x', p.x + 8); t2.setAttribute('y', p.y + 29);
    t2.textContent = `${n.kind} · ${n.ports.length} port${n.ports.length > 1 ? 's' : ''}`;
    const title = document.createElementNS(ns, 'title');
    title.textContent = n.name;
    g.append(title, r, t, t2);
    svg.append(g);
    fitText(t, 144);
  }
  svg.setAttribute('height', Math.max(...perCol) * 56 + 30);
}

function luState(v) {
  if (v.tape) return `${v.tape.state}${v.tape.barcode ? ` ${v.tape.barcode}` : ''}${v.tape.position != null ? ` @${v.tape.position}` : ''}`;
  if (v.disk) return `${mib(v.disk.bytes)}, ${v.disk.changedBlocks} changed`;
  return v.kind;
}

function faultText(f) {
  if (!f) return '';
  const parts = [];
  for (const m of f.mediumErrors ?? []) parts.push(`medium error ${m.firstLba}+${m.count} (${m.on})`);
  if (f.notReadyUntil > Date.now()) parts.push('not ready');
  if (f.latencyMs) parts.push(`+${f.latencyMs} ms`);
  if (f.throughputBytesPerSec) parts.push(`≤${mib(f.throughputBytesPerSec)}/s`);
  if (f.endOfMediumAt != null) parts.push(`EOM @${f.endOfMediumAt}`);
  return parts.join(', ');
}

function renderLus() {
  const body = $('#lus tbody');
  body.replaceChildren();
  for (const v of state.lus.values()) {
    const inject = el('td', { class: 'inject' });
    if (v.disk || v.tape) {
      const at = el('input', { type: 'number', min: '0', value: '0', 'aria-label': `fault position for ${v.name}` });
      inject.append(
        at,
        el('button', { 'data-action': 'medium-error', 'data-lu': v.name, onclick: () => fault(v.name, { mediumError: { firstLba: Number(at.value), count: 1 << 30, on: 'both' } }) }, 'medium error'),
        el('button', { onclick: () => fault(v.name, { notReadyMs: 5000 }) }, 'not ready 5 s'),
        el('button', { 'data-action': 'clear', 'data-lu': v.name, onclick: () => api('DELETE', `/api/lus/${v.name}/faults`).catch(alert) }, 'clear'),
      );
    }
    const rsv = v.reservation ? [v.reservation.spc2Holder ? `RESERVE by ${v.reservation.spc2Holder}` : '', v.reservation.persistent ? `PR type ${v.reservation.persistent.type}` : ''].filter(Boolean).join(', ') : '';
    body.append(el('tr', { 'data-lu': v.name }, el('td', {}, v.name), el('td', {}, v.kind), el('td', {}, luState(v)), el('td', {}, rsv), el('td', { class: 'faults' }, faultText(v.faults)), inject));
  }
  const src = $('#backup-source'), tape = $('#backup-tape');
  if (!src.options.length) {
    for (const v of state.lus.values()) {
      if (v.kind === 'disk') src.append(el('option', { value: v.name }, v.name));
      if (v.kind === 'tape') tape.append(el('option', { value: v.name }, v.name));
    }
  }
}

function sparkline(values) {
  const w = 120, h = 20, max = Math.max(1, ...values);
  const pts = values.map((v, i) => `${(i / Math.max(1, values.length - 1)) * w},${h - (v / max) * h}`).join(' ');
  const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
  svg.setAttribute('width', w); svg.setAttribute('height', h);
  const pl = document.createElementNS('http://www.w3.org/2000/svg', 'polyline');
  pl.setAttribute('points', pts); pl.setAttribute('fill', 'none'); pl.setAttribute('stroke', '#2f7de1');
  svg.append(pl);
  return svg;
}

// The API job that ran a copy, and the catalog backup that job recorded, as in-page links.
function copyLinks(c) {
  if (c.job == null) return [];
  const j = state.jobs.find((x) => x.id === c.job);
  const out = [el('a', { href: `#job-${c.job}` }, `job ${c.job}`)];
  if (j?.backupId != null) out.push(' · ', el('a', { href: `#backup-${j.backupId}` }, `backup ${j.backupId}`));
  return out;
}

// Running copies in the top table; finished ones (newest first) in a collapsible <details> below
// it, whose open/closed state survives re-renders because only its rows are replaced.
function copyRow(c) {
  const key = `${c.copyManager}|${c.lu}|${c.initiator}|${c.listId}`;
  const hist = state.history.get(key) ?? [];
  if (c.state === 'running') hist.push(c.rate);
  state.history.set(key, hist.slice(-40));
  const pct = c.segments ? Math.round((c.segmentsProcessed / c.segments) * 100) : 0;
  const bar = el('div', { class: 'bar', role: 'progressbar', 'aria-valuenow': String(pct) }, el('div', { style: `width:${pct}%` }));
  return el('tr', { 'data-copy': key, 'data-state': c.state },
    el('td', {}, c.lu), el('td', {}, c.listId), el('td', { class: c.state }, c.state),
    el('td', {}, bar, ` ${c.segmentsProcessed}/${c.segments} · ${mib(c.bytesWritten)}`),
    el('td', { class: 'rate' }, c.state === 'running' || c.averageRate == null ? `${mib(c.rate)}/s` : `avg ${mib(c.averageRate)}/s`), el('td', {}, sparkline(hist)), el('td', { class: 'reason' }, c.failure ?? ''), el('td', { class: 'links' }, ...copyLinks(c)));
}

function renderCopies() {
  const running = state.copies.filter((c) => c.state === 'running');
  const finished = state.copies.filter((c) => c.state !== 'running').sort((a, b) => (b.finishedAt ?? 0) - (a.finishedAt ?? 0));
  fill($('#copies-running tbody'), running.map(copyRow), finished.length ? 'copies running' : 'copies yet');
  const done = $('#copies-finished');
  done.hidden = !finished.length;
  done.querySelector('summary').textContent = `${finished.length} finished cop${finished.length === 1 ? 'y' : 'ies'}`;
  done.querySelector('tbody').replaceChildren(...finished.map(copyRow));
}

async function fault(lu, body) {
  try { await api('PATCH', `/api/lus/${lu}/faults`, body); } catch (e) { alert(e.message); }
}

// How full each cartridge is: bytes used of its capacity, as a bar and in numbers.
function cartridgeRow(c) {
  const pct = c.capacity ? Math.min(100, (c.bytesUsed / c.capacity) * 100) : 0;
  const bar = el('div', { class: 'bar', role: 'progressbar', 'aria-valuenow': pct.toFixed(1) }, el('div', { style: `width:${pct}%` }));
  return el('tr', { 'data-barcode': c.barcode },
    el('td', {}, c.barcode), el('td', {}, c.router), el('td', {}, `${c.loadedIn ? `in ${c.loadedIn}` : 'vault'}${c.writeProtected ? ' · write-protected' : ''}`),
    el('td', { class: 'fill' }, bar, ` ${mib(c.bytesUsed)} of ${mib(c.capacity)} (${pct.toFixed(1)}%)`));
}

async function refreshLists() {
  const [sessions, backups, jobs, vault] = await Promise.all([api('GET', '/api/sessions'), api('GET', '/api/backups'), api('GET', '/api/jobs'), api('GET', '/api/vault')]);
  state.jobs = jobs;
  renderCopies();
  fill($('#jobs tbody'), jobs.map((j) => el('tr', { id: `job-${j.id}`, 'data-job': j.id, 'data-state': j.state }, el('td', {}, j.id), el('td', {}, `${j.source} → ${j.tape}`), el('td', {}, j.mode), el('td', { class: j.state === 'failed' ? 'failed' : j.state === 'complete' ? 'done' : '' }, j.state), el('td', {}, j.backupId ?? ''), el('td', { class: 'reason' }, j.error ?? ''))), 'backup jobs yet');
  fill($('#cartridges tbody'), vault.map(cartridgeRow), 'cartridges');
  fill($('#sessions tbody'), sessions.map((s) => el('tr', {}, el('td', {}, s.initiatorName), el('td', {}, s.targetName ?? '(discovery)'), el('td', {}, s.initiatorPort ?? ''), el('td', {}, s.connections), el('td', {}, s.tasks))), 'iSCSI sessions');
  fill($('#backups tbody'), backups.map((b) => el('tr', { id: `backup-${b.id}`, 'data-backup': b.id }, el('td', {}, b.id), el('td', {}, b.mode), el('td', { class: b.status === 'failed' ? 'failed' : b.status === 'complete' ? 'done' : '' }, b.status), el('td', {}, b.barcode), el('td', {}, mib(b.stream_bytes ?? 0)), el('td', {}, b.started_at))), 'backups in the catalog');
}

$('#backup-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const status = $('#backup-status');
  status.textContent = 'starting…';
  try {
    const r = await api('POST', '/api/jobs/backup', { source: $('#backup-source').value, tape: $('#backup-tape').value, mode: $('#backup-mode').value, checksums: $('#backup-checksums').checked });
    status.textContent = `job ${r.job} started`;
    refreshLists();
  } catch (e) {
    status.textContent = `refused: ${e.message}`;
  }
});

async function start() {
  state.lab = await api('GET', '/api/lab');
  drawFabric();
  for (const v of await api('GET', '/api/lus')) state.lus.set(v.name, v);
  renderLus();
  await refreshLists();
  const es = new EventSource('/api/events');
  es.onopen = () => { $('#conn').textContent = 'live'; $('#conn').classList.add('live'); };
  es.onerror = () => { $('#conn').textContent = 'reconnecting…'; $('#conn').classList.remove('live'); };
  es.addEventListener('copies', (e) => { state.copies = JSON.parse(e.data); renderCopies(); });
  es.addEventListener('lu', (e) => { const v = JSON.parse(e.data); state.lus.set(v.name, v); renderLus(); });
  es.addEventListener('lab', async () => { state.lab = await api('GET', '/api/lab'); drawFabric(); refreshLists(); });
  setInterval(refreshLists, 1000);
}
start().catch((e) => { $('#conn').textContent = `error: ${e.message}`; });
