import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { decodeSense, encodeSense, Sense, SenseKey, type SenseInfo } from '../../src/scsi/sense.js';

const vectors = JSON.parse(readFileSync(new URL('../../fixtures/vectors/sense.json', import.meta.url), 'utf8')) as Record<
  string,
  { hex: string }
>;
const hex = (name: string) => Buffer.from(vectors[name]!.hex.replace(/\s+/g, ''), 'hex');

describe('sense data', () => {
  it('encodes COPY ABORTED with forwarded tape sense byte for byte (fixed format)', () => {
    const tape = Buffer.from('70004d000000000a00000000000200000000', 'hex');
    const info: SenseInfo = {
      key: SenseKey.COPY_ABORTED, asc: 0x0d, ascq: 0x01, information: 851968, commandSpecific: 1,
      sks: { kind: 'segment', sd: false, byte: 48 },
      forwarded: [{ source: 'destination', status: 0x02, sense: tape }],
    };
    const b = encodeSense(info);
    expect(b.toString('hex')).toBe(hex('copy-aborted-forwarded-tape-eom').toString('hex'));
    const back = decodeSense(b);
    expect(back.key).toBe(0x0a);
    expect(back.information).toBe(851968);
    expect(back.commandSpecific).toBe(1);
    expect(back.forwarded?.[0]?.sense.equals(tape)).toBe(true);
    expect(back.sks).toEqual({ kind: 'segment', sd: false, byte: 48 });
  });

  it('puts the CDB field pointer and bit pointer in bytes 15-17', () => {
    const b = encodeSense(Sense.invalidFieldInCdb(1, 4).sense);
    expect(b.toString('hex')).toBe(hex('invalid-field-in-cdb-byte1-bit4').toString('hex'));
    expect(decodeSense(b).sks).toEqual({ kind: 'field', cd: true, byte: 1, bit: 4 });
  });

  it('encodes a power-on unit attention', () => {
    const b = encodeSense({ key: SenseKey.UNIT_ATTENTION, asc: 0x29, ascq: 0x01 });
    expect(b.equals(hex('unit-attention-power-on'))).toBe(true);
  });

  it('round-trips descriptor format with INFORMATION', () => {
    const b = encodeSense({ key: 5, asc: 0x21, ascq: 0, information: 0x1000 }, true);
    expect(b.equals(hex('descriptor-lba-out-of-range-info'))).toBe(true);
    expect(decodeSense(b)).toMatchObject({ key: 5, asc: 0x21, ascq: 0, information: 0x1000 });
  });

  it('carries tape FILEMARK/EOM/ILI and a negative residue', () => {
    const s: SenseInfo = { key: 0, asc: 0, ascq: 0, ili: true, information: -512 };
    const fixed = decodeSense(encodeSense(s));
    expect(fixed).toMatchObject({ ili: true, information: -512 });
    const desc = decodeSense(encodeSense({ ...s, filemark: true }, true));
    expect(desc).toMatchObject({ ili: true, filemark: true, information: -512 });
  });

  it('rejects bytes that are not sense data', () => {
    expect(() => decodeSense(Buffer.from('0102030405060708', 'hex'))).toThrow(RangeError);
    expect(() => decodeSense(Buffer.alloc(3))).toThrow(RangeError);
  });
});
