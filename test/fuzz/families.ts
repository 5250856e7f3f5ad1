/**
 * Fuzz families shared by `npm run fuzz` (at scale) and the bounded vitest run. Each family owns
 * its target (built once), an arbitrary, and a check that throws on a broken invariant:
 * - cdb:    every opcode (+service action) of every LU type through Fabric dispatch;
 * - xcopy:  EXTENDED COPY parameter lists (random, and mutated valid ones) to the data mover;
 * - iscsi:  raw PDUs over a real socket to the target, then a fresh login must still work;
 * - lab:    mutated lab files: a LabConfig or a LabError with paths, nothing else.
 */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import type { ScsiTask } from '../../firmware-sim/router/task.js';
import { arrayCopyPortWwpn } from '../../firmware-sim/lab/build.js';
import { defaultLabPath, parseLabText } from '../../firmware-sim/lab/load.js';
import { LabError } from '../../firmware-sim/lab/schema.js';
import { connect } from '../../src/iscsi/initiator/index.js';
import { serializePduToBuffer } from '../../src/iscsi/pdu/index.js';
import { startIscsiTarget, type IscsiTarget } from '../../src/iscsi/target/index.js';
import { decodeSense } from '../../src/scsi/sense.js';
import { ScsiStatus } from '../../src/scsi/status.js';
import { encodeParameterList, encodeXcopyCdb, type CscdDescriptor, type SegmentDescriptor } from '../../src/scsi/xcopy.js';
import { RawClient } from '../iscsi/raw-client.js';
import { buildFuzzLab, DATA_MOVER_PORT, hex, ROUTER_PORT, within, type FuzzLab } from './lab.js';

export interface Family<C, I> {
  name: string;
  setup(): Promise<C>;
  arbitrary(ctx: C): fc.Arbitrary<I>;
  check(ctx: C, input: I): Promise<void>;
  teardown(ctx: C): Promise<void>;
  /** Counters a family keeps (answers by kind), printed by the driver. */
  stats?(ctx: C): Record<string, number>;
}

const ANSWERS: ReadonlySet<number> = new Set([
  ScsiStatus.GOOD,
  ScsiStatus.CHECK_CONDITION,
  ScsiStatus.CONDITION_MET,
  ScsiStatus.BUSY,
  ScsiStatus.RESERVATION_CONFLICT,
  ScsiStatus.TASK_SET_FULL,
]);
const COMMAND_MS = 15_000;

class Violation extends Error {
  constructor(msg: string) {
    super(msg);
    this.name = 'Violation';
  }
}

/** Status must be a SCSI answer; CHECK CONDITION must carry decodable sense that is not 4/44/00. */
function checkAnswer(status: number, sense: Buffer | undefined, what: string): number | undefined {
  if (!ANSWERS.has(status)) throw new Violation(`${what}: status ${status.toString(16)}h`);
  if (status !== ScsiStatus.CHECK_CONDITION) return undefined;
  if (!sense?.length) throw new Violation(`${what}: CHECK CONDITION without sense`);
  const s = decodeSense(sense);
  if (s.key === 0x04 && s.asc === 0x44) throw new Violation(`${what}: HARDWARE ERROR 44/${s.ascq.toString(16)} (internal error)`);
  return s.key;
}

// ---------------------------------------------------------------------------------------------
// (a) CDBs

interface CdbInput {
  lu: number;
  cmd: number;
  bytes: number[];
  keepMask: boolean[];
  lengthDelta: number;
  dataOut: Uint8Array | undefined;
  alloc: number;
}

interface CdbCtx {
  lab: FuzzLab;
  counts: Record<string, number>;
  n: number;
}

/**
 * Undo what fuzz inputs leave behind that would make every later command answer the same way
 * (stopped disks, ejected tapes, reservations): more of the input space reaches the handlers.
 * Answers are not checked here; the inputs are the fuzz.
 */
async function housekeeping(ctx: CdbCtx): Promise<void> {
  const port = ctx.lab.rt.port('backup1');
  const unregister = Buffer.alloc(24);
  for (const lu of ctx.lab.lus) {
    const cmds = [
      Buffer.from([0x1b, 0, 0, 0, 0x01, 0]),
      Buffer.from([0x17, 0, 0, 0, 0, 0]),
      Buffer.from([0x5f, 0x06, 0, 0, 0, 0, 0, 0, 24, 0]),
    ];
    for (const cdb of cmds) await within(port.command(lu.targetPort, lu.lun, cdb, cdb[0] === 0x5f ? { dataOut: unregister } : {}), COMMAND_MS, () => `housekeeping ${hex(cdb)}`);
  }
}

