/**
 * POSIX tar (ustar + pax extended headers): header builder and parser, checksum, end-of-archive,
 * 10,240-byte records. Pure functions; the backup server sends what these build as inline data.
 */
export const TAR_BLOCK = 512;
export const TAR_RECORD = 10240; // blocking factor 20, GNU tar's default

export interface TarMember {
  path: string;
  type: 'file' | 'directory';
  size: number;
  mtime: number;
  mode?: number;
  uid?: number;
  gid?: number;
  /** Extra pax records (e.g. DMSIM.fatattr); GNU tar ignores unknown vendor keys. */
  pax?: Record<string, string>;
}

export class TarFormatError extends Error {
  override name = 'TarFormatError';
}

function octal(buf: Buffer, off: number, width: number, value: number): void {
  const s = Math.floor(value).toString(8);
  if (s.length > width - 1) throw new TarFormatError(`value ${value} does not fit ${width} octal bytes`);
  buf.write(s.padStart(width - 1, '0') + '\0', off, 'latin1');
}

export function headerChecksum(h: Buffer): number {
  let sum = 0;
  for (let i = 0; i < TAR_BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : h[i]!;
  return sum;
}

function ustarBlock(name: string, prefix: string, type: string, size: number, mtime: number, mode: number, uid: number, gid: number): Buffer {
  const h = Buffer.alloc(TAR_BLOCK);
  h.write(name, 0, 100, 'utf8');
  octal(h, 100, 8, mode);
  octal(h, 108, 8, uid);
  octal(h, 116, 8, gid);
  octal(h, 124, 12, size);
  octal(h, 136, 12, mtime);
  h.write(type, 156, 'latin1');
  h.write('ustar\0', 257, 'latin1');
  h.write('00', 263, 'latin1');
  h.write(prefix, 345, 155, 'utf8');
  const sum = headerChecksum(h);
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'latin1');
  return h;
}

/** Splits a path into ustar prefix/name, or undefined when it needs a pax `path`. */
function splitUstar(path: string): { name: string; prefix: string } | undefined {
  if (!/^[\x20-\x7e]*$/.test(path)) return undefined;
  if (path.length <= 100) return { name: path, prefix: '' };
  for (let i = path.length - 1; i > 0; i--) {
    if (path[i] !== '/') continue;
    const prefix = path.slice(0, i), name = path.slice(i + 1);
    if (name.length && name.length <= 100 && prefix.length <= 155) return { name, prefix };
  }
  return undefined;
}

/** One pax record "<len> <key>=<value>\n", len counting itself. */
export function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  const bodyLen = Buffer.byteLength(body);
  let len = bodyLen + 1;
  while (String(len).length + bodyLen !== len) len = String(len).length + bodyLen;
  return `${len}${body}`;
}

/** The header bytes of a member: optional pax `x` header + its body, then the ustar header. */
export function buildHeader(m: TarMember): Buffer {
  const isDir = m.type === 'directory';
  const path = isDir && !m.path.endsWith('/') ? `${m.path}/` : m.path;
  const mode = m.mode ?? (isDir ? 0o755 : 0o644);
  const size = isDir ? 0 : m.size;
  const split = splitUstar(path);
  const pax: Array<[string, string]> = [];
  if (!split) pax.push(['path', path]);
  if (size > 0o77777777777) pax.push(['size', String(size)]);
  for (const [k, v] of Object.entries(m.pax ?? {})) pax.push([k, v]);
  const parts: Buffer[] = [];
  let name = split?.name ?? '', prefix = split?.prefix ?? '';
  if (!split) {
    // A readable ASCII fallback for readers that ignore pax.
    const ascii = path.replace(/[^\x20-\x7e]/g, '_');
    name = ascii.slice(-100).replace(/^\/+/, '');
    prefix = '';
  }
  if (pax.length) {
    const body = Buffer.from(pax.map(([k, v]) => paxRecord(k, v)).join(''), 'utf8');
    const base = (split?.name ?? name).replace(/\/$/, '').split('/').pop() ?? 'x';
    parts.push(ustarBlock(`PaxHeaders/${base}`.slice(0, 99), '', 'x', body.length, m.mtime, 0o644, 0, 0), body, Buffer.alloc(padTo512(body.length) - body.length));
  }
  parts.push(ustarBlock(name, prefix, isDir ? '5' : '0', size > 0o77777777777 ? 0 : size, m.mtime, mode, m.uid ?? 0, m.gid ?? 0));
  return Buffer.concat(parts);
}

export const padTo512 = (n: number) => Math.ceil(n / TAR_BLOCK) * TAR_BLOCK;

/** Two zero blocks. */
export function endOfArchive(): Buffer {
  return Buffer.alloc(2 * TAR_BLOCK);
}

