/**
 * Bad input always gets a standard answer: random CDBs (opcodes from the drive's table plus
 * random ones, random field bytes) and random parameter data never produce HARDWARE ERROR, a throw
 * or a hang, in every drive state.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { pattern, readyDrive, run, tmp, write6, wfm } from './helpers.js';
import { ScsiStatus } from '../../../src/scsi/status.js';

let t: ReturnType<typeof tmp>;
beforeAll(() => {
  t = tmp();
});
afterAll(() => t.done());

const OPCODES = [0x00, 0x01, 0x05, 0x08, 0x0a, 0x10, 0x11, 0x15, 0x19, 0x1a, 0x1b, 0x1e, 0x2b, 0x34, 0x44, 0x4d, 0x55, 0x5a, 0x91, 0x92];
const LEN: Record<number, number> = { 0x2b: 10, 0x34: 10, 0x44: 10, 0x4d: 10, 0x55: 10, 0x5a: 10, 0x91: 16, 0x92: 16 };

describe('tape drive under random CDBs', () => {
  it('answers every CDB with a standard status and never HARDWARE ERROR', async () => {
    const { drive } = await readyDrive(t.dir, { capacity: 1 << 20, earlyWarning: 4096 });
    for (let k = 0; k < 5; k++) await run(drive, write6(100 + k), { dataOut: pattern(100 + k, k) });
    await run(drive, wfm(1));
    const allowed = new Set<number>([ScsiStatus.GOOD, ScsiStatus.CHECK_CONDITION]);
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(fc.constantFrom(...OPCODES), fc.integer({ min: 0, max: 255 })),
        fc.uint8Array({ minLength: 15, maxLength: 15 }),
        fc.option(fc.uint8Array({ minLength: 0, maxLength: 600 })),
        async (op, rest, data) => {
          const len = LEN[op] ?? 6;
          const cdb = Buffer.from([op, ...rest.slice(0, len - 1)]);
          // Keep lengths sane often enough to reach the handlers' own checks.
          if (rest[0]! % 3 === 0) cdb[len - 1] = 0;
          const r = await run(drive, cdb, { dataOut: data ? Buffer.from(data) : undefined });
          expect(allowed.has(r.status)).toBe(true);
          if (r.status === ScsiStatus.CHECK_CONDITION) {
            expect(r.sense).toBeDefined();
            expect(r.sense!.key).not.toBe(0x04);
          }
          if (!drive.cartridge && !(await drive.eject())) {
            // An UNLOAD ejected it: put a fresh one back so the rest of the run exercises the medium.
            const c = await (await import('../../../firmware-sim/devices/tape/cartridge.js')).Cartridge.create(`${t.dir}/r${Math.random()}.tap`, { capacity: 1 << 20 });
            await drive.loadCartridge(c);
          }
        },
      ),
      { numRuns: 1500 },
    );
  }, 60_000);
});
