import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { TargetDevice } from '../../firmware-sim/router/target-device.js';
import { makeNexus } from '../../firmware-sim/router/task.js';
import { decodeSense } from '../../src/scsi/sense.js';
import { ScsiStatus } from '../../src/scsi/status.js';
import { TestLu } from './helpers.js';

/** Opcodes the router and the common command table answer. */
const OPCODES = [0x03, 0x12, 0x16, 0x17, 0x56, 0x57, 0x5e, 0x5f, 0xa0, 0xa3];

describe('router and common commands under arbitrary input', () => {
  it('every CDB / parameter list gets a SCSI answer: never a rejected dispatch, never HARDWARE ERROR', async () => {
    const dev = new TargetDevice({ name: 'f', wwnn: '20000000000000f0', ports: [{ wwpn: '50000000000000f1' }, { wwpn: '50000000000000f2' }] });
    dev.attach(0, new TestLu('f/lu0', 1));
    dev.attach(1, new TestLu('f/lu1', 2, { threePC: true }));
    const nexuses = [makeNexus('21000024ff0000f1', '50000000000000f1'), makeNexus('21000024ff0000f2', '50000000000000f2'), makeNexus('21000024ff0000f1', '50000000000000f2', 'iqn.x,i,0x023d00000001')];
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...OPCODES),
        fc.uint8Array({ minLength: 0, maxLength: 16 }),
        fc.option(fc.uint8Array({ minLength: 0, maxLength: 64 }), { nil: undefined }),
        fc.constantFrom(0, 1, 5, 0xc101),
        fc.nat(2),
        fc.integer({ min: 0, max: 4096 }),
        async (op, rest, dataOut, lun, ni, alloc) => {
          const cdb = Buffer.from([op, ...rest]);
          const r = await dev.dispatch({ nexus: nexuses[ni]!, lun, cdb, dataInLength: alloc, ...(dataOut ? { dataOut: Buffer.from(dataOut) } : {}) });
          expect([ScsiStatus.GOOD, ScsiStatus.CHECK_CONDITION, ScsiStatus.RESERVATION_CONFLICT]).toContain(r.status);
          if (r.dataIn) expect(r.dataIn.length).toBeLessThanOrEqual(alloc);
          if (r.status === ScsiStatus.CHECK_CONDITION) expect(decodeSense(r.sense!).key).not.toBe(0x04);
        },
      ),
      { numRuns: 3000 },
    );
  });
});