export const cdbFamily: Family<CdbCtx, CdbInput> = {
  name: 'cdb',
  async setup() {
    return { lab: await buildFuzzLab('dmsim-fuzz-cdb-'), counts: {}, n: 0 };
  },
  arbitrary(ctx) {
    const n = ctx.lab.lus.length;
    return fc.record({
      lu: fc.nat(n - 1),
      cmd: fc.nat(255),
      // Mostly zero bytes: a CDB of zeros plus a few set fields is what gets past the field checks.
      bytes: fc.array(
        fc.oneof({ weight: 5, arbitrary: fc.constant(0) }, { weight: 2, arbitrary: fc.nat(255) }, { weight: 1, arbitrary: fc.constantFrom(1, 0x80, 0xff) }),
        { minLength: 32, maxLength: 32 },
      ),
      keepMask: fc.array(fc.boolean(), { minLength: 32, maxLength: 32 }),
      lengthDelta: fc.oneof({ weight: 8, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: -16, max: 8 }) }),
      dataOut: fc.option(fc.oneof(fc.uint8Array({ maxLength: 600 }), fc.uint8Array({ minLength: 4096, maxLength: 4096 })), { nil: undefined }),
      alloc: fc.oneof(fc.constant(0), fc.nat(600), fc.constant(65536)),
    });
  },
  async check(ctx, inp) {
    if (++ctx.n % 200 === 0) await housekeeping(ctx);
    const lu = ctx.lab.lus[inp.lu]!;
    const def = lu.commands[inp.cmd % lu.commands.length]!;
    const len = Math.max(0, def.cdbLength + inp.lengthDelta);
    const cdb = Buffer.alloc(len);
    for (let i = 0; i < len; i++) {
      const b = inp.bytes[i] ?? 0;
      // Mostly keep to bits the command looks at, so the handler runs instead of the reserved-bit check.
      cdb[i] = inp.keepMask[i] && def.usage ? b & (def.usage[i] ?? 0) : b;
    }
    if (len > 0) cdb[0] = def.opcode;
    if (len > 1 && def.serviceAction !== undefined) cdb[1] = (cdb[1]! & 0xe0) | def.serviceAction;
    // WRITE FILEMARKS with a 24-bit count really writes up to 16M filemarks (seconds each, and the
    // tape image grows): legitimate, but it would starve the run, so the count stays below 256.
    if (def.name.startsWith('WRITE FILEMARKS') && len >= 4) cdb[2] = cdb[3] = 0;
    const port = ctx.lab.rt.port('backup1');
    const what = () => `${lu.name} ${def.name} cdb=${hex(cdb)} dataOut=${inp.dataOut?.length ?? '-'} alloc=${inp.alloc}`;
    const r = await within(
      port.command(lu.targetPort, lu.lun, cdb, { dataInLength: inp.alloc, ...(inp.dataOut ? { dataOut: Buffer.from(inp.dataOut) } : {}) }),
      COMMAND_MS,
      what,
    );
    const key = checkAnswer(r.status, r.sense, what());
    if (r.dataIn && r.dataIn.length > inp.alloc) throw new Violation(`${what()}: ${r.dataIn.length} bytes of data-in for allocation ${inp.alloc}`);
    const k = `${lu.name.split('/')[1]}:${r.status === 2 ? `cc${key!.toString(16)}` : r.status.toString(16)}`;
    ctx.counts[k] = (ctx.counts[k] ?? 0) + 1;
  },
  async teardown(ctx) {
    await ctx.lab.close();
  },
  stats: (ctx) => ctx.counts,
};

// ---------------------------------------------------------------------------------------------
// (b) EXTENDED COPY parameter lists

const WRITE_OPCODES: ReadonlySet<number> = new Set([0x0a, 0x2a, 0xaa, 0x8a, 0x10, 0x19, 0x41, 0x93, 0x42, 0x04, 0x2e, 0x8e, 0x89, 0x3b]);

interface XcopyCtx {
  lab: FuzzLab;
  /** Write-type commands the copy ports sent during the current input. */
  writes: string[];
  copyPorts: Set<string>;
  designators: Buffer[];
  vectors: Buffer[];
  counts: Record<string, number>;
  untap: () => void;
}

