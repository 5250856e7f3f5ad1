/**
 * The dashboard in a real headless Chromium (Debian's, driven by playwright-core): load the page,
 * start a backup, watch its progress bar move, inject a medium error and see the copy fail with
 * the reason shown. Screenshots go to artifacts/ for the run's record.
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser } from 'playwright-core';
import type { LabRuntime } from '../../firmware-sim/lab/build.js';
import { tempDefaultLab } from '../helpers/temp-lab.js';
import { buildApi, type Api } from '../../src/api/server.js';
import { requireTools } from '../helpers/require-tool.js';
import { startIscsiTarget, type IscsiTarget } from '../../src/iscsi/target/index.js';
import { connect } from '../../src/iscsi/initiator/index.js';

const ok = requireTools('dashboard browser test', 'chromium');
const TOKEN = 'browser-test-token';
const ART = path.resolve('artifacts');

let lab: Awaited<ReturnType<typeof tempDefaultLab>>;
let rt: LabRuntime;
let api: Api;
let target: IscsiTarget;
let browser: Browser;
let base: string;

describe.skipIf(!ok)('dashboard in headless Chromium', () => {
  beforeAll(async () => {
    await mkdir(ART, { recursive: true });
    lab = await tempDefaultLab('dash');
    rt = lab.rt;
    target = await startIscsiTarget({ dispatcher: rt.fabric, directory: rt.directory, host: '127.0.0.1', port: 0 });
    api = await buildApi(rt, { token: TOKEN, iscsi: target });
    await api.app.listen({ host: '127.0.0.1', port: 0 });
    const addr = api.app.server.address();
    base = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await api?.close();
    await target?.close();
    await lab?.close();
  });

  it('starts a backup, shows live progress, and shows why the copy failed after a fault', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(base + '/');
    await page.fill('#token', TOKEN);
    await page.dispatchEvent('#token', 'change');
    await page.waitForSelector('#lus tbody tr[data-lu="array1/fat"]');
    await page.waitForSelector('#conn.live');
    expect(await page.locator('#fabric g.node').count()).toBeGreaterThanOrEqual(4);
    // Zones are drawn: one coloured line per pair of nodes sharing a zone, and a legend naming the members.
    const zone = (z: string) => page.locator(`#fabric g.zone[data-zone="${z}"]`);
    expect(await zone('backup').getAttribute('data-members')).toBe('array1 backup1 router1');
    expect(await zone('backup').locator('line').count()).toBe(3);
    expect(await zone('datamover').getAttribute('data-members')).toBe('array1 router1');
    expect(await zone('app').getAttribute('data-members')).toBe('app1 array1');
    expect(await zone('app').locator('line').count()).toBe(1);
    expect(await page.locator('#fabric g.zone-key[data-zone="backup"] text').textContent()).toBe('backup: backup1, array1, router1');
    // No initiator is logged in yet: the lab's hosts are greyed.
    expect(await page.locator('#fabric g.node.away[data-node="backup1"]').count()).toBe(1);
    // Every backup mode the jobs route accepts is offered; empty tables say so.
    expect(await page.locator('#backup-mode option').allTextContents()).toEqual(['full', 'sparse', 'files', 'incremental', 'differential']);
    await page.waitForSelector('#jobs tbody tr.empty');
    expect(await page.locator('#jobs tbody').textContent()).toBe('no backup jobs yet');
    expect(await page.locator('#copies-running tbody').textContent()).toBe('no copies yet');
    expect(await page.locator('#copies-finished').isHidden()).toBe(true);
    expect(await page.locator('#backups tbody').textContent()).toBe('no backups in the catalog');
    expect(await page.locator('#timeline').textContent()).toBe('no activity yet');
    // Every cartridge shows how full it is; the default lab's are blank 1 GiB cartridges.
    await page.waitForSelector('#cartridges tbody tr[data-barcode="DM0001L3"]');
    expect(await page.locator('#cartridges tbody tr').count()).toBe(4);
    expect(await page.locator('#cartridges tbody tr[data-barcode="DM0003L3"] td.fill').textContent()).toBe(' 0.0 MiB of 1024.0 MiB (0.0%)');
    // The page names its icon, and the API serves it as SVG.
    expect(await page.getAttribute('link[rel=icon]', 'href')).toBe('/favicon.svg');
    const icon = await fetch(`${base}/favicon.svg`);
    expect(icon.status).toBe(200);
    expect(icon.headers.get('content-type')).toBe('image/svg+xml');
    expect(await icon.text()).toMatch(/^<svg /);
    await page.screenshot({ path: path.join(ART, 'dashboard-idle.png'), fullPage: true });

    // Emulate a slow source so the copy runs long enough to watch.
    const cap = await fetch(`${base}/api/lus/array1/fat/faults`, {
      method: 'PATCH',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ throughputBytesPerSec: 3 << 20 }),
    });
    expect(cap.status).toBe(200);

    await page.selectOption('#backup-source', 'array1/fat');
    await page.selectOption('#backup-tape', 'router1/tape0');
    await page.selectOption('#backup-mode', 'full');
    await page.uncheck('#backup-checksums');
    await page.click('#start-backup');
    await page.waitForSelector('#backup-status:has-text("started")');

    const running = page.locator('#copies tbody tr[data-state="running"]').first();
    await running.waitFor({ timeout: 30_000 });
    const bytesText = async () => (await running.locator('td').nth(3).textContent()) ?? '';
    const first = await bytesText();
    // The progress cell (segments and bytes) must change while the copy runs.
    await expect.poll(bytesText, { timeout: 30_000, interval: 200 }).not.toBe(first);
    await page.screenshot({ path: path.join(ART, 'dashboard-running.png'), fullPage: true });

    // Inject a medium error over the whole disk from the LU table's controls.
    const fatRow = page.locator('#lus tbody tr[data-lu="array1/fat"]');
    await fatRow.locator('input[type=number]').fill('0');
    await fatRow.locator('button[data-action="medium-error"]').click();

    const failed = page.locator('#copies tbody tr[data-state="failed"] td.reason').first();
    await failed.waitFor({ timeout: 30_000 }).catch(async (e: unknown) => {
      await page.screenshot({ path: path.join(ART, 'dashboard-timeout.png'), fullPage: true });
      throw e;
    });
    const reason = (await failed.textContent()) ?? '';
    // A finished copy shows its average rate over its whole run, not the last second's.
    expect(await page.locator('#copies tbody tr[data-state="failed"] td.rate').first().textContent()).toMatch(/^avg \d+\.\d MiB\/s$/);
    expect(reason).toMatch(/COPY ABORTED 0Dh\/01h in segment \d+; source: MEDIUM ERROR 11h\/00h/);
    const job = page.locator('#jobs tbody tr[data-state="failed"]').first();
    await job.waitFor({ timeout: 30_000 });
    // The timeline lists the job, the copy starting and failing, newest first, live from the event stream.
    await expect.poll(async () => page.locator('#timeline li[data-kind="copy"]').allTextContents(), { timeout: 10_000 }).toEqual([
      expect.stringMatching(/ copy · router1\/datamover: copy list 1 failed: COPY ABORTED 0Dh\/01h/),
      expect.stringMatching(/ copy · router1\/datamover: copy list 1 started \(10 segments\)$/),
    ]);
    expect(await page.locator('#timeline li[data-kind="api"]').allTextContents()).toEqual(expect.arrayContaining([expect.stringMatching(/ api · api: job 1 started$/)]));
    // The copy links to the job that ran it and the backup that job recorded.
    await expect.poll(async () => page.locator('#copies tbody tr[data-state="failed"] td.links').first().textContent(), { timeout: 10_000 }).toBe('job 1 · backup 1');
    expect(await page.locator('#copies tbody tr[data-state="failed"] td.links a').first().getAttribute('href')).toBe('#job-1');
    // The cartridge the failed backup wrote to now shows the bytes it holds (from /api/vault).
    const fillText = async () => (await page.locator('#cartridges tbody tr[data-barcode="DM0001L3"] td.fill').textContent()) ?? '';
    await expect.poll(fillText, { timeout: 10_000 }).not.toMatch(/^ 0\.0 MiB/);
    const vault = (await (await fetch(`${base}/api/vault`)).json()) as { barcode: string; bytesUsed: number; capacity: number }[];
    const dm1 = vault.find((c) => c.barcode === 'DM0001L3')!;
    expect(dm1.bytesUsed).toBeGreaterThan(0);
    expect(await fillText()).toBe(` ${(dm1.bytesUsed / 1048576).toFixed(1)} MiB of 1024.0 MiB (${((dm1.bytesUsed / dm1.capacity) * 100).toFixed(1)}%)`);
    // Finished copies sit below the running ones in a collapsible <details> that stays as the user
    // left it across re-renders (the lists refresh every second).
    expect(await page.locator('#copies-finished tbody tr[data-state="failed"]').count()).toBe(1);
    expect(await page.locator('#copies-running tbody').textContent()).toBe('no copies running');
    expect(await page.locator('#copies-finished > summary').textContent()).toBe('1 finished copy');
    await page.click('#copies-finished > summary');
    expect(await page.locator('#copies-finished').getAttribute('open')).toBeNull();
    await page.waitForTimeout(1500);
    expect(await page.locator('#copies-finished').getAttribute('open')).toBeNull();
    expect(await page.locator('#copies-finished tbody tr[data-state="failed"]').isVisible()).toBe(false);
    await page.click('#copies-finished > summary');
    expect(await page.locator('#copies-finished tbody tr[data-state="failed"]').isVisible()).toBe(true);
    await page.screenshot({ path: path.join(ART, 'dashboard-failed.png'), fullPage: true });
    // The README's picture is this state of the default lab, regenerated on every run.
    await page.screenshot({ path: path.resolve('docs/dashboard.png'), fullPage: true });
    expect(errors).toEqual([]);
  }, 120_000);

  it('fits a 223-byte initiator IQN: the sessions table wraps it, the fabric box shortens it', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(base + '/');
    await page.waitForSelector('#conn.live');
    // A long initiator IQN (223 bytes, the most RFC 3720 allows, with no hyphen to break at) wraps
    // inside the sessions table instead of pushing it past its section.
    const longIqn = `iqn.2026-12.com.example:${'x'.repeat(223 - 24)}`;
    expect(longIqn.length).toBe(223);
    const node = `[...document.querySelectorAll('#fabric g.node')].find((g) => g.dataset.node === ${JSON.stringify(longIqn)})`;
    const discovery = await connect({ host: '127.0.0.1', port: target.port, initiatorName: longIqn, discovery: true, loginTimeoutMs: 5000 });
    try {
      await page.waitForSelector(`#sessions tbody td:text-is("${longIqn}")`, { timeout: 10_000 });
      // Nothing wider than the window: no sideways scrolling, the sessions section inside the page.
      // (A string: the test's TypeScript has no DOM types.)
      const fit = await page.evaluate<{ page: number; window: number; section: number }>(`({
        page: document.documentElement.scrollWidth,
        window: document.documentElement.clientWidth,
        section: document.querySelector('#sessions').closest('section').getBoundingClientRect().right,
      })`);
      expect(fit.page).toBeLessThanOrEqual(fit.window);
      expect(fit.section).toBeLessThanOrEqual(fit.window);
      // The fabric picture keeps the name inside its 160 px box (shortened, the whole name as a tooltip).
      // The login alone redraws it: no reload.
      await page.waitForFunction(`!!${node}`, undefined, { timeout: 10_000 });
      const drawn = await page.evaluate<{ label: string; title: string; textRight: number; boxRight: number }>(`(() => {
        const g = ${node};
        const t = g.querySelector('text'), r = g.querySelector('rect');
        return { label: t.textContent, title: g.querySelector('title').textContent, textRight: t.getBoundingClientRect().right, boxRight: r.getBoundingClientRect().right };
      })()`);
      expect(drawn.label).toMatch(/^iqn\.2026-12\.com\..+…$/);
      expect(longIqn.startsWith(drawn.label.slice(0, -1))).toBe(true);
      expect(drawn.textRight).toBeLessThanOrEqual(drawn.boxRight);
      expect(drawn.title).toBe(longIqn);
      // A lab host that logs in is no longer greyed; when it logs out it is greyed again, and the
      // unknown initiator that leaves drops off the picture, all without a reload.
      expect(await page.locator('#fabric g.node.away[data-node="app1"]').count()).toBe(1);
      const app1 = await connect({ host: '127.0.0.1', port: target.port, initiatorName: 'iqn.2026-11.dev.dmsim.hosts:app1', discovery: true, loginTimeoutMs: 5000 });
      await page.waitForSelector('#fabric g.node[data-node="app1"]:not(.away)', { timeout: 10_000 });
      expect(await page.locator('#fabric g.node[data-node="app1"] text').nth(1).textContent()).toBe('host · 1 port');
      await app1.logout();
      await page.waitForSelector('#fabric g.node.away[data-node="app1"]', { timeout: 10_000 });
      expect(await page.locator('#fabric g.node[data-node="app1"] text').nth(1).textContent()).toBe('host · not logged in');
    } finally {
      await discovery.close();
    }
    await page.waitForFunction(`!${node}`, undefined, { timeout: 10_000 });
    expect(errors).toEqual([]);
  }, 60_000);
});
