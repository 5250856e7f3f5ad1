import { ScsiLogicalUnit, type CommandDef } from '../../firmware-sim/lu/logical-unit.js';
import { commonCommands } from '../../firmware-sim/lu/common-commands.js';
import type { LuIdentity, ScsiResult } from '../../firmware-sim/router/task.js';
import { decodeSense, type SenseInfo } from '../../src/scsi/sense.js';

export function identity(name: string, deviceType = 0, n = 1): LuIdentity {
  return {
    deviceType,
    vendor: 'DMSIM',
    product: 'TESTLU',
    revision: '0001',
    serial: `SER${n}`,
    naa: Buffer.from(`60014050000000000000000000000${n.toString(16).padStart(3, '0')}`, 'hex'),
    name,
  };
}

/**
 * A minimal LU for router tests (until the disk LU lands): TEST UNIT READY, a READ(10) whose data
 * is its LUN name, a WRITE(10) classed 'write', and HOLD (vendor C0h) that waits until released or aborted.
 */
export class TestLu extends ScsiLogicalUnit {
  readonly held: Array<() => void> = [];
  writes = 0;

  constructor(name: string, n = 1, opts: { threePC?: boolean; deviceType?: number } = {}) {
    super(identity(name, opts.deviceType ?? 0, n), [...commonCommands(), ...testCommands()] as CommandDef[] as never);
    this.threePC = !!opts.threePC;
  }

  private readonly threePC: boolean;

  override inquiryFlags() {
    return { threePC: this.threePC };
  }
}

function testCommands(): CommandDef<TestLu>[] {
  return [
    { opcode: 0x00, name: 'TEST UNIT READY', cdbLength: 6, rsv: 'other', usage: [0xff, 0, 0, 0, 0, 0], handler: () => undefined },
    {
      opcode: 0x28,
      name: 'READ(10)',
      cdbLength: 10,
      rsv: 'read',
      handler: (c) => Buffer.from(c.lu.identity.name.padEnd(64, '.')),
    },
    {
      opcode: 0x2a,
      name: 'WRITE(10)',
      cdbLength: 10,
      rsv: 'write',
      handler: (c) => {
        c.lu.writes++;
      },
    },
    {
      opcode: 0xc0,
      name: 'HOLD',
      cdbLength: 6,
      rsv: 'read',
      handler: (c) =>
        new Promise<undefined>((resolve, reject) => {
          c.lu.held.push(() => resolve(undefined));
          c.signal?.addEventListener('abort', () => reject(c.signal!.reason as Error), { once: true });
        }),
    },
  ];
}

export interface Decoded {
  status: number;
  data: Buffer;
  sense?: SenseInfo;
}

export function decoded(r: ScsiResult): Decoded {
  return { status: r.status, data: r.dataIn ?? Buffer.alloc(0), ...(r.sense ? { sense: decodeSense(r.sense) } : {}) };
}

export const cdb = (hex: string): Buffer => Buffer.from(hex.replace(/\s+/g, ''), 'hex');
