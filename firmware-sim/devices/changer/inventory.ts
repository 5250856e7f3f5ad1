/**
 * The element inventory of a tape library: which cartridge (by barcode) sits in which element, where
 * it came from (SOURCE STORAGE ELEMENT ADDRESS), whether the operator put it there (IMPEXP). The
 * element map (four contiguous address runs, smc.md §1.1) comes from the lab; the contents live in
 * one JSON file in the data directory.
 *
 * Crash safety: every change is a whole new state written to a temporary file beside it (src/atomic-write.ts), fsynced, renamed over the
 * file and the directory fsynced. A move is therefore either on disk entirely or not at all; a
 * process killed at any instant leaves each cartridge in exactly one element (its source or its
 * destination), never in both or none. The in-flight picker state (a cartridge in the transport
 * element while the robot moves) is memory only: after a crash the cartridge is where the last
 * committed state says, as a library's own inventory scan would find it.
 */
import { readFile } from 'node:fs/promises';
import { writeAtomic } from '../../../src/atomic-write.js';
import { ElementType, type ElementAddressAssignment, type ElementRun } from '../../../src/scsi/smc.js';

export type ElementMap = ElementAddressAssignment;

export interface Placement {
  barcode: string;
  /** Source storage element (SVALID=1 when set): the ST or IE element the cartridge last left. */
  source?: number;
  /** IE only: placed by the operator (imported) rather than by the robot. */
  impexp?: boolean;
}

export interface ElementInfo {
  address: number;
  type: ElementType;
  /** 0-based ordinal within its type (mtx "Storage Element N" is this + 1). */
  index: number;
  content?: Placement;
}

interface InventoryFile {
  version: 1;
  generation: number;
  /** Address (decimal string) → what it holds; empty elements are absent. */
  elements: Record<string, Placement>;
}

export class InventoryError extends Error {
  constructor(
    message: string,
    readonly kind: 'not-found' | 'conflict',
  ) {
    super(message);
    this.name = 'InventoryError';
  }
}

const RUNS: Array<[keyof ElementMap, ElementType]> = [
  ['transport', ElementType.TRANSPORT],
  ['storage', ElementType.STORAGE],
  ['importExport', ElementType.IMPORT_EXPORT],
  ['dataTransfer', ElementType.DATA_TRANSFER],
];

/** Check the map's runs: no address 0, inside 16 bits, no overlap (smc.md §6). Returns problems. */
export function checkElementMap(map: ElementMap): string[] {
  const problems: string[] = [];
  const runs = RUNS.map(([k]) => ({ k, r: map[k] })).filter((x) => x.r.count > 0);
  for (const { k, r } of runs) {
    if (r.first < 1) problems.push(`${k}: no element may have address 0000h (it means "default transport")`);
    if (r.first + r.count - 1 > 0xffff) problems.push(`${k}: addresses run past FFFFh`);
  }
  for (let i = 0; i < runs.length; i++)
    for (let j = i + 1; j < runs.length; j++) {
      const a = runs[i]!;
      const b = runs[j]!;
      if (a.r.first < b.r.first + b.r.count && b.r.first < a.r.first + a.r.count) problems.push(`${a.k} and ${b.k} address runs overlap`);
    }
  return problems;
}

const inRun = (r: ElementRun, a: number) => a >= r.first && a < r.first + r.count;

export class Inventory {
  private readonly contents = new Map<number, Placement>();
  private generation = 0;
  /** Serialises writers: one state file write at a time, in commit order. */
  private writing: Promise<void> = Promise.resolve();

  private constructor(
    readonly map: ElementMap,
    readonly file: string,
  ) {}

  /**
   * Open the inventory file, or start from `initial` when there is none. Cartridges the file puts in
   * elements that no longer exist, or that `known` does not list, are dropped (the lab changed);
   * `known` cartridges missing from the file are placed as `initial` says when that element is free.
   */
  static async open(file: string, map: ElementMap, initial: Map<number, Placement>, known?: ReadonlySet<string>): Promise<Inventory> {
    const inv = new Inventory(map, file);
    let saved: InventoryFile | undefined;
    try {
      saved = JSON.parse(await readFile(file, 'utf8')) as InventoryFile;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new Error(`inventory ${file} unreadable: ${String(e)}`);
    }
    const seen = new Set<string>();
    if (saved) {
      inv.generation = saved.generation;
      for (const [k, p] of Object.entries(saved.elements)) {
        const a = Number(k);
        if (inv.typeOf(a) === undefined || (known && !known.has(p.barcode)) || seen.has(p.barcode)) continue;
        inv.contents.set(a, { ...p });
        seen.add(p.barcode);
      }
    }
    let changed = !saved;
    for (const [a, p] of initial) {
      if (seen.has(p.barcode) || inv.contents.has(a) || inv.typeOf(a) === undefined || (known && !known.has(p.barcode))) continue;
      inv.contents.set(a, { ...p });
      seen.add(p.barcode);
      changed = true;
    }
    if (changed) await inv.commit();
    return inv;
  }