type Mutation = { kind: 'flip'; at: number; value: number } | { kind: 'cut'; at: number } | { kind: 'grow'; bytes: number[] } | { kind: 'len'; at: number; value: number };

interface XcopyInput {
  base: { kind: 'built'; cscds: Array<{ lu: number; type: number; pdt: number; blockLength: number; junk: boolean; nul: boolean }>; segments: SegmentDescriptor[] } | { kind: 'vector'; n: number } | { kind: 'random'; bytes: Uint8Array };
  mutations: Mutation[];
  listId: number;
  listIdUsage: number;
  lengthMode: 'exact' | 'short' | 'long';
}

const smallLba = fc.oneof({ weight: 6, arbitrary: fc.nat(4096) }, { weight: 1, arbitrary: fc.constantFrom(131071, 131072, 0xffffffff, 2 ** 40) });
const smallBlocks = fc.oneof({ weight: 6, arbitrary: fc.nat(8) }, { weight: 1, arbitrary: fc.constantFrom(0xffff, 4096) });

function segmentArb(): fc.Arbitrary<SegmentDescriptor> {
  const idx = fc.oneof({ weight: 6, arbitrary: fc.nat(3) }, { weight: 1, arbitrary: fc.constantFrom(0xc000, 0xc001, 0xffff, 0x7ff) });
  return fc.oneof(
    fc.record({ type: fc.constantFrom(0x00, 0x01, 0x0b, 0x0c), src: idx, dst: idx, streamTransferLength: fc.constantFrom(0, 512, 4096, 65536, 100), blocks: smallBlocks, lba: smallLba, cat: fc.boolean() }),
    fc.record({ type: fc.constantFrom(0x02, 0x0d), src: idx, dst: idx, blocks: smallBlocks, srcLba: smallLba, dstLba: smallLba, dc: fc.boolean(), cat: fc.boolean() }),
    fc.record({ type: fc.constantFrom(0x03, 0x0e), src: idx, dst: idx, srcTransferLength: fc.constantFrom(0, 512, 4096), dstTransferLength: fc.constantFrom(0, 512, 4096), byteCount: fc.nat(8192) }),
    fc.record({ type: fc.constantFrom(0x04), src: idx, dst: idx, streamTransferLength: fc.constantFrom(0, 512), inlineOffset: fc.nat(64), byteCount: fc.nat(1024) }),
    fc.record({ type: fc.constantFrom(0x06, 0x0f), src: idx, dst: idx, streamTransferLength: fc.constantFrom(0, 512), byteCount: fc.nat(8192) }),
    fc.record({ type: fc.constantFrom(0x08, 0x0a), src: idx, dst: idx, streamTransferLength: fc.constantFrom(0, 512), byteCount: fc.nat(8192), srcLba: smallLba, dstLba: smallLba, lba: smallLba, srcByteOffset: fc.nat(511), dstByteOffset: fc.nat(511), byteOffset: fc.nat(511) }),
    fc.record({ type: fc.constantFrom(0x07), src: idx, tur: fc.boolean() }),
    fc.record({ type: fc.constantFrom(0x10), dst: idx, count: fc.nat(3), immed: fc.boolean(), wsmk: fc.boolean() }),
    fc.record({ type: fc.constantFrom(0x11, 0x12, 0x13), dst: idx, src: idx, code: fc.nat(3), count: fc.integer({ min: -3, max: 3 }) }),
  ) as fc.Arbitrary<SegmentDescriptor>;
}

function applyMutations(buf: Buffer, muts: Mutation[]): Buffer {
  let b = Buffer.from(buf);
  for (const m of muts) {
    if (!b.length && m.kind !== 'grow') continue;
    if (m.kind === 'flip') b[m.at % b.length] = m.value;
    else if (m.kind === 'cut') b = b.subarray(0, m.at % (b.length + 1));
    else if (m.kind === 'grow') b = Buffer.concat([b, Buffer.from(m.bytes)]);
    // The list's own length fields (CSCD list length at 2, segment list length at 8, inline at 12).
    else if (b.length >= 16) b.writeUInt16BE(m.value & 0xffff, [2, 10, 14][m.at % 3]!);
  }
  return b;
}

