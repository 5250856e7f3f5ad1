/**
 * `npm run bench:remote`: the data mover as an iSCSI initiator (issue 17), against baselines in the
 * same run.
 *
 * 1. tgtd disk LU → dmsim tape through the router's data mover (EXTENDED COPY naming the tgtd LU by
 *    its VPD 83h NAA, 64 KiB records, 256 segments per command), against `qemu-img convert` of the
 *    same tgtd LU to a file on tmpfs: both read the same bytes from the same tgtd over loopback.
 * 2. dmsim array process → dmsim router process (`--serve`, the data mover reading array1 over
 *    iSCSI) against the same copy with one process serving both.
 *
 * Prints medians with min–max per case and the throughput ratios. Environment: BENCH_MIB (default
 * 256, the tgtd LU size; case 2 copies array1/fat's 64 MiB), BENCH_ROUNDS (3).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { connect, type IscsiSession } from '../src/iscsi/initiator/index.js';
import { clearUnitAttentions, inquiryVpd } from '../src/iscsi/initiator/scsi.js';
import { decodeDeviceIdPage, DesignatorType, VpdPage } from '../src/scsi/inquiry.js';
import { ScsiStatus } from '../src/scsi/status.js';
import { encodeRewind } from '../src/scsi/tape.js';
import { CscdType, encodeParameterList, encodeXcopyCdb, SegmentType, type CscdDescriptor, type SegmentDescriptor } from '../src/scsi/xcopy.js';
import { freePort, startTgtd } from '../test/helpers/tgtd.js';

const run = promisify(execFile);
const MIB = Number(process.env.BENCH_MIB ?? 256);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const base = existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
const RECORD = 64 * 1024;
const PER_COMMAND = 256;
const CLIENT = 'iqn.2026-11.dev.dmsim.bench:remote';
const root = new URL('../', import.meta.url).pathname;

interface Proc {
  child: ChildProcess;
  port: number;
}

async function router(args: string[]): Promise<Proc> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'src/cli/main.ts'), 'router', '--api', 'off', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`router did not start: ${out}`)), 60_000);
    const onData = (c: Buffer) => {
      out += c.toString();
      const m = /"iscsi":"[^"]*:(\d+)"[^\n]*"msg":"router ready"/.exec(out);
      if (m) {
        clearTimeout(t);
        resolve({ child, port: Number(m[1]) });
      }
    };
    child.stderr!.on('data', onData);
    child.once('exit', (c) => reject(new Error(`router exited ${c}: ${out}`)));
  });
}

async function stop(p: Proc): Promise<void> {
  if (p.child.exitCode !== null) return;
  const gone = new Promise((r) => p.child.once('exit', r));
  p.child.kill('SIGKILL');
  await gone;
}

async function naaOf(s: IscsiSession, lun: number): Promise<Buffer> {
  const d = decodeDeviceIdPage(await inquiryVpd(s, lun, VpdPage.DEVICE_ID)).find((x) => x.type === DesignatorType.NAA && x.association === 0);
  if (!d) throw new Error(`LUN ${lun} has no NAA designator`);
  return d.value;
}

const e4 = (naa: Buffer, params: CscdDescriptor['params'], pdt: number): CscdDescriptor => ({
  type: CscdType.IDENTIFICATION,
  luIdType: 0,
  nul: false,
  pdt,
  relativeInitiatorPort: 0,
  designator: { codeSet: 1, association: 0, designatorType: 3, value: naa },
  params,
});

/** bytes of the disk onto the tape at LUN 1 of `s` (rewound first), as EXTENDED COPY commands to LUN 0; ms. */
async function diskToTape(s: IscsiSession, diskNaa: Buffer, tapeNaa: Buffer, bytes: number): Promise<number> {
  await clearUnitAttentions(s, 0);
  await clearUnitAttentions(s, 1);
  if ((await s.command({ lun: 1, cdb: encodeRewind() })).status !== ScsiStatus.GOOD) throw new Error('REWIND failed');
  const records = bytes / RECORD;
  const t0 = performance.now();
  for (let first = 0; first < records; first += PER_COMMAND) {
    const segments: SegmentDescriptor[] = [];
    for (let i = first; i < Math.min(records, first + PER_COMMAND); i++)
      segments.push({ type: SegmentType.BLOCK_TO_STREAM, cat: false, src: 0, dst: 1, streamTransferLength: RECORD, blocks: RECORD / 512, lba: (i * RECORD) / 512 });
    const list = encodeParameterList({
      header: { listId: 0, str: false, listIdUsage: 3, priority: 0 },
      cscds: [e4(diskNaa, { kind: 'block', pad: false, blockLength: 512 }, 0), e4(tapeNaa, { kind: 'stream', pad: false, fixed: false, blockLength: 0 }, 1)],
      segments,
      inline: Buffer.alloc(0),
    });
    const r = await s.command({ lun: 0, cdb: encodeXcopyCdb({ parameterListLength: list.length }), dataOut: list });
    if (r.status !== ScsiStatus.GOOD) throw new Error(`EXTENDED COPY failed: ${r.sense?.toString('hex')}`);
  }
  return performance.now() - t0;
}

function stats(xs: number[]): { median: number; min: number; max: number } {
  const s = [...xs].sort((a, b) => a - b);
  return { median: s[Math.floor(s.length / 2)]!, min: s[0]!, max: s[s.length - 1]! };
}