  typeOf(address: number): ElementType | undefined {
    for (const [k, t] of RUNS) if (inRun(this.map[k], address)) return t;
    return undefined;
  }

  runOf(type: ElementType): ElementRun {
    return this.map[RUNS.find(([, t]) => t === type)![0]];
  }

  element(address: number): ElementInfo | undefined {
    const type = this.typeOf(address);
    if (type === undefined) return undefined;
    const c = this.contents.get(address);
    return { address, type, index: address - this.runOf(type).first, ...(c ? { content: { ...c } } : {}) };
  }

  /** Every element in ascending address order. */
  elements(): ElementInfo[] {
    const out: ElementInfo[] = [];
    for (const [k] of RUNS) {
      const r = this.map[k];
      for (let a = r.first; a < r.first + r.count; a++) out.push(this.element(a)!);
    }
    return out.sort((x, y) => x.address - y.address);
  }

  content(address: number): Placement | undefined {
    const c = this.contents.get(address);
    return c && { ...c };
  }

  /** Where a cartridge is, or undefined when it is not in this library. */
  where(barcode: string): number | undefined {
    for (const [a, p] of this.contents) if (p.barcode === barcode) return a;
    return undefined;
  }

  barcodes(): string[] {
    return [...this.contents.values()].map((p) => p.barcode);
  }

  /**
   * Move the cartridge in `from` to the empty `to` and persist. The source address is updated only
   * when the cartridge leaves an ST or IE element (smc.md §6), so drive→drive hops keep the origin.
   */
  async move(from: number, to: number): Promise<void> {
    this.plan([[from, to]]);
    await this.commit();
  }

  /**
   * EXCHANGE MEDIUM: from → first, and what was in first → second (second may equal from), one commit.
   */
  async exchange(from: number, first: number, second: number): Promise<void> {
    this.plan([
      [from, first],
      [first, second],
    ]);
    await this.commit();
  }

  /** Put a new cartridge into an empty element (operator import through the I/E door, lab changes). */
  async insert(address: number, p: Placement): Promise<void> {
    if (this.typeOf(address) === undefined) throw new InventoryError(`no element ${hex(address)}`, 'not-found');
    if (this.contents.has(address)) throw new InventoryError(`element ${hex(address)} is full`, 'conflict');
    if (this.where(p.barcode) !== undefined) throw new InventoryError(`cartridge ${p.barcode} is already in the library`, 'conflict');
    this.contents.set(address, { ...p });
    await this.commit();
  }

  /** Take a cartridge out of the library (operator export from an I/E element). */
  async remove(address: number): Promise<Placement> {
    const p = this.contents.get(address);
    if (!p) throw new InventoryError(`element ${hex(address)} is empty`, 'conflict');
    this.contents.delete(address);
    await this.commit();
    return p;
  }

  /** Set or clear IMPEXP on every full IE element (the operator closed the station). */
  async markImported(addresses: number[]): Promise<void> {
    for (const a of addresses) {
      const p = this.contents.get(a);
      if (p) p.impexp = true;
    }
    await this.commit();
  }

  /** Apply moves as one step: every source is picked before anything is placed (an exchange's second destination may be its source). */
  private plan(steps: Array<[number, number]>): void {
    const next = new Map(this.contents);
    const picked: Array<[Placement, number, number]> = [];
    for (const [from, to] of steps) {
      const p = next.get(from);
      if (!p) throw new InventoryError(`element ${hex(from)} is empty`, 'conflict');
      next.delete(from);
      picked.push([p, from, to]);
    }
    for (const [p, from, to] of picked) {
      if (next.has(to)) throw new InventoryError(`element ${hex(to)} is full`, 'conflict');
      const ft = this.typeOf(from);
      const moved: Placement = { barcode: p.barcode, ...(p.source !== undefined ? { source: p.source } : {}) };
      if (from === to) Object.assign(moved, p);
      else if (ft === ElementType.STORAGE || ft === ElementType.IMPORT_EXPORT) moved.source = from;
      next.set(to, moved);
    }
    this.contents.clear();
    for (const [a, p] of next) this.contents.set(a, p);
  }

  /** Write the current state durably (temp file, fsync, rename, directory fsync). */
  private commit(): Promise<void> {
    const state: InventoryFile = { version: 1, generation: ++this.generation, elements: {} };
    for (const [a, p] of [...this.contents].sort((x, y) => x[0] - y[0])) state.elements[String(a)] = p;
    const data = JSON.stringify(state, null, 1);
    const run = this.writing.then(() => writeAtomic(this.file, data));
    this.writing = run.catch(() => undefined);
    return run;
  }
}

const hex = (a: number) => `${a.toString(16).toUpperCase().padStart(4, '0')}h`;
