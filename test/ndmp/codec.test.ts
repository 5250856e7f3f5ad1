/**
 * The NDMP codec against the byte dumps the reference captured from ndmjob (ndmp.md §1.4, §2),
 * record-marking reassembly from any chunking, and lying lengths as XdrErrors.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { AddrType, AuthType, Msg } from '../../src/ndmp/constants.js';
import { frameRecord, RecordReader } from '../../src/ndmp/framing.js';
import { md5Digest } from '../../src/ndmp/auth.js';
import { decodeHeader, encodeMessage, messages } from '../../src/ndmp/messages.js';
import { decode, encode, XdrError, XdrReader } from '../../src/ndmp/xdr.js';

const hex = (s: string) => Buffer.from(s.replace(/[^0-9a-f]/gi, ''), 'hex');

describe('NDMP codec: captured exchanges', () => {
  it('server greeting NOTIFY_CONNECTION_STATUS(CONNECTED, 4, "Hello")', () => {
    const wire = hex('80 00 00 2c 00000001 6b15ce3c 00000000 00000502 00000000 00000000 00000000 00000004 00000005 48656c6c 6f000000');
    const body = encode(messages[Msg.NOTIFY_CONNECTION_STATUS].request, { reason: 0, protocol_version: 4, text_reason: 'Hello' });
    const msg = encodeMessage({ sequence: 1, timeStamp: 0x6b15ce3c, messageType: 0, message: Msg.NOTIFY_CONNECTION_STATUS, replySequence: 0, error: 0 }, body);
    expect(frameRecord(msg)).toEqual(wire);
    const r = new XdrReader(wire.subarray(4));
    expect(decodeHeader(r)).toEqual({ sequence: 1, timeStamp: 0x6b15ce3c, messageType: 0, message: 0x502, replySequence: 0, error: 0 });
    expect(messages[Msg.NOTIFY_CONNECTION_STATUS].request.dec(r)).toEqual({ reason: 0, protocol_version: 4, text_reason: 'Hello' });
  });

  it('CONNECT_OPEN request and reply', () => {
    const req = hex('80 00 00 1c 00000001 6b15ce3c 00000000 00000900 00000000 00000000 00000004');
    const rep = hex('80 00 00 1c 00000002 6b15ce3c 00000001 00000900 00000001 00000000 00000000');
    const r = new XdrReader(req.subarray(4));
    expect(decodeHeader(r).message).toBe(Msg.CONNECT_OPEN);
    expect(messages[Msg.CONNECT_OPEN].request.dec(r)).toEqual({ protocol_version: 4 });
    const body = encode(messages[Msg.CONNECT_OPEN].reply, { error: 0 });
    expect(frameRecord(encodeMessage({ sequence: 2, timeStamp: 0x6b15ce3c, messageType: 1, message: 0x900, replySequence: 1, error: 0 }, body))).toEqual(rep);
  });

  it('a header-level error reply has no body (24 bytes)', () => {
    const wire = hex('80 00 00 18 0000000a 6b15cea6 00000001 00000409 00000009 00000001');
    const msg = encodeMessage({ sequence: 10, timeStamp: 0x6b15cea6, messageType: 1, message: 0x409, replySequence: 9, error: 1 }, Buffer.alloc(8));
    expect(frameRecord(msg)).toEqual(wire);
  });

  it('CLIENT_AUTH TEXT body', () => {
    const body = hex('00000001 00000004 6e646d70 00000004 6e646d70');
    expect(decode(messages[Msg.CONNECT_CLIENT_AUTH].request, body)).toEqual({ auth_data: { auth_type: AuthType.TEXT, auth_id: 'ndmp', auth_password: 'ndmp' } });
  });

  it('MD5 challenge and digest as captured', () => {
    const challenge = hex(
      '3840b7464a0b874f1abd825c3409aa033f5ce340557d52fdd37267d73234e2f2b257d738d2aad4644ec2233d69216dd1c3beae158cd4734e54ffd6486bd0c6b8',
    );
    const rep = encode(messages[Msg.CONFIG_GET_AUTH_ATTR].reply, { error: 0, server_attr: { auth_type: AuthType.MD5, challenge } });
    expect(rep).toEqual(Buffer.concat([hex('00000000 00000002'), challenge]));
    const auth = hex('00000002 00000004 6e646d70 4ff32d4c88bc95544c9826b5ef4f4d0e');
    const req = decode(messages[Msg.CONNECT_CLIENT_AUTH].request, auth);
    expect(req.auth_data.auth_type).toBe(AuthType.MD5);
    expect(md5Digest('ndmp', challenge).toString('hex')).toBe('4ff32d4c88bc95544c9826b5ef4f4d0e');
    // The reference's buffer layout, built independently.
    const m = Buffer.concat([Buffer.from('ndmp'), Buffer.alloc(56), challenge, Buffer.from('ndmp')]);
    expect(createHash('md5').update(m).digest('hex')).toBe('4ff32d4c88bc95544c9826b5ef4f4d0e');
  });

  it('GET_FS_INFO reply body as captured', () => {
    const body = encode(messages[Msg.CONFIG_GET_FS_INFO].reply, {
      error: 0,
      fs_info: [
        {
          unsupported: 0,
          fs_type: 'vfat',
          fs_logical_device: '/export/vol0/fsroot',
          fs_physical_device: '/dev/simdisk0',
          total_size: 0n,
          used_size: 0n,
          avail_size: 0n,
          total_inodes: 0n,
          used_inodes: 0n,
          fs_env: [],
          fs_status: 'online',
        },
      ],
    });
    expect(body.readUInt32BE(0x0c)).toBe(4);
    expect(body.readUInt32BE(0x14)).toBe(0x13);
    expect(body.readUInt32BE(0x2c)).toBe(0x0d);
    expect(body.readUInt32BE(0x68)).toBe(0);
    expect(body.subarray(0x6c)).toEqual(hex('00000006 6f6e6c69 6e650000'));
  });

  it('MOVER_LISTEN TCP reply and DATA_CONNECT TCP request', () => {
    const rep = hex('00000000 00000001 00000001 7f000001 00009c91 00000000');
    expect(decode(messages[Msg.MOVER_LISTEN].reply, rep)).toEqual({ error: 0, connect_addr: { addr_type: AddrType.TCP, tcp: [{ ip_addr: 0x7f000001, port: 0x9c91, addr_env: [] }] } });
    const req = hex('00000001 00000001 7f000001 0000883d 00000000');
    expect(encode(messages[Msg.DATA_CONNECT].request, { addr: { addr_type: AddrType.TCP, tcp: [{ ip_addr: 0x7f000001, port: 34877, addr_env: [] }] } })).toEqual(req);
  });

  it('MOVER_LISTEN failure carries the whole body (error, LOCAL)', () => {
    expect(encode(messages[Msg.MOVER_LISTEN].reply, { error: 19, connect_addr: { addr_type: AddrType.LOCAL } })).toEqual(hex('00000013 00000000'));
  });

  it('DATA_START_RECOVER body as captured', () => {
    const s = (t: string) => {
      const b = Buffer.from(t);
      const p = Buffer.alloc((4 - (b.length % 4)) % 4);
      return Buffer.concat([hex((b.length >>> 0).toString(16).padStart(8, '0')), b, p]);
    };
    const body = Buffer.concat([
      hex('00000003'),
      s('PREFIX'),
      s('/export/vol0/restore'),
      s('HIST'),
      s('n'),
      s('TYPE'),
      s('tar'),
      hex('00000002'),
      s('/HELLO.TXT'),
      s('/export/vol0/restore/HELLO.TXT'),
      s(''),
      s(''),
      hex('ffffffff ffffffff 00000000 00000800'),
      s('/sub/README.TXT'),
      s('/export/vol0/restore/sub/README.TXT'),
      s(''),
      s(''),
      hex('ffffffff ffffffff 00000000 00000400'),
      s('tar'),
    ]);
    const v = decode(messages[Msg.DATA_START_RECOVER].request, body);
    expect(v.env.map((p) => `${p.name}=${p.value}`)).toEqual(['PREFIX=/export/vol0/restore', 'HIST=n', 'TYPE=tar']);
    expect(v.nlist.map((n) => [n.original_path, n.destination_path, n.node, n.fh_info])).toEqual([
      ['/HELLO.TXT', '/export/vol0/restore/HELLO.TXT', 0xffffffffffffffffn, 2048n],
      ['/sub/README.TXT', '/export/vol0/restore/sub/README.TXT', 0xffffffffffffffffn, 1024n],
    ]);
    expect(v.butype_name).toBe('tar');
    expect(encode(messages[Msg.DATA_START_RECOVER].request, v)).toEqual(body);
  });

  it('FH_ADD_FILE entry layout as captured', () => {
    const body = encode(messages[Msg.FH_ADD_FILE].request, {
      files: [
        {
          names: [{ fs_type: 0, unix_name: '/' }],
          stats: [{ unsupported: 3, fs_type: 0, ftype: 0, mtime: 0x6b15ce38, atime: 0xffffffff, ctime: 0xffffffff, owner: 0, group: 0, fattr: 0o755, size: 0n, links: 0xffffffff }],
          node: 0n,
          fh_info: 0n,
        },
      ],
    });
    expect(body).toEqual(
      hex('00000001 00000001 00000000 00000001 2f000000 00000001 00000003 00000000 00000000 6b15ce38 ffffffff ffffffff 00000000 00000000 000001ed 00000000 00000000 ffffffff 00000000 00000000 00000000 00000000'),
    );
  });

  it('TAPE_GET_STATE puts unsupported before error', () => {
    const b = encode(messages[Msg.TAPE_GET_STATE].reply, { unsupported: 0x3f, error: 6, flags: 0, file_num: 0xffffffff, soft_errors: 0xffffffff, block_size: 0xffffffff, blockno: 0xffffffff, total_space: ~0n, space_remain: ~0n });
    expect(b.length).toBe(44);
    expect(b.subarray(0, 8)).toEqual(hex('0000003f 00000006'));
  });
});

describe('NDMP codec: malformed input', () => {
  it('a string length beyond the record is an XdrError', () => {
    expect(() => decode(messages[Msg.TAPE_OPEN].request, hex('7fffffff 41414141'))).toThrow(XdrError);
  });
  it('an array count that cannot fit is refused before allocation', () => {
    expect(() => decode(messages[Msg.DATA_START_BACKUP].request, hex('00000003 74617200 ffffffff'))).toThrow(/cannot fit/);
  });
  it('an unknown union arm is an XdrError', () => {
    expect(() => decode(messages[Msg.DATA_CONNECT].request, hex('0000007b'))).toThrow(XdrError);
    expect(() => decode(messages[Msg.CONNECT_CLIENT_AUTH].request, hex('00000009'))).toThrow(XdrError);
  });
  it('a short header is an XdrError', () => {
    expect(() => decodeHeader(new XdrReader(Buffer.alloc(20)))).toThrow(XdrError);
  });
});

describe('record marking', () => {
  it('reassembles fragments split at every byte', () => {
    const payload = Buffer.from(Array.from({ length: 8236 }, (_, i) => i & 0xff));
    const parts = [payload.subarray(0, 3996), payload.subarray(3996, 7992), payload.subarray(7992)];
    const wire = Buffer.concat(
      parts.map((p, i) => {
        const m = Buffer.alloc(4);
        m.writeUInt32BE(((i === 2 ? 0x80000000 : 0) | p.length) >>> 0);
        return Buffer.concat([m, p]);
      }),
    );
    expect(wire.subarray(0, 4)).toEqual(hex('00000f9c'));
    expect(wire.subarray(3996 + 4, 4000 + 4)).toEqual(hex('00000f9c'));
    for (const step of [1, 3, 7, 4000, wire.length]) {
      const rr = new RecordReader();
      const got = [];
      for (let off = 0; off < wire.length; off += step) got.push(...rr.push(wire.subarray(off, off + step)));
      expect(got).toEqual([{ kind: 'record', record: payload }]);
    }
  });

  it('several records in one chunk, then an empty fragment', () => {
    const rr = new RecordReader();
    const a = frameRecord(Buffer.from('abcd'));
    const b = Buffer.concat([hex('00000000'), frameRecord(Buffer.from('efgh'))]);
    expect(rr.push(Buffer.concat([a, b]))).toEqual([
      { kind: 'record', record: Buffer.from('abcd') },
      { kind: 'record', record: Buffer.from('efgh') },
    ]);
  });

  it('drops a record above the cap and goes on with the next', () => {
    const rr = new RecordReader(16);
    const big = frameRecord(Buffer.alloc(20, 1));
    const ok = frameRecord(Buffer.from('okok'));
    expect(rr.push(Buffer.concat([big.subarray(0, 10)]))).toEqual([]);
    expect(rr.push(Buffer.concat([big.subarray(10), ok]))).toEqual([
      { kind: 'dropped', bytes: 20 },
      { kind: 'record', record: Buffer.from('okok') },
    ]);
  });
});
