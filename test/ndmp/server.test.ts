/**
 * The NDMP server of a `dmsim router --ndmp` process, driven by a test DMA over real TCP: the
 * greeting, header-level and reply-level errors for malformed or out-of-state requests (never a
 * crash or a hang), device ownership across sessions, and a replay of ndmjob's test-tape phases
 * after T-BW #6 (T-BR, T-BWR, T-READ/T-MTIO semantics), which Debian's ndmjob cannot reach.
 */
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { md5Digest } from '../../src/ndmp/auth.js';
import { Err, Msg, TapeMtio } from '../../src/ndmp/constants.js';
import { frameRecord } from '../../src/ndmp/framing.js';
import { encodeMessage } from '../../src/ndmp/messages.js';
import { spawnCliWatched, waitForLog } from '../cli/cli-process.js';
import { TestDma } from './client.js';

let dataDir: string;
let router: ChildProcess;
let host: string;
let port: number;

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(tmpdir(), 'dmsim-ndmp-'));
  router = spawnCliWatched(['router', '--iscsi', '127.0.0.1:0', '--api', 'off', '--ndmp', '127.0.0.1:0', '--data', dataDir]);
  const ready = await waitForLog(router, 'router ready', 60_000);
  [host, port] = [String(ready.ndmp).split(':')[0]!, Number(String(ready.ndmp).split(':')[1])];
}, 90_000);

