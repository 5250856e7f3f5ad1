/** Serial number arithmetic (RFC 1982, SERIAL_BITS = 32) for CmdSN, StatSN, DataSN. */
export const serialLt = (a: number, b: number): boolean => a !== b && ((b - a) >>> 0) < 0x80000000;
export const serialGt = (a: number, b: number): boolean => serialLt(b, a);
export const serialLe = (a: number, b: number): boolean => a === b || serialLt(a, b);