/** The golden lists, their designators swapped for two real lab LUs (a disk and a tape) so they can run. */
function loadVectors(disk: Buffer, tape: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (const f of ['backup-block-to-stream', 'restore-locate-stream-to-block', 'tar-inline-block-inline']) {
    const v = JSON.parse(readFileSync(new URL(`../../fixtures/vectors/xcopy/${f}.json`, import.meta.url), 'utf8')) as { list: string };
    out.push(Buffer.from(v.list.replaceAll('6001234567890abc0000000000000001', disk.toString('hex')).replaceAll('6001234567890abc0000000000000002', tape.toString('hex')), 'hex'));
  }
  return out;
}

export const xcopyFamily: Family<XcopyCtx, XcopyInput> = {
  name: 'xcopy',
  async setup() {
    const lab = await buildFuzzLab('dmsim-fuzz-xcopy-');
    const names = ['array1/fat', 'array1/scratch', 'router1/tape0', 'router1/tape1', 'array1/blank'];
    const designators = names.map((n) => lab.rt.lu(n)!.lu.identity.naa);
    const ctx: XcopyCtx = {
      lab,
      writes: [],
      copyPorts: new Set([DATA_MOVER_PORT, arrayCopyPortWwpn('array1').replaceAll(':', '').toLowerCase()]),
      designators,
      vectors: loadVectors(designators[0]!, designators[2]!),
      counts: {},
      untap: () => {},
    };
    ctx.untap = lab.rt.fabric.onTask((task: ScsiTask, result) => {
      if (ctx.copyPorts.has(task.nexus.initiatorPort) && WRITE_OPCODES.has(task.cdb[0]!) && result.status === 0) ctx.writes.push(`${task.lun}:${hex(task.cdb)}`);
    });
    // Tapes ready (load UAs consumed) so copies get past TEST UNIT READY.
    const port = lab.rt.port('backup1');
    for (const lun of [0, 1, 2]) for (let i = 0; i < 4; i++) await port.command(ROUTER_PORT, lun, Buffer.alloc(6));
    return ctx;
  },
  arbitrary(ctx) {
    const cscd = fc.record({
      lu: fc.nat(ctx.designators.length),
      type: fc.oneof({ weight: 8, arbitrary: fc.constant(0xe4) }, { weight: 1, arbitrary: fc.constantFrom(0xe0, 0xe1, 0xe2, 0xe3, 0xe5, 0xe6, 0xe7, 0xe8, 0xe9, 0xea, 0xeb, 0x00, 0xff) }),
      pdt: fc.oneof({ weight: 8, arbitrary: fc.constant(-1) }, { weight: 1, arbitrary: fc.nat(31) }),
      blockLength: fc.oneof({ weight: 8, arbitrary: fc.constant(-1) }, { weight: 1, arbitrary: fc.constantFrom(0, 1, 4096, 0xffffff) }),
      junk: fc.boolean(),
      nul: fc.boolean(),
    });
    const mutation: fc.Arbitrary<Mutation> = fc.oneof(
      fc.record({ kind: fc.constant('flip' as const), at: fc.nat(200), value: fc.nat(255) }),
      fc.record({ kind: fc.constant('cut' as const), at: fc.nat(200) }),
      fc.record({ kind: fc.constant('grow' as const), bytes: fc.array(fc.nat(255), { maxLength: 40 }) }),
      fc.record({ kind: fc.constant('len' as const), at: fc.nat(2), value: fc.oneof(fc.nat(256), fc.constant(0xffff)) }),
    );
    return fc.record({
      base: fc.oneof(
        { weight: 6, arbitrary: fc.record({ kind: fc.constant('built' as const), cscds: fc.array(cscd, { minLength: 0, maxLength: 4 }), segments: fc.array(segmentArb(), { minLength: 0, maxLength: 3 }) }) },
        { weight: 2, arbitrary: fc.record({ kind: fc.constant('vector' as const), n: fc.nat(ctx.vectors.length - 1) }) },
        { weight: 1, arbitrary: fc.record({ kind: fc.constant('random' as const), bytes: fc.uint8Array({ maxLength: 256 }) }) },
      ),
      mutations: fc.oneof({ weight: 2, arbitrary: fc.constant([]) }, { weight: 3, arbitrary: fc.array(mutation, { minLength: 1, maxLength: 4 }) }),
      listId: fc.nat(255),
      listIdUsage: fc.constantFrom(0, 2, 3, 3, 3),
      lengthMode: fc.constantFrom('exact' as const, 'exact' as const, 'exact' as const, 'short' as const, 'long' as const),
    }) as fc.Arbitrary<XcopyInput>;
  },
  async check(ctx, inp) {
    let list: Buffer;
    if (inp.base.kind === 'random') list = Buffer.from(inp.base.bytes);
    else if (inp.base.kind === 'vector') list = ctx.vectors[inp.base.n]!;
    else {
      const cscds: CscdDescriptor[] = inp.base.cscds.map((c) => {
        const real = c.lu < ctx.designators.length && !c.junk;
        const value = real ? ctx.designators[c.lu]! : Buffer.from('6001234567890abcffffffffffff' + c.lu.toString(16).padStart(4, '0'), 'hex');
        const isTape = c.lu === 2 || c.lu === 3;
        const pdt = c.pdt >= 0 ? c.pdt : isTape ? 1 : 0;
        return {
          type: c.type,
          luIdType: 0,
          nul: c.nul && c.junk,
          pdt,
          relativeInitiatorPort: 0,
          designator: { codeSet: 1, association: 0, designatorType: 3, value },
          lun: Buffer.alloc(8),
          nPortName: '500d5a0000010001',
          nPortId: 0x010203,
          params: isTape ? { kind: 'stream', pad: false, fixed: false, blockLength: c.blockLength >= 0 ? c.blockLength : 0 } : { kind: 'block', pad: false, blockLength: c.blockLength >= 0 ? c.blockLength : 512 },
        };
      });
      try {
        list = encodeParameterList({ header: { listId: inp.listId, str: false, listIdUsage: inp.listIdUsage, priority: 0 }, cscds, segments: inp.base.segments, inline: Buffer.alloc(64, 0x5a) });
      } catch {
        // The encoder refuses what it cannot write (e.g. out-of-range fields): the random bytes stand in.
        list = Buffer.from(inp.base.segments.flatMap((s) => [s.type, s.src ?? 0, s.dst ?? 0]));
      }
    }
    list = applyMutations(list, inp.mutations);
    const plLen = inp.lengthMode === 'exact' ? list.length : inp.lengthMode === 'short' ? Math.max(0, list.length - 7) : list.length + 9;
    const port = ctx.lab.rt.port('backup1');
    ctx.writes.length = 0;
    const what = () => `xcopy list=${hex(list)} plLen=${plLen}`;
    const r = await within(port.command(ROUTER_PORT, 0, encodeXcopyCdb({ parameterListLength: plLen }), { dataOut: list }), COMMAND_MS, what);
    const key = checkAnswer(r.status, r.sense, what());
    // A refused list (ILLEGAL REQUEST) or a copy refused for reservations/busy must not have written anything.
    if ((key === 0x05 || (r.status !== 0 && r.status !== 2)) && ctx.writes.length) throw new Violation(`${what()}: refused (${r.status}/${key}) after writing ${ctx.writes.join(' ')}`);
    const k = r.status === 2 ? `cc${key!.toString(16)}${ctx.writes.length ? '+moved' : ''}` : r.status.toString(16);
    ctx.counts[k] = (ctx.counts[k] ?? 0) + 1;
  },
  async teardown(ctx) {
    ctx.untap();
    await ctx.lab.close();
  },
  stats: (ctx) => ctx.counts,
};

