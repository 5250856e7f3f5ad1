/**
 * N_Port_ID (FC-FS): the 24-bit fabric address a port gets at fabric login, Domain | Area | Port.
 */

export class PortIdError extends Error {
  constructor(readonly input: string | number) {
    super(`not an N_Port_ID: ${String(input)} (want 24 bits: "010200", "0x010200" or "01:02:00")`);
    this.name = 'PortIdError';
  }
}

export class NPortId {
  private constructor(readonly value: number) {}

  static of(v: number): NPortId {
    if (!Number.isInteger(v) || v < 0 || v > 0xffffff) throw new PortIdError(v);
    return new NPortId(v);
  }

  static fromParts(domain: number, area: number, port: number): NPortId {
    if ([domain, area, port].some((x) => !Number.isInteger(x) || x < 0 || x > 0xff)) throw new PortIdError(`${domain}.${area}.${port}`);
    return new NPortId((domain << 16) | (area << 8) | port);
  }

  static parse(s: string): NPortId {
    const t = s.trim();
    if (/^[0-9a-f]{2}(:[0-9a-f]{2}){2}$/i.test(t)) return new NPortId(parseInt(t.replace(/:/g, ''), 16));
    if (/^(0x)?[0-9a-f]{1,6}$/i.test(t)) return new NPortId(parseInt(t.replace(/^0x/i, ''), 16));
    throw new PortIdError(s);
  }

  /** 3 bytes, big-endian, as FC frames and the CSCD N_Port_ID descriptor carry it. */
  static fromBytes(b: Uint8Array, offset = 0): NPortId {
    if (b.length - offset < 3) throw new RangeError('an N_Port_ID is 3 bytes');
    return new NPortId((b[offset]! << 16) | (b[offset + 1]! << 8) | b[offset + 2]!);
  }

  get domain(): number {
    return this.value >> 16;
  }

  get area(): number {
    return (this.value >> 8) & 0xff;
  }

  get port(): number {
    return this.value & 0xff;
  }

  get bytes(): Buffer {
    return Buffer.from([this.domain, this.area, this.port]);
  }

  /** "010200" */
  toString(): string {
    return this.value.toString(16).padStart(6, '0');
  }

  equals(o: NPortId | number): boolean {
    return this.value === (typeof o === 'number' ? o : o.value);
  }
}
