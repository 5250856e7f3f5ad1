import { describe, expect, it } from 'vitest';
import { crc32c, crc32cUpdate, digestBytes } from '../../src/iscsi/crc32c.js';

describe('CRC32C', () => {
  it('matches the check value and RFC 3720 B.4 vectors', () => {
    expect(crc32c(Buffer.from('123456789'))).toBe(0xe3069283);
    expect(crc32c(Buffer.alloc(32))).toBe(0x8a9136aa);
    expect(digestBytes(crc32c(Buffer.alloc(32))).toString('hex')).toBe('aa36918a');
    expect(crc32c(Buffer.alloc(32, 0xff))).toBe(0x62a8ab43);
    expect(crc32c(Buffer.from(Array.from({ length: 32 }, (_, i) => i)))).toBe(0x46dd794e);
    expect(crc32c(Buffer.from(Array.from({ length: 32 }, (_, i) => 31 - i)))).toBe(0x113fdb5c);
    const readPdu = Buffer.from('01c000000000000000000000000000001400000000000400000000140000001828000000000000000200000000000000', 'hex');
    expect(crc32c(readPdu)).toBe(0xd9963a56);
  });

  it('gives the same value when fed in pieces at any split', () => {
    const b = Buffer.from(Array.from({ length: 1000 }, (_, i) => (i * 7 + 3) & 0xff));
    const whole = crc32c(b);
    for (const cut of [1, 5, 8, 9, 500, 999]) expect(crc32cUpdate(crc32c(b.subarray(0, cut)), b.subarray(cut))).toBe(whole);
    expect(crc32cUpdate(0, b, 10, 900)).toBe(crc32c(b.subarray(10, 900)));
  });
});
