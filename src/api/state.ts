/**
 * JSON views of the running lab for the API and the dashboard: one place turns live objects
 * (LUs, drives, reservations, copy lists) into plain data.
 */
import type { LabRuntime, LuEntry } from '../../firmware-sim/lab/build.js';
import { Reservations } from '../../firmware-sim/lu/reservations.js';
import type { ScsiLogicalUnit } from '../../firmware-sim/lu/logical-unit.js';
import { decodeSense, hexByte, senseKeyName } from '../scsi/sense.js';
import type { CopyEntry } from '../../firmware-sim/copy-manager/list-table.js';
import { copyProgress } from '../../firmware-sim/copy-manager/copy-manager.js';

export interface LuView {
  name: string;
  device: string;
  lun: number;
  kind: string;
  targetPorts: string[];
  naa: string;
  vendor: string;
  product: string;
  disk?: { blocks: number; blockSize: number; bytes: number; thin: boolean; changedBlocks: number; writeProtected: boolean };
  tape?: Record<string, unknown>;
  reservation?: { spc2Holder?: string; persistent?: { type: number; key: string }; registrations: number };
  faults?: Record<string, unknown>;
}

export function reservationView(lu: ScsiLogicalUnit): LuView['reservation'] {
  const r = lu.reservations;
  if (!(r instanceof Reservations)) return undefined;
  const pr = r.reservation;
  return {
    ...(r.spc2Holder ? { spc2Holder: r.spc2Holder } : {}),
    ...(pr ? { persistent: { type: pr.type, key: `0x${pr.key.toString(16)}` } } : {}),
    registrations: r.registrations.length,
  };
}

export function luView(e: LuEntry): LuView {
  const id = e.lu.identity;
  const v: LuView = {
    name: e.name,
    device: e.device,
    lun: e.lun,
    kind: e.kind,
    targetPorts: e.targetPorts,
    naa: id.naa.toString('hex'),
    vendor: id.vendor,
    product: id.product,
  };
  if (e.disk) {
    const d = e.disk;
    v.disk = { blocks: d.blocks, blockSize: d.blockSize, bytes: d.blocks * d.blockSize, thin: d.thin, changedBlocks: d.changedBlockCount, writeProtected: d.writeProtected };
    v.faults = { ...d.faults.view() };
  }
  if (e.drive) {
    v.tape = { ...e.drive.status() };
    v.faults = { ...e.drive.faults.view(), ...e.drive.tapeFaults };
  }
  const lu = e.disk ?? e.drive ?? e.dataMover;
  if (lu && 'reservations' in lu) {
    const rv = reservationView(lu as ScsiLogicalUnit);
    if (rv) v.reservation = rv;
  }
  return v;
}

export interface CopyView {
  copyManager: string;
  lu: string;
  initiator: string;
  listId: number;
  state: string;
  segmentsProcessed: number;
  segments: number;
  bytesWritten: number;
  /** Bytes per second over the last sampling interval. */
  rate: number;
  /** Why a failed copy failed: its sense and the copy target's forwarded sense, decoded. */
  failure?: string;
}

const hx = (n: number) => hexByte(n, true);

/** "COPY ABORTED 0Dh/01h in segment 3; destination: MEDIUM ERROR 0Ch/00h" */
export function describeFailure(status: number, sense: Buffer | undefined): string {
  if (!sense) return `status ${hx(status)}h`;
  try {
    const s = decodeSense(sense);
    const part = (k: number, asc: number, ascq: number) => `${senseKeyName(k)} ${hx(asc)}h/${hx(ascq)}h`;
    let text = part(s.key, s.asc, s.ascq);
    if (s.commandSpecific !== undefined && s.key === 0x0a) text += ` in segment ${s.commandSpecific}`;
    for (const f of s.forwarded ?? []) {
      if (f.status === 0x18) text += `; ${f.source}: RESERVATION CONFLICT`;
      else if (f.sense.length >= 8) {
        const t = decodeSense(f.sense);
        text += `; ${f.source}: ${part(t.key, t.asc, t.ascq)}`;
      }
    }
    return text;
  } catch {
    return `status ${hx(status)}h, undecodable sense`;
  }
}

export function copyView(copyManager: string, e: CopyEntry): Omit<CopyView, 'rate'> {
  return {
    copyManager,
    ...copyProgress(e),
    ...(e.failure ? { failure: describeFailure(e.failure.status, e.failure.sense) } : {}),
  };
}

export function copyViews(runtime: LabRuntime): Omit<CopyView, 'rate'>[] {
  const out: Omit<CopyView, 'rate'>[] = [];
  for (const [name, cm] of runtime.copyManagers) for (const e of cm.table.all()) out.push(copyView(name, e));
  return out;
}

export function topologyView(runtime: LabRuntime) {
  return {
    name: runtime.config.name,
    fabric: runtime.config.fabric,
    ports: runtime.ports(),
    zones: runtime.fabric.zoning.names.map((name) => ({ name, members: [...(runtime.fabric.zoning.zone(name) ?? [])] })),
    devices: runtime.devices().map((d) => ({ name: d.name, wwnn: d.wwnn, ports: d.ports.map((p) => p.wwpn) })),
    linksDown: runtime.fabric.linksDown,
  };
}