/** Zero bytes needed after `archiveBytes` to fill the last record. */
export function recordPadding(archiveBytes: number, recordSize = TAR_RECORD): number {
  return (recordSize - (archiveBytes % recordSize)) % recordSize;
}

export interface ParsedMember extends TarMember {
  /** Offset of the first header block (pax header if any) in the archive. */
  headerOffset: number;
  /** Offset of the member's data. */
  dataOffset: number;
  linkname: string;
  typeflag: string;
}

function readOctal(h: Buffer, off: number, len: number): number {
  const s = h.toString('latin1', off, off + len).replace(/\0.*$/s, '').trim();
  if (s === '') return 0;
  if (!/^[0-7]+$/.test(s)) throw new TarFormatError(`bad octal field at ${off}: ${JSON.stringify(s)}`);
  return parseInt(s, 8);
}

function cstr(h: Buffer, off: number, len: number): string {
  const end = h.indexOf(0, off);
  return h.toString('utf8', off, end < 0 || end > off + len ? off + len : end);
}

/**
 * Checks one header block (`at` is its archive offset, for the message) and returns its typeflag and
 * the size field: enough to skip a pax body before the member's own header is decoded.
 */
export function headerKind(h: Buffer, at: number): { typeflag: string; size: number } {
  if (readOctal(h, 148, 8) !== headerChecksum(h)) throw new TarFormatError(`header checksum mismatch at ${at}`);
  return { typeflag: String.fromCharCode(h[156] || 0x30), size: readOctal(h, 124, 12) };
}

export interface HeaderFields {
  path: string;
  size: number;
  mtime: number;
  mode: number;
  uid: number;
  gid: number;
  linkname: string;
}

/** A member header's fields, the preceding pax record's path/size/mtime winning over the ustar ones. */
export function headerFields(h: Buffer, pax: Record<string, string> | undefined): HeaderFields {
  const prefix = cstr(h, 345, 155);
  let path = prefix ? `${prefix}/${cstr(h, 0, 100)}` : cstr(h, 0, 100);
  let size = readOctal(h, 124, 12);
  let mtime = readOctal(h, 136, 12);
  if (pax?.path) path = pax.path;
  if (pax?.size) size = Number(pax.size);
  if (pax?.mtime) mtime = Math.floor(Number(pax.mtime));
  return { path, size, mtime, mode: readOctal(h, 100, 8), uid: readOctal(h, 108, 8), gid: readOctal(h, 116, 8), linkname: cstr(h, 157, 100) };
}

export function parsePax(body: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let i = 0;
  while (i < body.length) {
    const sp = body.indexOf(0x20, i);
    if (sp < 0) break;
    const len = Number(body.toString('latin1', i, sp));
    if (!Number.isInteger(len) || len <= 0 || i + len > body.length) throw new TarFormatError('bad pax record length');
    const rec = body.toString('utf8', sp + 1, i + len - 1);
    const eq = rec.indexOf('=');
    if (eq < 0) throw new TarFormatError('pax record without "="');
    out[rec.slice(0, eq)] = rec.slice(eq + 1);
    i += len;
  }
  return out;
}

/** Lists an archive held in memory (tests, verify, inspect); stops at end-of-archive. */
export function parseArchive(buf: Buffer): ParsedMember[] {
  const out: ParsedMember[] = [];
  let off = 0;
  let pending: Record<string, string> | undefined;
  let pendingStart = -1;
  while (off + TAR_BLOCK <= buf.length) {
    const h = buf.subarray(off, off + TAR_BLOCK);
    if (h.every((b) => b === 0)) break;
    const { typeflag, size: rawSize } = headerKind(h, off);
    const dataOffset = off + TAR_BLOCK;
    if (typeflag === 'x' || typeflag === 'g') {
      const body = buf.subarray(dataOffset, dataOffset + rawSize);
      if (typeflag === 'x') {
        pending = parsePax(body);
        pendingStart = off;
      }
      off = dataOffset + padTo512(rawSize);
      continue;
    }
    const f = headerFields(h, pending);
    const size = f.size;
    const type = typeflag === '5' ? 'directory' : 'file';
    out.push({
      path: type === 'directory' ? f.path.replace(/\/$/, '') : f.path, type, size, mtime: f.mtime,
      mode: f.mode, uid: f.uid, gid: f.gid,
      pax: pending, headerOffset: pendingStart >= 0 ? pendingStart : off, dataOffset, linkname: f.linkname, typeflag,
    });
    pending = undefined;
    pendingStart = -1;
    off = dataOffset + padTo512(size);
    if (off > buf.length) throw new TarFormatError('archive ends inside a member');
  }
  return out;
}
