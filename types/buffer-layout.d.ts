// buffer-layout ships no types; this declares the subset dmsim uses.
declare module 'buffer-layout' {
  export class Layout<T = unknown> {
    span: number;
    property?: string;
    constructor(span: number, property?: string);
    decode(b: Uint8Array, offset?: number): T;
    encode(src: T, b: Uint8Array, offset?: number): number;
    getSpan(b?: Uint8Array, offset?: number): number;
    replicate(property: string): this;
  }
  export class Structure<T = Record<string, unknown>> extends Layout<T> {
    fields: Layout[];
    constructor(fields: Layout[], property?: string, decodePrefixes?: boolean);
    layoutFor(property: string): Layout | undefined;
    offsetOf(property: string): number | undefined;
  }
  export class Sequence<T = unknown> extends Layout<T[]> {
    constructor(elementLayout: Layout<T>, count: number | Layout<number>, property?: string);
  }
  export class Blob extends Layout<Uint8Array> {
    constructor(length: number | Layout<number>, property?: string);
  }
  export class BitStructure<T = Record<string, number | boolean>> extends Layout<T> {
    addField(bits: number, property: string): unknown;
    addBoolean(property: string): unknown;
  }
  export function u8(property?: string): Layout<number>;
  export function u16be(property?: string): Layout<number>;
  export function u24be(property?: string): Layout<number>;
  export function u32be(property?: string): Layout<number>;
  export function u40be(property?: string): Layout<number>;
  export function u48be(property?: string): Layout<number>;
  export function nu64be(property?: string): Layout<number>;
  export function u16(property?: string): Layout<number>;
  export function u32(property?: string): Layout<number>;
  export function s8(property?: string): Layout<number>;
  export function s32be(property?: string): Layout<number>;
  export function struct<T = Record<string, unknown>>(fields: Layout[], property?: string, decodePrefixes?: boolean): Structure<T>;
  export function seq<T>(elementLayout: Layout<T>, count: number | Layout<number>, property?: string): Sequence<T>;
  export function blob(length: number | Layout<number>, property?: string): Blob;
  export function bits<T = Record<string, number | boolean>>(word: Layout<number>, msb?: boolean, property?: string): BitStructure<T>;
  export function offset<T>(layout: Layout<T>, offset?: number, property?: string): Layout<T>;
  export function greedy(elementSpan?: number, property?: string): Layout<number>;
  export function cstr(property?: string): Layout<string>;
  export function utf8(maxSpan?: number, property?: string): Layout<string>;
  export function constant<T>(value: T, property?: string): Layout<T>;
}
