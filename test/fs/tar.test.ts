import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildHeader, endOfArchive, headerChecksum, padTo512, parseArchive, paxRecord, recordPadding, TAR_RECORD, type TarMember } from '../../src/fs/tar.js';
import { requireTools } from '../helpers/require-tool.js';

function archive(members: Array<[TarMember, Buffer]>): Buffer {
  const parts: Buffer[] = [];
  for (const [m, d] of members) {
    parts.push(buildHeader(m));
    if (m.type === 'file') parts.push(d, Buffer.alloc(padTo512(d.length) - d.length));
  }
  parts.push(endOfArchive());
  const len = parts.reduce((s, p) => s + p.length, 0);
  parts.push(Buffer.alloc(recordPadding(len)));
  return Buffer.concat(parts);
}

const longDir = 'a-very-long-directory-name-that-goes-on/'.repeat(4);
const members: Array<[TarMember, Buffer]> = [
  [{ path: 'dir', type: 'directory', size: 0, mtime: 1700000000 }, Buffer.alloc(0)],
  [{ path: 'dir/hello.txt', type: 'file', size: 6, mtime: 1700000002 }, Buffer.from('hello\n')],
  [{ path: 'dir/empty', type: 'file', size: 0, mtime: 1700000004 }, Buffer.alloc(0)],
  [{ path: `${longDir}split-into-prefix.bin`, type: 'file', size: 513, mtime: 1700000006 }, Buffer.alloc(513, 7)],
  [{ path: `${'x'.repeat(120)}/${'y'.repeat(110)}.txt`, type: 'file', size: 3, mtime: 1700000008 }, Buffer.from('pax')],
  [{ path: 'dir/Q4 summary – draft (ü).txt', type: 'file', size: 4, mtime: 1700000010, pax: { 'DMSIM.fatattr': '20' } }, Buffer.from('utf8')],
];

describe('tar codec', () => {
  it('header fields and checksum are GNU-shaped', () => {
    const h = buildHeader(members[1]![0]);
    expect(h.length).toBe(512);
    expect(h.toString('latin1', 100, 108)).toBe('0000644\0');
    expect(h.toString('latin1', 124, 136)).toBe('00000000006\0');
    expect(h.toString('latin1', 257, 265)).toBe('ustar\x0000');
    expect(h.toString('latin1', 148, 156)).toBe(headerChecksum(h).toString(8).padStart(6, '0') + '\0 ');
  });

  it('pax record length counts itself', () => {
    expect(paxRecord('atime', '1795574926.749120356')).toBe('30 atime=1795574926.749120356\n');
    expect(Buffer.byteLength(paxRecord('path', 'x'.repeat(95)))).toBe(Number(paxRecord('path', 'x'.repeat(95)).split(' ')[0]));
  });

  it('round-trips members through parseArchive, padded to whole 10240-byte records', () => {
    const a = archive(members);
    expect(a.length % TAR_RECORD).toBe(0);
    const parsed = parseArchive(a);
    expect(parsed.map((p) => [p.path, p.type, p.size, p.mtime])).toEqual(members.map(([m]) => [m.path, m.type, m.size, m.mtime]));
    for (const [i, p] of parsed.entries()) expect(a.subarray(p.dataOffset, p.dataOffset + p.size)).toEqual(members[i]![1]);
  });

  it('rejects a damaged checksum', () => {
    const a = archive(members);
    a[0] ^= 1;
    expect(() => parseArchive(a)).toThrow(/checksum/);
  });
});

describe.skipIf(!requireTools('tar vs GNU tar', 'tar'))('GNU tar reads our archives', () => {
  it('lists and extracts every member', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dmsim-tar-'));
    const file = join(dir, 'a.tar');
    writeFileSync(file, archive(members));
    const list = execFileSync('tar', ['-tf', file], { env: { ...process.env, LC_ALL: 'C.UTF-8' } }).toString().trim().split('\n');
    expect(list).toEqual(members.map(([m]) => (m.type === 'directory' ? `${m.path}/` : m.path)));
    const out = join(dir, 'x');
    execFileSync('mkdir', [out]);
    execFileSync('tar', ['-xf', file, '-C', out], { env: { ...process.env, LC_ALL: 'C.UTF-8' } });
    for (const [m, d] of members) if (m.type === 'file') expect(readFileSync(join(out, m.path))).toEqual(d);
  });
});