const mibs = (bytes: number, ms: number) => bytes / 1048576 / (ms / 1000);
function line(label: string, bytes: number, ms: number[]): number {
  const st = stats(ms);
  console.log(`${label.padEnd(46)} ${mibs(bytes, st.median).toFixed(0).padStart(5)} MiB/s  median ${st.median.toFixed(0)} ms (${st.min.toFixed(0)}–${st.max.toFixed(0)})`);
  return mibs(bytes, st.median);
}

function defaultLab(extra: (lab: Record<string, unknown> & { arrays: Array<Record<string, unknown>> }) => void): string {
  const lab = JSON.parse(readFileSync(path.join(root, 'fixtures/labs/default.json'), 'utf8')) as Record<string, unknown> & { arrays: Array<Record<string, unknown>> };
  delete lab.$schema;
  // Cartridges large enough for the copies.
  for (const r of lab.routers as Array<{ vault: Array<{ capacity: string }> }>) for (const c of r.vault) c.capacity = '4GiB';
  extra(lab);
  const file = path.join(mkdtempSync(path.join(base, 'bench-remote-lab-')), 'lab.json');
  writeFileSync(file, JSON.stringify(lab));
  return file;
}

async function tgtdCase(): Promise<void> {
  const bytes = MIB << 20;
  const tgtd = await startTgtd({ sizeBytes: bytes, dir: base });
  writeFileSync(tgtd.backingFiles[0]!, randomBytes(bytes));
  const lab = defaultLab((l) => (l.remoteTargets = [{ name: 'tgt1', portal: `${tgtd.host}:${tgtd.port}`, iqn: tgtd.targetName }]));
  const data = mkdtempSync(path.join(base, 'bench-remote-data-'));
  const r = await router(['--lab', lab, '--iscsi', '127.0.0.1:0', '--data', data, '--log-level', 'info']);
  const out = path.join(base, `bench-remote-${process.pid}.raw`);
  try {
    const toTgt = await connect({ host: tgtd.host, port: tgtd.port, initiatorName: CLIENT, targetName: tgtd.targetName });
    const diskNaa = await naaOf(toTgt, 1);
    await toTgt.close();
    const s = await connect({ host: '127.0.0.1', port: r.port, initiatorName: CLIENT, targetName: 'iqn.2026-11.dev.dmsim:router1' });
    const tapeNaa = await naaOf(s, 1);
    const dm: number[] = [];
    const qemu: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      dm.push(await diskToTape(s, diskNaa, tapeNaa, bytes));
      rmSync(out, { force: true });
      const t0 = performance.now();
      await run('qemu-img', ['convert', '-O', 'raw', `iscsi://${tgtd.host}:${tgtd.port}/${tgtd.targetName}/1`, out]);
      qemu.push(performance.now() - t0);
    }
    await s.close();
    console.log(`\n1. tgtd disk LU (${MIB} MiB) read over loopback iSCSI, ${ROUNDS} rounds`);
    const a = line('dmsim data mover: tgtd LU → dmsim tape', bytes, dm);
    const b = line('baseline qemu-img convert: tgtd LU → tmpfs file', bytes, qemu);
    console.log(`ratio data mover / qemu-img: ${(a / b).toFixed(2)}×`);
  } finally {
    rmSync(out, { force: true });
    await stop(r);
    await tgtd.stop();
  }
}

async function splitCase(): Promise<void> {
  const bytes = 64 << 20;
  const arrayPort = await freePort();
  const lab = defaultLab((l) => (l.arrays[0]!.portal = `127.0.0.1:${arrayPort}`));
  const one = await router(['--lab', lab, '--iscsi', '127.0.0.1:0', '--data', mkdtempSync(path.join(base, 'bench-one-')), '--log-level', 'info']);
  const arr = await router(['--lab', lab, '--serve', 'array1', '--iscsi', `127.0.0.1:${arrayPort}`, '--data', mkdtempSync(path.join(base, 'bench-arr-')), '--log-level', 'info']);
  const rtr = await router(['--lab', lab, '--serve', 'router1', '--iscsi', '127.0.0.1:0', '--data', mkdtempSync(path.join(base, 'bench-rtr-')), '--log-level', 'info']);
  try {
    const sOne = await connect({ host: '127.0.0.1', port: one.port, initiatorName: CLIENT, targetName: 'iqn.2026-11.dev.dmsim:router1' });
    const aOne = await connect({ host: '127.0.0.1', port: one.port, initiatorName: CLIENT, targetName: 'iqn.2026-11.dev.dmsim:array1' });
    const sSplit = await connect({ host: '127.0.0.1', port: rtr.port, initiatorName: CLIENT, targetName: 'iqn.2026-11.dev.dmsim:router1' });
    const diskNaa = await naaOf(aOne, 0);
    const tapeNaa = await naaOf(sOne, 1);
    if (!tapeNaa.equals(await naaOf(sSplit, 1))) throw new Error('the tape has another designator when served alone');
    await aOne.close();
    const local: number[] = [];
    const split: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      local.push(await diskToTape(sOne, diskNaa, tapeNaa, bytes));
      split.push(await diskToTape(sSplit, diskNaa, tapeNaa, bytes));
    }
    await Promise.all([sOne.close(), sSplit.close()]);
    console.log(`\n2. array1/fat (64 MiB) → router1/tape0, ${ROUNDS} rounds`);
    const a = line('split: array process → router process', bytes, split);
    const b = line('baseline: one process serving both', bytes, local);
    console.log(`ratio split / one process: ${(a / b).toFixed(2)}×`);
  } finally {
    await Promise.all([stop(one), stop(arr), stop(rtr)]);
  }
}

await tgtdCase();
await splitCase();