afterAll(async () => {
  if (router && router.exitCode === null) {
    router.kill('SIGTERM');
    await new Promise((res) => router.once('exit', res));
  }
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

async function session(auth = true): Promise<TestDma> {
  const d = await TestDma.open(host, port);
  await d.waitFor((r) => r.header.message === Msg.NOTIFY_CONNECTION_STATUS);
  if (auth) {
    const r = await d.request(Msg.CONNECT_OPEN, { protocol_version: 4 });
    expect(r.reply).toEqual({ error: 0 });
    const a = await d.request(Msg.CONNECT_CLIENT_AUTH, { auth_data: { auth_type: 1, auth_id: 'ndmp', auth_password: 'ndmp' } });
    expect(a.reply).toEqual({ error: 0 });
  }
  return d;
}

describe('NDMP session basics and malformed input', () => {
  it('greets with NOTIFY_CONNECTION_STATUS(CONNECTED, 4, "dmsim") as its sequence 1', async () => {
    const d = await TestDma.open(host, port);
    const g = await d.waitFor((r) => r.header.message === Msg.NOTIFY_CONNECTION_STATUS);
    expect(g.header.sequence).toBe(1);
    expect(g.header.messageType).toBe(0);
    expect(g.body.toString('hex')).toBe('00000000' + '00000004' + '00000005' + Buffer.from('dmsim').toString('hex') + '000000');
    d.close();
  });

  it('answers unauthenticated, unknown, undecodable and oversized requests with header errors and stays usable', async () => {
    const d = await session(false);
    // Not authenticated: DATA_GET_STATE gets a bare 24-byte header with NOT_AUTHORIZED_ERR.
    let r = await d.requestRaw(Msg.DATA_GET_STATE, Buffer.alloc(0));
    expect([r.header.error, r.body.length]).toEqual([Err.NOT_AUTHORIZED_ERR, 0]);
    // Unknown message code.
    r = await d.requestRaw(0x1234, Buffer.alloc(0));
    expect(r.header.error).toBe(Err.NOT_SUPPORTED_ERR);
    r = await d.requestRaw(Msg.CONNECT_SERVER_AUTH, Buffer.from('00000000', 'hex'));
    expect(r.header.error).toBe(Err.NOT_SUPPORTED_ERR);
    // A body too short for its fields, and a string whose length lies.
    const hdr = encodeMessage({ sequence: 800, timeStamp: 0, messageType: 0, message: Msg.CONNECT_OPEN, replySequence: 0, error: 0 });
    d.raw(frameRecord(Buffer.concat([hdr, Buffer.from([0, 4])])));
    r = await d.waitFor((x) => x.header.replySequence === 800);
    expect([r.header.error, r.body.length]).toEqual([Err.XDR_DECODE_ERR, 0]);
    r = await d.requestRaw(Msg.CONNECT_CLIENT_AUTH, Buffer.from('00000001' + '00ffffff' + '6e646d70', 'hex'));
    expect(r.header.error).toBe(Err.XDR_DECODE_ERR);
    // A record shorter than a header.
    d.raw(frameRecord(Buffer.alloc(10)));
    r = await d.waitFor((x) => x.header.messageType === 1 && x.header.replySequence === 0 && x.header.error === Err.XDR_DECODE_ERR);
    // A record above 1 MiB + 64 is dropped and answered.
    const big = Buffer.alloc(1024 * 1024 + 200);
    d.raw(Buffer.concat([Buffer.from([0x80 | (big.length >>> 24), (big.length >>> 16) & 255, (big.length >>> 8) & 255, big.length & 255]), big]));
    await d.waitFor((x) => x.header.messageType === 1 && x.header.replySequence === 0 && x.header.error === Err.XDR_DECODE_ERR);
    // Other versions are refused in the body; v4 accepted.
    expect((await d.request(Msg.CONNECT_OPEN, { protocol_version: 3 })).reply).toEqual({ error: Err.ILLEGAL_ARGS_ERR });
    expect((await d.request(Msg.CONNECT_OPEN, { protocol_version: 4 })).reply).toEqual({ error: 0 });
    // Credentials: wrong TEXT password, MD5 without a challenge, NONE not allowed.
    expect((await d.request(Msg.CONNECT_CLIENT_AUTH, { auth_data: { auth_type: 1, auth_id: 'ndmp', auth_password: 'nope' } })).reply).toEqual({ error: Err.NOT_AUTHORIZED_ERR });
    expect((await d.request(Msg.CONNECT_CLIENT_AUTH, { auth_data: { auth_type: 2, auth_id: 'ndmp', auth_digest: Buffer.alloc(16) } })).reply).toEqual({ error: Err.NOT_AUTHORIZED_ERR });
    expect((await d.request(Msg.CONNECT_CLIENT_AUTH, { auth_data: { auth_type: 0 } })).reply).toEqual({ error: Err.ILLEGAL_ARGS_ERR });
    // MD5 with the challenge (fragmented into three fragments, as ndmjob's xdrrec does).
    const ch = await d.request<{ error: number; server_attr: { auth_type: number; challenge: Buffer } }>(Msg.CONFIG_GET_AUTH_ATTR, { auth_type: 2 });
    expect(ch.reply!.server_attr.challenge.length).toBe(64);
    const body = Buffer.concat([Buffer.from('00000002000000046e646d70', 'hex'), md5Digest('ndmp', ch.reply!.server_attr.challenge)]);
    const msg = encodeMessage({ sequence: 900, timeStamp: 0, messageType: 0, message: Msg.CONNECT_CLIENT_AUTH, replySequence: 0, error: 0 }, body);
    const frag = (b: Buffer, last: boolean) => Buffer.concat([Buffer.from([(last ? 0x80 : 0) | 0, 0, (b.length >> 8) & 255, b.length & 255]), b]);
    d.raw(Buffer.concat([frag(msg.subarray(0, 10), false), frag(msg.subarray(10, 30), false), frag(msg.subarray(30), true)]));
    r = await d.waitFor((x) => x.header.replySequence === 900);
    expect(r.body.readUInt32BE(0)).toBe(0);
    expect((await d.request(Msg.DATA_GET_STATE)).header.error).toBe(0);
    d.close();
  });

  it('random garbage records never kill the session or the router', async () => {
    const d = await session();
    for (let i = 0; i < 300; i++) {
      const code = [0x100, 0x103, 0x200, 0x206, 0x300, 0x303, 0x304, 0x305, 0x401, 0x402, 0x409, 0x40a, 0xa01, 0xa05, 0xa09, 0x901][i % 16]!;
      d.sendRaw(code, randomBytes(i % 64));
    }
    const h = await d.request<{ error: number; hostname: string }>(Msg.CONFIG_GET_HOST_INFO);
    expect(h.reply!.hostname).toBe('default');
    d.close();
    const d2 = await session();
    expect((await d2.request(Msg.CONFIG_GET_HOST_INFO)).header.error).toBe(0);
    d2.close();
  });

  it('out-of-state and bad-argument requests get reply errors with full bodies', async () => {
    const d = await session();
    expect((await d.request(Msg.MOVER_CONTINUE)).reply).toEqual({ error: Err.ILLEGAL_STATE_ERR });
    expect((await d.request(Msg.DATA_STOP)).reply).toEqual({ error: Err.ILLEGAL_STATE_ERR });
    expect((await d.request(Msg.DATA_START_BACKUP, { butype_name: 'dump', env: [] })).reply).toEqual({ error: Err.ILLEGAL_ARGS_ERR });
    expect((await d.request(Msg.DATA_START_BACKUP, { butype_name: 'tar', env: [] })).reply).toEqual({ error: Err.ILLEGAL_STATE_ERR });
    expect((await d.request(Msg.TAPE_READ, { count: 10 })).reply).toEqual({ error: Err.DEV_NOT_OPEN_ERR, data_in: Buffer.alloc(0) });
    expect((await d.request(Msg.TAPE_OPEN, { device: 'bogus', mode: 0 })).reply).toEqual({ error: Err.NO_DEVICE_ERR });
    expect((await d.request(Msg.TAPE_OPEN, { device: 'tape1', mode: 123 })).reply).toEqual({ error: Err.ILLEGAL_ARGS_ERR });
    const st = await d.request<Record<string, unknown>>(Msg.TAPE_GET_STATE);
    expect(st.reply).toMatchObject({ unsupported: 0x3f, error: Err.DEV_NOT_OPEN_ERR });
    expect((await d.request(Msg.MOVER_SET_RECORD_SIZE, { len: 100 })).reply).toEqual({ error: Err.ILLEGAL_ARGS_ERR });
    expect((await d.request(Msg.MOVER_SET_WINDOW, { offset: 5n, length: 10240n })).reply).toEqual({ error: Err.ILLEGAL_ARGS_ERR });
    expect((await d.request(Msg.SCSI_EXECUTE_CDB, { flags: 1, timeout: 0, datain_len: 36, cdb: Buffer.from('120000002400', 'hex'), dataout: Buffer.alloc(0) })).reply).toMatchObject({ error: Err.DEV_NOT_OPEN_ERR });
    d.close();
  });

  it('a drive open in one session is DEVICE_BUSY for another; closing the socket frees it', async () => {
    const a = await session();
    const b = await session();
    expect((await a.request(Msg.TAPE_OPEN, { device: 'tape1', mode: 0 })).reply).toEqual({ error: 0 });
    expect((await b.request(Msg.TAPE_OPEN, { device: 'tape1', mode: 0 })).reply).toEqual({ error: Err.DEVICE_BUSY_ERR });
    a.close();
    await new Promise((res) => setTimeout(res, 200));
    expect((await b.request(Msg.TAPE_OPEN, { device: 'tape1', mode: 0 })).reply).toEqual({ error: 0 });
    b.close();
  });
});

describe('replay of ndmjob test-tape after T-BW #6 (T-BR, T-BWR, T-READ, T-MTIO)', () => {
  it('answers as ndma_ctst_tape.c expects from a v4 tape service', async () => {
    const d = await session();
    const q = async (code: number, req: unknown = {}) => (await d.request<Record<string, unknown>>(code, req)).reply!;
    const mtio = (op: number, count: number) => q(Msg.TAPE_MTIO, { tape_op: op, count });
    const state = async () => {
      const s = await q(Msg.TAPE_GET_STATE);
      return [s.file_num, s.blockno];
    };
    const pattern = (n: number, seed: number) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 7 + seed) & 255));
    // T-BR
    expect(await q(Msg.TAPE_OPEN, { device: 'tape0', mode: 1 })).toEqual({ error: 0 });
    expect(await mtio(TapeMtio.REW, 1)).toEqual({ error: 0, resid_count: 0 });
    expect(await q(Msg.TAPE_WRITE, { data_out: pattern(1024, 1) })).toEqual({ error: 0, count: 1024 });
    expect(await mtio(TapeMtio.EOF, 1)).toEqual({ error: 0, resid_count: 0 });
    expect(await mtio(TapeMtio.REW, 1)).toEqual({ error: 0, resid_count: 0 });
    expect(await q(Msg.TAPE_READ, { count: 0 })).toEqual({ error: 0, data_in: Buffer.alloc(0) });
    expect((await q(Msg.TAPE_READ, { count: 0x80000000 })).error).toBe(Err.ILLEGAL_ARGS_ERR);
    expect(await q(Msg.TAPE_READ, { count: 2048 })).toEqual({ error: 0, data_in: pattern(1024, 1) });
    expect((await q(Msg.TAPE_READ, { count: 1024 })).error).toBe(Err.EOF_ERR);
    expect(await state()).toEqual([0, 0xffffffff]);
    expect(await mtio(TapeMtio.REW, 1)).toEqual({ error: 0, resid_count: 0 });
    expect(await q(Msg.TAPE_READ, { count: 512 })).toEqual({ error: 0, data_in: pattern(512, 1) });
    expect((await q(Msg.TAPE_READ, { count: 512 })).error).toBe(Err.EOF_ERR);
    // T-BWR
    expect(await mtio(TapeMtio.REW, 1)).toEqual({ error: 0, resid_count: 0 });
    expect(await mtio(TapeMtio.BSR, 100)).toEqual({ error: 0, resid_count: 100 });
    expect(await mtio(TapeMtio.BSF, 100)).toEqual({ error: 0, resid_count: 100 });
    expect(await mtio(TapeMtio.EOF, 1)).toEqual({ error: 0, resid_count: 0 });
    expect(await mtio(TapeMtio.BSF, 100)).toEqual({ error: 0, resid_count: 99 });
    expect(await mtio(TapeMtio.FSF, 100)).toEqual({ error: 0, resid_count: 99 });
    expect((await q(Msg.TAPE_READ, { count: 65536 })).error).toBe(Err.EOM_ERR);
    expect((await q(Msg.TAPE_READ, { count: 1024 })).error).toBe(Err.EOM_ERR);
    expect(await mtio(TapeMtio.REW, 1)).toEqual({ error: 0, resid_count: 0 });
    expect((await q(Msg.TAPE_WRITE, { data_out: pattern(512, 2) })).error).toBe(0);
    expect(await mtio(TapeMtio.BSR, 100)).toEqual({ error: 0, resid_count: 99 });
    expect(await mtio(TapeMtio.FSR, 100)).toEqual({ error: 0, resid_count: 99 });
    expect(await mtio(TapeMtio.FSR, 100)).toEqual({ error: 0, resid_count: 100 });
    expect(await mtio(TapeMtio.FSF, 100)).toEqual({ error: 0, resid_count: 100 });
    // T-WRITE (small): files of n records; state (file, blockno) after each record and filemark.
    expect(await mtio(TapeMtio.REW, 1)).toEqual({ error: 0, resid_count: 0 });
    const files = [3, 5, 1, 4];
    for (let f = 0; f < files.length; f++) {
      for (let k = 0; k < files[f]!; k++) {
        expect((await q(Msg.TAPE_WRITE, { data_out: pattern(512 * (k + 1), f * 16 + k) })).error).toBe(0);
        expect(await state()).toEqual([f, k + 1]);
      }
      expect(await mtio(TapeMtio.EOF, 1)).toEqual({ error: 0, resid_count: 0 });
      expect(await state()).toEqual([f + 1, 0]);
    }
    expect(await mtio(TapeMtio.REW, 1)).toEqual({ error: 0, resid_count: 0 });
    expect(await q(Msg.TAPE_CLOSE)).toEqual({ error: 0 });
    // T-READ and T-MTIO on a READ open.
    expect(await q(Msg.TAPE_OPEN, { device: 'tape0', mode: 0 })).toEqual({ error: 0 });
    expect((await q(Msg.TAPE_WRITE, { data_out: pattern(10, 0) })).error).toBe(Err.PERMISSION_ERR);
    expect((await mtio(TapeMtio.EOF, 1)).error).toBe(Err.PERMISSION_ERR);
    for (let f = 0; f < files.length; f++) {
      const n = files[f]!;
      expect(await mtio(TapeMtio.REW, 1)).toEqual({ error: 0, resid_count: 0 });
      expect(await mtio(TapeMtio.FSF, f)).toEqual({ error: 0, resid_count: 0 });
      expect(await state()).toEqual([f, 0]);
      expect(await mtio(TapeMtio.FSR, 1000000)).toEqual({ error: 0, resid_count: 1000000 - n });
      expect(await state()).toEqual([f, n]);
      expect(await mtio(TapeMtio.BSR, 1000000)).toEqual({ error: 0, resid_count: 1000000 - n });
      expect(await state()).toEqual([f, 0]);
      expect(await mtio(TapeMtio.FSR, 0)).toEqual({ error: 0, resid_count: 0 });
      const half = Math.floor(n / 2);
      expect(await mtio(TapeMtio.FSR, half)).toEqual({ error: 0, resid_count: 0 });
      expect(await state()).toEqual([f, half]);
      expect(await q(Msg.TAPE_READ, { count: 262144 })).toEqual({ error: 0, data_in: pattern(512 * (half + 1), f * 16 + half) });
      if (n >= 2) {
        expect(await mtio(TapeMtio.BSR, 2)).toEqual({ error: 0, resid_count: 0 });
        expect(await state()).toEqual([f, half - 1]);
        expect(await q(Msg.TAPE_READ, { count: 262144 })).toEqual({ error: 0, data_in: pattern(512 * half, f * 16 + half - 1) });
      }
      // Reading on to the filemark: EOF_ERR, position stays before the mark, FSF 1 passes it.
      while ((await q(Msg.TAPE_READ, { count: 262144 })).error === 0);
      expect(await state()).toEqual([f, 0xffffffff]);
      expect(await mtio(TapeMtio.FSF, 1)).toEqual({ error: 0, resid_count: 0 });
      expect(await state()).toEqual([f + 1, 0]);
    }
    expect(await q(Msg.TAPE_CLOSE)).toEqual({ error: 0 });
    d.close();
  }, 60_000);
});
