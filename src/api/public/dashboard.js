// dmsim dashboard: plain ES module, no build step. State comes from the REST API once and then
// from the server-sent event stream (/api/events).
const $ = (s) => document.querySelector(s);
const tokenInput = $('#token');
tokenInput.value = localStorage.getItem('dmsim-token') ?? '';
tokenInput.addEventListener('change', () => localStorage.setItem('dmsim-token', tokenInput.value));

const state = { lus: new Map(), copies: [], history: new Map(), lab: null, jobs: [], timeline: [] };

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

// Zone colours, in zone order; a zone's links and its legend entry share one.
const ZONE_COLORS = ['#2f7de1', '#e37400', '#1e8e3e', '#a142f4', '#d93025', '#12a4af', '#b06000', '#5f6368'];

function drawFabric() {
  const lab = state.lab;
  if (!lab) return;
  $('#lab-name').textContent = lab.name;
  const svg = $('#fabric');
  svg.replaceChildren();
  const ns = 'http://www.w3.org/2000/svg';
  const mk = (tag, attrs = {}) => {
    const e = document.createElementNS(ns, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    return e;
  };
  const nodes = new Map();
  for (const p of lab.ports) {
    const kind = p.owner === 'host' || p.owner === 'iscsi-default' ? 'host' : p.owner === 'data-mover' ? 'router' : p.owner;
    const n = nodes.get(p.node) ?? { name: p.node, kind, ports: [], unknown: p.owner === 'iscsi-default' };
    n.ports.push(p);
    nodes.set(p.node, n);
  }
  // A host whose initiator ports are all logged out is greyed; an initiator the lab does not name
  // (admitted through the default zone) drops off the picture once it has left.
  for (const n of [...nodes.values()]) {
    const inits = n.ports.filter((p) => p.role === 'initiator');
    n.away = n.kind === 'host' && inits.length > 0 && !inits.some((p) => p.loggedIn);
    if (n.away && n.unknown) nodes.delete(n.name);
  }
  const cols = { host: 0, array: 1, router: 2 };
  const perCol = [0, 0, 0];
  const pos = new Map();
  for (const n of nodes.values()) {
    const c = cols[n.kind] ?? 0;
    // Arrays sit lower than hosts and routers so host→router links do not run through them.
    pos.set(n.name, { x: 30 + c * 260, y: 20 + perCol[c]++ * 56 + (c === 1 ? 28 : 0) });
  }
  const down = new Set(lab.linksDown);
  // Zones: for each pair of nodes sharing a zone, one line in the zone's colour (pairs in several
  // zones get parallel lines), and a legend naming each zone's members.
  const zones = lab.zones.map((z, i) => {
    const m = new Set(z.members);
    const members = [...nodes.values()].filter((n) => n.ports.some((p) => m.has(p.wwpn)));
    return { name: z.name, color: ZONE_COLORS[i % ZONE_COLORS.length], members };
  });
  const pairCount = new Map();
  for (const z of zones) {
    const g = mk('g', { class: 'zone', 'data-zone': z.name, 'data-members': z.members.map((n) => n.name).sort().join(' ') });
    for (let i = 0; i < z.members.length; i++) for (let j = i + 1; j < z.members.length; j++) {
      const a = z.members[i], b = z.members[j];
      const key = [a.name, b.name].sort().join('|');
      const k = pairCount.get(key) ?? 0;
      pairCount.set(key, k + 1);
      const off = (k % 2 ? -1 : 1) * Math.ceil(k / 2) * 4;
      const pa = pos.get(a.name), pb = pos.get(b.name);
      const isDown = [...a.ports, ...b.ports].some((p) => down.has(p.wwpn));
      const l = mk('line', { class: `link${isDown ? ' down' : ''}${a.away || b.away ? ' away' : ''}`, stroke: z.color,
        x1: pa.x + 80, y1: pa.y + 18 + off, x2: pb.x + 80, y2: pb.y + 18 + off });
      const t = mk('title');
      t.textContent = `zone ${z.name}: ${a.name} – ${b.name}`;
      l.append(t);
      g.append(l);
    }
    svg.append(g);
  }
  for (const n of nodes.values()) {
    const p = pos.get(n.name);
    const g = mk('g', { class: `node ${n.kind}${n.away ? ' away' : ''}`, 'data-node': n.name });
    const r = mk('rect', { x: p.x, y: p.y, width: 160, height: 36, rx: 5 });
    const t = mk('text', { x: p.x + 8, y: p.y + 15 });
    t.textContent = n.name;
    const t2 = mk('text', { x: p.x + 8, y: p.y + 29 });
    t2.textContent = n.away ? `${n.kind} · not logged in` : `${n.kind} · ${n.ports.length} port${n.ports.length > 1 ? 's' : ''}`;
    const title = mk('title');
    title.textContent = n.name;
    g.append(title, r, t, t2);
    svg.append(g);
    fitText(t, 144);
  }
  const legend = mk('g', { class: 'zone-legend' });
  zones.forEach((z, i) => {
    const y = 20 + i * 18;
    const e = mk('g', { class: 'zone-key', 'data-zone': z.name });
    const sw = mk('rect', { x: 820, y: y - 9, width: 14, height: 10, fill: z.color });
    const t = mk('text', { x: 840, y });
    t.textContent = `${z.name}: ${z.members.map((n) => n.name).join(', ') || '(no members)'}`;
    e.append(sw, t);
    legend.append(e);
    fitText(t, 330);
  });
  svg.append(legend);
  svg.setAttribute('height', Math.max(Math.max(...perCol) * 56 + 58, zones.length * 18 + 30));
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

// Robot, drive, copy and API activity, newest first (GET /api/timeline, then live "activity" events).
function renderTimeline() {
  const list = $('#timeline');
  const rows = state.timeline.slice(-50).reverse().map((e) => el('li', { 'data-kind': e.kind },
    el('time', { datetime: new Date(e.at).toISOString() }, new Date(e.at).toLocaleTimeString()), ` ${e.kind} · ${e.source}: `, e.what));
  if (rows.length) list.replaceChildren(...rows);
  else list.replaceChildren(el('li', { class: 'empty' }, 'no activity yet'));
}

async function start() {
  state.lab = await api('GET', '/api/lab');
  drawFabric();
  for (const v of await api('GET', '/api/lus')) state.lus.set(v.name, v);
  renderLus();
  await refreshLists();
  state.timeline = await api('GET', '/api/timeline');
  renderTimeline();
  const es = new EventSource('/api/events');
  es.onopen = () => { $('#conn').textContent = 'live'; $('#conn').classList.add('live'); };
  es.onerror = () => { $('#conn').textContent = 'reconnecting…'; $('#conn').classList.remove('live'); };
  es.addEventListener('copies', (e) => { state.copies = JSON.parse(e.data); renderCopies(); });
  es.addEventListener('activity', (e) => { state.timeline.push(JSON.parse(e.data)); if (state.timeline.length > 200) state.timeline.shift(); renderTimeline(); });
  es.addEventListener('lu', (e) => { const v = JSON.parse(e.data); state.lus.set(v.name, v); renderLus(); });
  es.addEventListener('lab', async () => { state.lab = await api('GET', '/api/lab'); drawFabric(); refreshLists(); });
  setInterval(refreshLists, 1000);
}
start().catch((e) => { $('#conn').textContent = `error: ${e.message}`; });