// ---------------------------------------------------------------------------------------------
// (c) iSCSI PDUs over a socket

const INITIATOR_OPCODES = [0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x10, 0x1c, 0x1d, 0x1e, 0x20, 0x21, 0x3f];

interface PduSpec {
  opcode: number;
  immediate: boolean;
  bhs: Uint8Array;
  ahsWords: number;
  declaredData: number;
  data: Uint8Array;
  cmdSnMode: 'in' | 'old' | 'far' | 'random';
  corruptDigest: boolean;
}

interface IscsiInput {
  login: 'none' | 'array' | 'router' | 'digests';
  pdus: PduSpec[];
}

interface IscsiCtx {
  lab: FuzzLab;
  target: IscsiTarget;
  counts: Record<string, number>;
  isid: number;
}

const BACKUP_IQN = 'iqn.2026-11.dev.dmsim.hosts:backup1';

export const iscsiFamily: Family<IscsiCtx, IscsiInput> = {
  name: 'iscsi',
  async setup() {
    const lab = await buildFuzzLab('dmsim-fuzz-iscsi-');
    const target = await startIscsiTarget({ dispatcher: lab.rt.fabric, directory: lab.rt.directory, host: '127.0.0.1', port: 0 });
    return { lab, target, counts: {}, isid: 1 };
  },
  arbitrary() {
    const pdu = fc.record({
      opcode: fc.constantFrom(...INITIATOR_OPCODES),
      immediate: fc.boolean(),
      bhs: fc.uint8Array({ minLength: 48, maxLength: 48 }),
      ahsWords: fc.oneof({ weight: 6, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.nat(4) }),
      declaredData: fc.oneof({ weight: 3, arbitrary: fc.constant(-1) }, { weight: 1, arbitrary: fc.constantFrom(0, 1, 47, 8192, 0xffffff) }),
      data: fc.oneof(fc.constant(new Uint8Array(0)), fc.uint8Array({ maxLength: 300 })),
      cmdSnMode: fc.constantFrom('in' as const, 'in' as const, 'old' as const, 'far' as const, 'random' as const),
      corruptDigest: fc.boolean(),
    });
    return fc.record({ login: fc.constantFrom('none' as const, 'array' as const, 'router' as const, 'digests' as const), pdus: fc.array(pdu, { minLength: 1, maxLength: 4 }) });
  },
  async check(ctx, inp) {
    const c = await RawClient.connect(ctx.target.port);
    const what = () => `iscsi login=${inp.login} pdus=${JSON.stringify(inp.pdus.map((p) => ({ ...p, bhs: hex(p.bhs), data: hex(p.data) })))}`;
    try {
      c.isid = Buffer.from([0x80, 0, 0, 0, (ctx.isid >> 8) & 0xff, ctx.isid & 0xff]);
      ctx.isid = (ctx.isid + 1) & 0xffff;
      let digests = false;
      if (inp.login !== 'none') {
        const node = ctx.lab.rt.directory.targetNodes().find((t) => t.iqn.endsWith(inp.login === 'router' ? ':router1' : ':array1'))!;
        const extra: Array<[string, string]> = inp.login === 'digests' ? [['HeaderDigest', 'CRC32C'], ['DataDigest', 'CRC32C']] : [];
        const r = await c.login(node.iqn, extra, BACKUP_IQN);
        if (r.bhs.statusClass !== 0) throw new Violation(`${what()}: login refused ${r.bhs.statusClass}`);
        if (inp.login === 'digests') {
          c.headerDigest = true;
          c.dataDigest = true;
          digests = true;
        }
      }
      for (const p of inp.pdus) {
        const bhs = Buffer.from(p.bhs);
        bhs[0] = (p.immediate ? 0x40 : 0) | p.opcode;
        bhs[4] = p.ahsWords;
        const dsl = p.declaredData >= 0 ? p.declaredData : p.data.length;
        bhs.writeUIntBE(dsl, 5, 3);
        const sn = p.cmdSnMode === 'in' ? c.cmdSN : p.cmdSnMode === 'old' ? c.cmdSN - 5 : p.cmdSnMode === 'far' ? c.cmdSN + 100000 : bhs.readUInt32BE(24);
        bhs.writeUInt32BE(sn >>> 0, 24);
        if (p.cmdSnMode === 'in' && !p.immediate) c.cmdSN = (c.cmdSN + 1) >>> 0;
        bhs.writeUInt32BE(c.expStatSN, 28);
        const ahs = Buffer.alloc(p.ahsWords * 4, 0x11);
        const data = Buffer.from(p.data);
        let wire: Buffer;
        if (p.declaredData >= 0) {
          // Lying length: the header says one thing, the bytes on the wire another.
          wire = Buffer.concat([bhs, ahs, data]);
        } else {
          wire = serializePduToBuffer(bhs, data, p.ahsWords ? ahs : undefined, { headerDigest: digests, dataDigest: digests });
          if (digests && p.corruptDigest) wire[48 + ahs.length] = wire[48 + ahs.length]! ^ 0xff;
        }
        c.sendRaw(wire);
      }
      // Whatever came back: PDUs (Reject, responses), a close, or silence (e.g. ignored out-of-window CmdSN).
      const first = await c.next(300);
      const outcome = first ? `pdu${first.bhs.opcode.toString(16)}` : c.closed ? 'closed' : 'silent';
      ctx.counts[outcome] = (ctx.counts[outcome] ?? 0) + 1;
    } finally {
      c.close();
    }
    // The target keeps serving: a fresh, well-formed session logs in and gets a SCSI answer.
    const node = ctx.lab.rt.directory.targetNodes().find((t) => t.iqn.endsWith(':array1'))!;
    const s = await within(connect({ host: '127.0.0.1', port: ctx.target.port, initiatorName: BACKUP_IQN, targetName: node.iqn, loginTimeoutMs: 5000 }), 6000, () => `fresh login after ${what()}`);
    try {
      const r = await within(s.command({ lun: 0, cdb: Buffer.alloc(6) }), 5000, () => `TUR after ${what()}`);
      checkAnswer(r.status, r.sense, `TUR after ${what()}`);
    } finally {
      await s.close().catch(() => s.destroy());
    }
  },
  async teardown(ctx) {
    await ctx.target.close();
    await ctx.lab.close();
  },
  stats: (ctx) => ctx.counts,
};

