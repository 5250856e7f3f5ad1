/**
 * Debian libiscsi-bin's everyday clients against the default lab through the dmsim target:
 * iscsi-ls -s lists every target node and LU with the right type, iscsi-inq describes every LU,
 * iscsi-readcapacity16 reports each disk's size and refuses the non-disk LUs.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireTools } from '../helpers/require-tool.js';
import { run } from './libiscsi.js';
import { startLabTarget, type LabTarget } from './lab-target.js';

const ok = requireTools('libiscsi tools conformance', 'iscsi-ls', 'iscsi-inq', 'iscsi-readcapacity16');

const TYPE_NAME: Record<number, string> = { 0x00: 'DIRECT_ACCESS', 0x01: 'SEQUENTIAL_ACCESS', 0x03: 'PROCESSOR' };

let lab: LabTarget;

/**
 * The size iscsi-ls prints for a disk: it multiplies the block length by READ CAPACITY(10)'s
 * RETURNED LOGICAL BLOCK ADDRESS (the last LBA, so one block short) and divides by 1024 with
 * integer division while the value exceeds 1024, appending k/M/G/T.
 */
function iscsiLsSize(blockSize: number, blocks: number): string {
  let size = blockSize * (blocks - 1);
  let pf = 0;
  while (pf < 4 && size > 1024) {
    size = Math.floor(size / 1024);
    pf++;
  }
  return `${size}${' kMGT'[pf]}`;
}

describe.skipIf(!ok)('libiscsi tools describe the default lab', () => {
  beforeAll(async () => {
    lab = await startLabTarget();
  }, 120_000);
  afterAll(async () => {
    await lab?.close();
  });

  it('iscsi-ls -s lists every target node and its LUs with type and size', async () => {
    const r = await run('iscsi-ls', ['-s', `iscsi://${lab.portal}`], 60_000);
    // iscsi-ls retries TEST UNIT READY only on UNIT ATTENTION 29h/00h (SCSI_SENSE_ASCQ_BUS_RESET);
    // the first-contact UA of a new I_T nexus must therefore be 29h/00h, as tgt does.
    expect(r.stderr, 'first-contact unit attention must be 29h/00h for iscsi-ls').not.toContain('0x2901');
    expect(r.code, r.stdout + r.stderr).toBe(0);
    for (const dev of new Set(lab.runtime.lus().map((l) => l.device))) {
      expect(r.stdout).toContain(`Target:${lab.iqn(dev)} Portal:${lab.portal},1`);
    }
    const blockOf = (device: string) => r.stdout.split('Target:').find((b) => b.startsWith(lab.iqn(device) + ' '));
    for (const l of lab.runtime.lus()) {
      const type = TYPE_NAME[l.lu.identity.deviceType]!;
      const block = blockOf(l.device);
      expect(block, `${l.name} target block`).toBeDefined();
      const line = block!.split('\n').find((x) => new RegExp(`^Lun:${l.lun}\\s`).test(x));
      expect(line, `${l.name} line in\n${block}`).toBeDefined();
      const size = l.kind === 'disk' ? ` (Size:${iscsiLsSize(l.disk!.blockSize, l.disk!.blocks)})` : '';
      expect(line!.trimEnd()).toBe(`Lun:${String(l.lun).padEnd(4)} Type:${type}${size}`);
    }
    // Nothing listed that the lab does not have.
    for (const dev of new Set(lab.runtime.lus().map((l) => l.device))) {
      const luns = blockOf(dev)!.split('\n').filter((x) => x.startsWith('Lun:'));
      expect(luns.length, blockOf(dev)).toBe(lab.runtime.lus().filter((l) => l.device === dev).length);
    }
  });

  it('iscsi-inq reports device type, vendor and product of every LU', async () => {
    for (const l of lab.runtime.lus()) {
      const r = await run('iscsi-inq', [lab.url(l.device, l.lun)], 30_000);
      expect(r.code, `${l.name}: ${r.stdout}${r.stderr}`).toBe(0);
      expect(r.stdout).toContain(`Peripheral Device Type:${TYPE_NAME[l.lu.identity.deviceType]}`);
      expect(r.stdout).toContain(`Vendor:${l.lu.identity.vendor.padEnd(8)}`);
      expect(r.stdout).toContain(`Product:${l.lu.identity.product.padEnd(16)}`);
    }
  });

  it('iscsi-inq reads the device identification VPD page (83h) with the LU’s NAA designator', async () => {
    const l = lab.runtime.lus().find((x) => x.kind === 'disk')!;
    const r = await run('iscsi-inq', ['-e', '1', '-c', String(0x83), lab.url(l.device, l.lun)], 30_000);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain('Page Code:(0x83) DEVICE_IDENTIFICATION');
    // iscsi-inq prints binary designators raw, so check their kinds and the T10 vendor id text.
    expect(r.stdout).toMatch(/Association:\(0\) LOGICAL_UNIT\nDesignator Type:\(3\) NAA/);
    expect(r.stdout).toContain(`Designator:[${l.lu.identity.vendor.padEnd(8)}${l.lu.identity.product}`);
  });

  it('iscsi-readcapacity16 gives each disk’s last LBA and block size; non-disks refuse it', async () => {
    for (const l of lab.runtime.lus()) {
      const r = await run('iscsi-readcapacity16', [lab.url(l.device, l.lun)], 30_000);
      if (l.kind === 'disk') {
        const blocks = l.disk!.blocks;
        expect(r.code, r.stdout + r.stderr).toBe(0);
        expect(r.stdout).toContain(`RETURNED LOGICAL BLOCK ADDRESS:${blocks - 1}`);
        expect(r.stdout).toContain(`LOGICAL BLOCK LENGTH IN BYTES:${l.disk!.blockSize}`);
      } else {
        expect(r.code, `${l.name} should not answer READ CAPACITY(16)`).not.toBe(0);
      }
    }
  });
});
