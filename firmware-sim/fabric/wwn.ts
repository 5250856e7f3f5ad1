/**
 * World Wide Names (FC-FS): 64-bit port and node names. dmsim's canonical form is 16 lowercase hex
 * digits (what ITNexus carries); the colon form "21:00:00:24:ff:00:00:01" is what people type.
 */

const COMPACT = /^[0-9a-f]{16}$/i;
const COLON = /^[0-9a-f]{2}(:[0-9a-f]{2}){7}$/i;

export class WwnFormatError extends Error {
  constructor(readonly input: string) {
    super(`not a WWN: "${input}" (want 16 hex digits or 8 colon-separated bytes)`);
    this.name = 'WwnFormatError';
  }
}

export class Wwn {
  private constructor(
    /** 16 lowercase hex digits. */
    readonly hex: string,
  ) {}

  /** Parse "21:00:00:24:ff:00:00:01", "21000024FF000001" or "0x21000024ff000001". */
  static parse(s: string): Wwn {
    const t = s.trim().replace(/^0x/i, '');
    if (COMPACT.test(t)) return new Wwn(t.toLowerCase());
    if (COLON.test(t)) return new Wwn(t.replace(/:/g, '').toLowerCase());
    throw new WwnFormatError(s);
  }

  static fromBytes(b: Uint8Array): Wwn {
    if (b.length !== 8) throw new RangeError(`a WWN is 8 bytes, got ${b.length}`);
    return new Wwn(Buffer.from(b).toString('hex'));
  }

  static isValid(s: string): boolean {
    const t = s.trim().replace(/^0x/i, '');
    return COMPACT.test(t) || COLON.test(t);
  }

  /** NAA nibble (FC-FS): 1 IEEE, 2 IEEE extended, 3 locally assigned, 5 IEEE registered, 6 registered extended. */
  get naa(): number {
    return parseInt(this.hex[0]!, 16);
  }

  get bytes(): Buffer {
    return Buffer.from(this.hex, 'hex');
  }

  /** "21:00:00:24:ff:00:00:01" */
  get colon(): string {
    return this.hex.match(/../g)!.join(':');
  }

  toString(): string {
    return this.hex;
  }

  equals(o: Wwn | string): boolean {
    return this.hex === (typeof o === 'string' ? Wwn.parse(o).hex : o.hex);
  }
}

/** Canonical 16-hex-digit form of any accepted WWN spelling. */
export const normalizeWwn = (s: string): string => Wwn.parse(s).hex;

/** Colon form of any accepted WWN spelling. */
export const formatWwn = (s: string): string => Wwn.parse(s).colon;