// ---------------------------------------------------------------------------------------------
// (d) lab files

type LabMutation = { path: number; op: 'delete' | 'set'; value: unknown } | { op: 'text'; at: number; text: string };

interface LabCtx {
  text: string;
  counts: Record<string, number>;
}

const jsonValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.integer(),
  fc.double(),
  fc.string({ maxLength: 12 }),
  fc.constantFrom('64MiB', '-1', '0', '1GiB', '../../etc/passwd', '/tmp/x', 'array1/fat', '21:00:00:24:ff:00:01:01', 'zz'),
  fc.array(fc.string({ maxLength: 4 }), { maxLength: 3 }),
  fc.constant({}),
);

/** Every (container, key) in the lab document, in a stable order, so a mutation can name one by index. */
function slots(doc: unknown): Array<{ parent: Record<string, unknown> | unknown[]; key: string | number }> {
  const out: Array<{ parent: Record<string, unknown> | unknown[]; key: string | number }> = [];
  const walk = (v: unknown) => {
    if (Array.isArray(v)) {
      v.forEach((x, i) => {
        out.push({ parent: v, key: i });
        walk(x);
      });
    } else if (v && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        out.push({ parent: v as Record<string, unknown>, key: k });
        walk(x);
      }
    }
  };
  walk(doc);
  return out;
}

