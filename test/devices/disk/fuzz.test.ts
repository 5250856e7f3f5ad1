/** Random CDBs and parameter data never crash the disk or turn into HARDWARE ERROR: every answer is a standard one. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { makeDisk, type TestDisk } from './helpers.js';
import { decodeSense } from '../../../src/scsi/sense.js';

let d: TestDisk;
beforeAll(async () => {
  d = await makeDisk({ blocks: 256, removable: true });
});
afterAll(async () => {
  await d.cleanup();
});

describe('disk LU fuzz', () => {
  it('answers any CDB of a supported opcode with GOOD, RESERVATION CONFLICT or CHECK CONDITION carrying non-hardware sense', async () => {
    const opcodes = [...new Set(d.lu.commands.map((c) => c.opcode))];
    const warn = process.emitWarning;
    let internal = 0;
    process.emitWarning = (() => {
      internal++;
    }) as typeof process.emitWarning;
    try {
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom(...opcodes),
          fc.uint8Array({ minLength: 15, maxLength: 15 }),
          fc.option(fc.uint8Array({ minLength: 0, maxLength: 4096 }), { nil: undefined }),
          fc.boolean(),
          async (op, rest, out, smallCounts) => {
            const cdb = Buffer.from([op, ...rest]);
            // Keep transfer sizes plausible half the time so the handlers get past the range checks.
            if (smallCounts) {
              cdb.fill(0, 2, 6);
              cdb[1] = cdb[1]! & 0x1f;
              cdb[7] = 0;
              cdb[10] = 0;
              cdb[11] = 0;
              cdb[12] = 0;
            }
            const r = await d.exec(cdb, out ? Buffer.from(out) : undefined);
            // RESERVATION CONFLICT is a standard answer too (the common PR/RESERVE commands are in the table).
            expect([0x00, 0x02, 0x18]).toContain(r.status);
            if (r.status === 2) expect(decodeSense(r.sense!).key).not.toBe(4);
          },
        ),
        { numRuns: 1500 },
      );
    } finally {
      process.emitWarning = warn;
    }
    expect(internal).toBe(0);
    // The medium may have been ejected by a random START STOP UNIT: the LU still answers.
    await d.exec([0x1b, 0, 0, 0, 0x03, 0]);
    await d.exec([0x1e, 0, 0, 0, 0, 0]);
  });
});