export const labFamily: Family<LabCtx, LabMutation[]> = {
  name: 'lab',
  async setup() {
    return { text: readFileSync(defaultLabPath, 'utf8'), counts: {} };
  },
  arbitrary() {
    return fc.array(
      fc.oneof(
        { weight: 5, arbitrary: fc.record({ path: fc.nat(400), op: fc.constantFrom('delete' as const, 'set' as const), value: jsonValue }) },
        { weight: 1, arbitrary: fc.record({ op: fc.constant('text' as const), at: fc.nat(5000), text: fc.string({ maxLength: 3 }) }) },
      ),
      { minLength: 1, maxLength: 4 },
    );
  },
  async check(ctx, muts) {
    let text = ctx.text;
    const structural = muts.filter((m): m is Extract<LabMutation, { path: number }> => m.op !== 'text');
    if (structural.length) {
      const doc = JSON.parse(text) as unknown;
      for (const m of structural) {
        const s = slots(doc);
        const slot = s[m.path % s.length]!;
        if (m.op === 'delete' && Array.isArray(slot.parent)) slot.parent.splice(slot.key as number, 1);
        else if (m.op === 'delete') delete (slot.parent as Record<string, unknown>)[slot.key as string];
        else (slot.parent as Record<string | number, unknown>)[slot.key] = m.value;
      }
      text = JSON.stringify(doc);
    }
    for (const m of muts) if (m.op === 'text') text = text.slice(0, m.at % (text.length + 1)) + m.text + text.slice(m.at % (text.length + 1));
    try {
      parseLabText(text, 'fuzz');
      ctx.counts.valid = (ctx.counts.valid ?? 0) + 1;
    } catch (e) {
      if (!(e instanceof LabError)) throw new Violation(`lab text ${JSON.stringify(text)}: ${(e as Error).stack}`);
      if (!e.issues.length || e.issues.some((i) => typeof i.path !== 'string' || !i.path.length)) throw new Violation(`LabError without paths: ${e.message}`);
      ctx.counts.labError = (ctx.counts.labError ?? 0) + 1;
    }
  },
  async teardown() {},
  stats: (ctx) => ctx.counts,
};

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- heterogeneous family list; each is used with its own context type
export const FAMILIES: Array<Family<any, any>> = [cdbFamily, xcopyFamily, iscsiFamily, labFamily];

