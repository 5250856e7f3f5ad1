/**
 * The lab file format: a JSON Schema for shape (ajv), then semantic checks the schema cannot say
 * (unique names, WWNs and LUNs; references that exist; image paths inside the data directory).
 * Every problem is reported at once, each as a JSON path and a reason, so a lab author fixes the
 * file in one pass.
 */
import { checkElementMap } from '../devices/changer/inventory.js';
import { libraryMap } from './library-map.js';
import path from 'node:path';
import { derivedWwpn } from './derived-wwpn.js';
import { Ajv, type ErrorObject } from 'ajv';
import { PROFILES } from '../copy-manager/profile.js';
import {
  IQN_PREFIX,
  type ArrayConfig,
  type LabConfig,
  type RouterConfig,
  type TargetPortConfig,
} from './config.js';

export interface LabIssue {
  /** JSONPath-style location in the file, e.g. `$.arrays[0].lus[1].lun`. */
  path: string;
  message: string;
}

export class LabError extends Error {
  constructor(
    readonly issues: LabIssue[],
    readonly source = 'lab',
  ) {
    super(`${source}: ${issues.length} problem${issues.length === 1 ? '' : 's'}\n${issues.map((i) => `  ${i.path}: ${i.message}`).join('\n')}`);
    this.name = 'LabError';
  }
}

const NAME = '^[a-z0-9][a-z0-9-]{0,31}$';
/** FC WWN: 16 hex digits, bare or as colon-separated byte pairs. */
const WWN = '^([0-9A-Fa-f]{16}|[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){7})$';
/** iSCSI names (RFC 7143 §4.2.7): iqn., eui. or naa. forms; lowercase as the stringprep profile leaves them. */
const ISCSI_NAME = '^(iqn\\.[0-9]{4}-[0-9]{2}\\.[a-z0-9][a-z0-9.-]*(:[^\\s]+)?|eui\\.[0-9A-Fa-f]{16}|naa\\.([0-9A-Fa-f]{16}|[0-9A-Fa-f]{32}))$';
const SIZE = '^[0-9]+ ?(B|kB|KiB|MB|MiB|GB|GiB|TB|TiB)?$';
/** A size as the lab file writes it ("64MiB", "1 GiB"): for other schemas that take one (the management API). */
export const SIZE_PATTERN = SIZE;
const HOSTPORT = '^(\\[[0-9A-Fa-f:.]+\\]|[A-Za-z0-9.-]+):[0-9]{1,5}$';
const LUN = { type: 'integer', minimum: 0, maximum: 16383 } as const;
const size = { type: ['integer', 'string'], minimum: 1, pattern: SIZE } as const;
const name = { type: 'string', pattern: NAME } as const;
const wwn = { type: 'string', pattern: WWN } as const;
const ascii = (max: number) => ({ type: 'string', pattern: '^[\\x20-\\x7e]*$', maxLength: max }) as const;

const targetPort = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'wwpn'],
  properties: { name, wwpn: wwn, iqn: { type: 'string', pattern: '^iqn\\.[0-9]{4}-[0-9]{2}\\.[a-z0-9][a-z0-9.-]*(:[a-z0-9.:-]+)?$' } },
} as const;

const chap = {
  type: 'object',
  additionalProperties: false,
  required: ['user', 'secret'],
  properties: {
    user: { type: 'string', minLength: 1, maxLength: 255 },
    // RFC 7143 §12.1.3: secrets of at least 12 bytes (96 bits) when not generated randomly.
    secret: { type: 'string', minLength: 12, maxLength: 255 },
    targetUser: { type: 'string', minLength: 1, maxLength: 255 },
    targetSecret: { type: 'string', minLength: 12, maxLength: 255 },
  },
  dependencies: { targetUser: ['targetSecret'], targetSecret: ['targetUser'] },
} as const;

/** Copy manager profiles (firmware-sim/copy-manager/profile.ts): what EXTENDED COPY an LU accepts. */
const copyProfile = { enum: Object.keys(PROFILES) } as const;
/** Content generators for new disk images. */
export const FAT_GENERATORS = ['default'] as const;

/** The JSON Schema of a lab file (JSON Schema draft-07, ajv's default dialect). */
export const labSchema = {
  $id: 'https://dmsim.dev/schemas/lab.json',
  title: 'dmsim lab',
  type: 'object',
  additionalProperties: false,
  required: ['fabric'],
  properties: {
    $schema: { type: 'string' },
    name: { type: 'string', maxLength: 64, default: 'lab' },
    description: { type: 'string' },
    fabric: {
      type: 'object',
      additionalProperties: false,
      required: ['name'],
      properties: {
        name,
        defaultZone: { enum: ['no-access', 'all-access'], default: 'no-access' },
      },
    },
    hosts: {
      type: 'array',
      default: [],
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'wwnn', 'ports'],
        properties: {
          name,
          wwnn: wwn,
          ports: {
            type: 'array',
            minItems: 1,
            items: {
              type: 'object',
              additionalProperties: false,
              required: ['name', 'wwpn'],
              properties: {
                name,
                wwpn: wwn,
                iscsiNames: { type: 'array', default: [], items: { type: 'string', pattern: ISCSI_NAME, maxLength: 223 } },
                chap,
              },
            },
          },
        },
      },
    },
    arrays: {
      type: 'array',
      default: [],
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'wwnn', 'ports', 'lus'],
        properties: {
          name,
          wwnn: wwn,
          portal: { type: 'string', pattern: HOSTPORT },
          ports: { type: 'array', minItems: 1, items: targetPort },
          lus: {
            type: 'array',
            items: {
              type: 'object',
              additionalProperties: false,
              required: ['name', 'lun', 'size'],
              properties: {
                name,
                lun: LUN,
                size,
                blockSize: { enum: [512, 4096], default: 512 },
                backing: { enum: ['file', 'memory'], default: 'file' },
                image: { type: 'string', minLength: 1 },
                copyProfile,
                content: {
                  type: 'object',
                  additionalProperties: false,
                  required: ['fat'],
                  properties: { fat: { enum: FAT_GENERATORS } },
                },
                vendor: ascii(8),
                product: ascii(16),
                removable: { type: 'boolean', default: false },
                physicalBlockExponent: { type: 'integer', minimum: 0, maximum: 15, default: 0 },
              },
            },
          },
        },
      },
    },
    routers: {
      type: 'array',
      default: [],
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'wwnn', 'ports', 'dataMover'],
        properties: {
          name,
          wwnn: wwn,
          portal: { type: 'string', pattern: HOSTPORT },
          ports: { type: 'array', minItems: 1, items: targetPort },
          dataMover: {
            type: 'object',
            additionalProperties: false,
            required: ['lun', 'initiator'],
            properties: {
              name: { ...name, default: 'datamover' },
              lun: LUN,
              copyProfile: { ...copyProfile, default: 'full' },
              initiator: {
                type: 'object',
                additionalProperties: false,
                required: ['name', 'wwpn'],
                properties: { name, wwpn: wwn },
              },
            },
          },
          buses: {
            type: 'array',
            default: [],
            items: {
              type: 'object',
              additionalProperties: false,
              required: ['name', 'drives'],
              properties: {
                name,
                drives: {
                  type: 'array',
                  items: {
                    type: 'object',
                    additionalProperties: false,
                    required: ['name', 'lun'],
                    properties: { name, lun: LUN, vendor: ascii(8), product: ascii(16) },
                  },
                },
              },
            },
          },
          vault: {
            type: 'array',
            default: [],
            items: {
              type: 'object',
              additionalProperties: false,
              required: ['barcode', 'capacity'],
              properties: {
                barcode: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,32}$' },
                capacity: size,
                writeProtected: { type: 'boolean', default: false },
                loadedIn: name,
                image: { type: 'string', minLength: 1 },
                library: name,
                slot: { type: 'integer', minimum: 1, maximum: 4096 },
              },
            },
          },
          libraries: {
            type: 'array',
            default: [],
            items: {
              type: 'object',
              additionalProperties: false,
              required: ['name', 'lun'],
              properties: {
                name,
                lun: LUN,
                personality: { enum: ['dmsim', 'ibm-ts3100', 'stk-l700', 'spectra-t'], default: 'dmsim' },
                vendor: ascii(8),
                product: ascii(16),
                slots: { type: 'integer', minimum: 1, maximum: 4096, default: 40 },
                importExport: { type: 'integer', minimum: 0, maximum: 64, default: 4 },
                drives: { type: 'array', default: [], items: name },
                timing: {
                  default: 'realistic',
                  oneOf: [
                    { enum: ['instant', 'realistic'] },
                    {
                      type: 'object',
                      additionalProperties: false,
                      properties: Object.fromEntries(
                        ['positionMs', 'moveMs', 'driveLoadMs', 'driveUnloadMs', 'initializePerElementMs'].map((k) => [k, { type: 'integer', minimum: 0, maximum: 600000 }]),
                      ),
                    },
                  ],
                },
                strictUnload: { type: 'boolean', default: false },
              },
            },
          },
        },
      },
    },
    remoteTargets: {
      type: 'array',
      default: [],
      items: {
        type: 'object',
        additionalProperties: false,
        // No portal: the data movers learn it from iSNS (a tgtd registered there).
        required: ['name', 'iqn'],
        properties: {
          name,
          portal: { type: 'string', pattern: HOSTPORT },
          iqn: { type: 'string', pattern: ISCSI_NAME, maxLength: 223 },
          chap,
          wwpn: wwn,
        },
      },
    },
    zones: {
      type: 'array',
      default: [],
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'members'],
        properties: { name, members: { type: 'array', minItems: 1, items: { type: 'string', minLength: 1 } } },
      },
    },
    masking: {
      type: 'array',
      default: [],
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['initiator', 'lus'],
        properties: {
          initiator: { type: 'string', minLength: 1 },
          lus: { type: 'array', items: { type: 'string', minLength: 1 } },
        },
      },
    },
    iscsi: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        portal: { type: 'string', pattern: HOSTPORT, default: '127.0.0.1:3260' },
        unknownInitiators: { enum: ['reject', 'default-zone'], default: 'default-zone' },
        defaultLus: { type: 'array', items: { type: 'string', minLength: 1 } },
      },
    },
    api: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        listen: { type: 'string', pattern: HOSTPORT, default: '127.0.0.1:8080' },
        token: { type: 'string', minLength: 16 },
      },
    },
  },
} as const;

let compiled: ReturnType<Ajv['compile']> | undefined;
function validator() {
  if (!compiled) {
    const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: true, allowUnionTypes: true });
    compiled = ajv.compile(labSchema);
  }
  return compiled;
}

/** `/arrays/0/lus/1` → `$.arrays[0].lus[1]` */
export function jsonPath(pointer: string): string {
  if (!pointer) return '$';
  return (
    '$' +
    pointer
      .split('/')
      .slice(1)
      .map((seg) => seg.replace(/~1/g, '/').replace(/~0/g, '~'))
      .map((seg) => (/^[0-9]+$/.test(seg) ? `[${seg}]` : /^[A-Za-z_$][\w$]*$/.test(seg) ? `.${seg}` : `[${JSON.stringify(seg)}]`))
      .join('')
  );
}

function ajvIssue(e: ErrorObject): LabIssue {
  const at = jsonPath(e.instancePath);
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'additionalProperties':
      return { path: at, message: `unknown property "${String(p.additionalProperty)}"` };
    case 'required':
      return { path: at, message: `missing required property "${String(p.missingProperty)}"` };
    case 'enum':
      return { path: at, message: `must be one of ${(p.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}` };
    case 'pattern':
      return { path: at, message: `${describePattern(String(p.pattern))}` };
    case 'dependencies':
      return { path: at, message: `"${String(p.property)}" needs "${String(p.missingProperty)}" too` };
    default:
      return { path: at, message: e.message ?? e.keyword };
  }
}

function describePattern(pattern: string): string {
  if (pattern === NAME) return 'must be a name: lowercase letters, digits and "-", starting with a letter or digit, at most 32';
  if (pattern === WWN) return 'must be a WWN: 16 hex digits, e.g. "21000024ff000001" or "21:00:00:24:ff:00:00:01"';
  if (pattern === SIZE) return 'must be a size: bytes, or a number with B, kB, KiB, MB, MiB, GB, GiB, TB or TiB';
  if (pattern === HOSTPORT) return 'must be "host:port"';
  if (pattern === ISCSI_NAME) return 'must be an iSCSI name (iqn.yyyy-mm.reversed.domain[:id], eui.<16 hex> or naa.<hex>)';
  return `must match ${pattern}`;
}

const UNITS: Record<string, number> = {
  '': 1,
  B: 1,
  kB: 1e3,
  KiB: 2 ** 10,
  MB: 1e6,
  MiB: 2 ** 20,
  GB: 1e9,
  GiB: 2 ** 30,
  TB: 1e12,
  TiB: 2 ** 40,
};

/** "64MiB" → 67108864; integers pass through. */
export function parseSize(v: number | string): number {
  if (typeof v === 'number') return v;
  const m = /^([0-9]+) ?([A-Za-z]*)$/.exec(v);
  if (!m) return NaN;
  return Number(m[1]) * (UNITS[m[2]!] ?? NaN);
}

export function normalizeWwn(w: string): string {
  return w.replace(/:/g, '').toLowerCase();
}

/** FC Name_Identifier NAA types a port or node name may carry (FC-FS: 1, 2, 3, 5; 6 is 128-bit). */
const WWN_NAA = new Set(['1', '2', '3', '5']);

/**
 * True when `rel` names a file inside the data directory: relative, no `..` climbing out, no NUL.
 * The runtime resolves it against the data directory with `resolveInDataDir`.
 */
export function isInsideDataDir(rel: string): boolean {
  if (rel.includes('\0') || path.isAbsolute(rel) || path.win32.isAbsolute(rel)) return false;
  const norm = path.posix.normalize(rel.replace(/\\/g, '/'));
  return norm !== '.' && norm !== '..' && !norm.startsWith('../') && !norm.endsWith('/');
}

/** Resolve an image path against the data directory, refusing anything that would leave it. */
export function resolveInDataDir(dataDir: string, rel: string): string {
  if (!isInsideDataDir(rel)) throw new Error(`path "${rel}" is outside the data directory`);
  const root = path.resolve(dataDir);
  const full = path.resolve(root, rel);
  const back = path.relative(root, full);
  if (back.startsWith('..') || path.isAbsolute(back)) throw new Error(`path "${rel}" is outside the data directory`);
  return full;
}

/** IQN dmsim gives a target port the file does not name: by node, or node.port when the node has several ports. */
export function defaultTargetIqn(node: string, port: string, portsOnNode: number): string {
  return portsOnNode === 1 ? `${IQN_PREFIX}${node}` : `${IQN_PREFIX}${node}.${port}`;
}

interface RawLab {
  [k: string]: unknown;
}

/**
 * Validate a parsed lab file. Returns the normalized configuration or throws LabError listing every
 * problem found (schema problems first; semantic checks run only on a well-shaped file).
 */
export function validateLab(input: unknown, source = 'lab'): LabConfig {
  const raw = structuredClone(input) as RawLab;
  const validate = validator();
  if (!validate(raw)) {
    const issues = (validate.errors ?? []).map(ajvIssue);
    throw new LabError(dedupe(issues), source);
  }
  const lab = raw as unknown as LabConfig;
  const issues = semanticIssues(lab);
  if (issues.length) throw new LabError(issues, source);
  return lab;
}

function dedupe(issues: LabIssue[]): LabIssue[] {
  const seen = new Set<string>();
  return issues.filter((i) => {
    const k = `${i.path}\0${i.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

type PortKind = 'initiator' | 'target';

/** What the section checkers share: the issues so far and the lab-wide name spaces they fill. */
function checkContext() {
  const issues: LabIssue[] = [];
  const add = (p: string, message: string) => issues.push({ path: p, message });

  // One namespace for node names: IQNs and references ("node/port") are built from them.
  const nodes = new Map<string, string>();
  const nodeName = (n: string, at: string) => {
    const prev = nodes.get(n);
    if (prev) add(`${at}.name`, `node name "${n}" is already used at ${prev}`);
    else nodes.set(n, at);
  };
  const wwns = new Map<string, string>();
  const wwnOf = (w: string, at: string): string => {
    const n = normalizeWwn(w);
    if (!WWN_NAA.has(n[0]!)) add(at, `WWN ${w} has NAA type ${n[0]}; FC names use NAA 1, 2, 3 or 5`);
    const prev = wwns.get(n);
    if (prev) add(at, `WWN ${w} is already used at ${prev}`);
    else wwns.set(n, at);
    return n;
  };
  /** "node/port" → port facts, for zones and masking. */
  const ports = new Map<string, { kind: PortKind; wwpn: string }>();
  const portsByWwpn = new Map<string, { kind: PortKind; ref: string }>();
  const addPort = (ref: string, kind: PortKind, wwpn: string) => {
    ports.set(ref, { kind, wwpn });
    portsByWwpn.set(wwpn, { kind, ref });
  };
  /** "device/lu" → the device's name. */
  const lus = new Map<string, string>();
  const images = new Map<string, string>();
  const image = (rel: string, at: string) => {
    if (!isInsideDataDir(rel)) {
      add(at, `image path "${rel}" must be relative and stay inside the data directory`);
      return;
    }
    const key = path.posix.normalize(rel.replace(/\\/g, '/'));
    const prev = images.get(key);
    if (prev) add(at, `image "${rel}" is already used at ${prev}`);
    else images.set(key, at);
  };
  const uniqueWithin = (kind: string, names: string[], at: (i: number) => string) => {
    const seen = new Map<string, number>();
    names.forEach((n, i) => {
      const j = seen.get(n);
      if (j !== undefined) add(at(i), `${kind} "${n}" is already used at ${at(j)}`);
      else seen.set(n, i);
    });
  };
  const targetPorts = (node: string, list: TargetPortConfig[], at: string) => {
    uniqueWithin('port name', list.map((p) => p.name), (i) => `${at}.ports[${i}].name`);
    list.forEach((p, i) => {
      p.wwpn = wwnOf(p.wwpn, `${at}.ports[${i}].wwpn`);
      p.iqn ??= defaultTargetIqn(node, p.name, list.length);
      addPort(`${node}/${p.name}`, 'target', p.wwpn);
    });
  };

  const portRef = (ref: string): { kind: PortKind; wwpn: string } | undefined => {
    const byRef = ports.get(ref);
    if (byRef) return byRef;
    if (new RegExp(WWN).test(ref)) {
      const w = normalizeWwn(ref);
      const p = portsByWwpn.get(w);
      return p ? { kind: p.kind, wwpn: w } : undefined;
    }
    return undefined;
  };

  return { issues, add, nodeName, wwnOf, ports, addPort, lus, image, uniqueWithin, targetPorts, portRef };
}
type CheckContext = ReturnType<typeof checkContext>;

/** Hosts: node names, WWNs, initiator ports and their iSCSI names. */
function checkHosts(c: CheckContext, lab: LabConfig): void {
  const { add, nodeName, wwnOf, addPort, uniqueWithin } = c;
  const iscsiNames = new Map<string, string>();
  lab.hosts.forEach((h, hi) => {
    const at = `$.hosts[${hi}]`;
    nodeName(h.name, at);
    h.wwnn = wwnOf(h.wwnn, `${at}.wwnn`);
    uniqueWithin('port name', h.ports.map((p) => p.name), (i) => `${at}.ports[${i}].name`);
    h.ports.forEach((p, pi) => {
      const pat = `${at}.ports[${pi}]`;
      p.wwpn = wwnOf(p.wwpn, `${pat}.wwpn`);
      addPort(`${h.name}/${p.name}`, 'initiator', p.wwpn);
      p.iscsiNames.forEach((n, ni) => {
        const prev = iscsiNames.get(n);
        if (prev) add(`${pat}.iscsiNames[${ni}]`, `iSCSI name "${n}" is already mapped at ${prev}`);
        else iscsiNames.set(n, `${pat}.iscsiNames[${ni}]`);
      });
      if (p.chap && p.iscsiNames.length === 0) add(`${pat}.chap`, 'CHAP secrets without iscsiNames would never be used');
    });
  });
}

/** Arrays: target ports, LU names and LUNs, sizes and images. */
function checkArrays(c: CheckContext, lab: LabConfig): void {
  const { add, nodeName, wwnOf, lus, image, uniqueWithin, targetPorts } = c;
  lab.arrays.forEach((a: ArrayConfig, ai) => {
    const at = `$.arrays[${ai}]`;
    nodeName(a.name, at);
    a.wwnn = wwnOf(a.wwnn, `${at}.wwnn`);
    targetPorts(a.name, a.ports, at);
    uniqueWithin('LU name', a.lus.map((l) => l.name), (i) => `${at}.lus[${i}].name`);
    uniqueWithin('LUN', a.lus.map((l) => String(l.lun)), (i) => `${at}.lus[${i}].lun`);
    a.lus.forEach((l, li) => {
      const lat = `${at}.lus[${li}]`;
      lus.set(`${a.name}/${l.name}`, a.name);
      const bytes = parseSize(l.size as number | string);
      if (!Number.isSafeInteger(bytes) || bytes <= 0) add(`${lat}.size`, `size ${JSON.stringify(l.size)} is not a positive whole number of bytes`);
      else if (bytes % l.blockSize !== 0) add(`${lat}.size`, `size ${bytes} is not a multiple of blockSize ${l.blockSize}`);
      l.size = bytes;
      if (l.backing === 'memory') {
        if (l.image !== undefined) add(`${lat}.image`, 'a memory-backed LU has no image file');
      } else {
        l.image ??= `${a.name}/${l.name}.img`;
        image(l.image, `${lat}.image`);
      }
    });
  });
}

/** Routers: ports, the data mover, buses, libraries and the vault. */
function checkRouters(c: CheckContext, lab: LabConfig): void {
  const { add, nodeName, wwnOf, ports, addPort, lus, image, uniqueWithin, targetPorts } = c;
  lab.routers.forEach((r: RouterConfig, ri) => {
    const at = `$.routers[${ri}]`;
    nodeName(r.name, at);
    r.wwnn = wwnOf(r.wwnn, `${at}.wwnn`);
    targetPorts(r.name, r.ports, at);
    const dm = r.dataMover;
    dm.initiator.wwpn = wwnOf(dm.initiator.wwpn, `${at}.dataMover.initiator.wwpn`);
    const initRef = `${r.name}/${dm.initiator.name}`;
    if (ports.has(initRef)) add(`${at}.dataMover.initiator.name`, `port name "${dm.initiator.name}" is already a target port of ${r.name}`);
    else addPort(initRef, 'initiator', dm.initiator.wwpn);
    // LU names and LUNs are unique across the data mover and every bus: one target, one LUN space.
    const luNames: Array<[string, string]> = [[dm.name, `${at}.dataMover.name`]];
    const luns: Array<[string, string]> = [[String(dm.lun), `${at}.dataMover.lun`]];
    lus.set(`${r.name}/${dm.name}`, r.name);
    const drives = new Set<string>();
    uniqueWithin('bus name', r.buses.map((b) => b.name), (i) => `${at}.buses[${i}].name`);
    r.buses.forEach((b, bi) =>
      b.drives.forEach((d, di) => {
        const dat = `${at}.buses[${bi}].drives[${di}]`;
        luNames.push([d.name, `${dat}.name`]);
        luns.push([String(d.lun), `${dat}.lun`]);
        drives.add(d.name);
        lus.set(`${r.name}/${d.name}`, r.name);
      }),
    );
    const libDrives = new Map<string, string>();
    r.libraries.forEach((lib, li) => {
      const lat = `${at}.libraries[${li}]`;
      luNames.push([lib.name, `${lat}.name`]);
      luns.push([String(lib.lun), `${lat}.lun`]);
      lus.set(`${r.name}/${lib.name}`, r.name);
      lib.drives.forEach((d, di) => {
        if (!drives.has(d)) add(`${lat}.drives[${di}]`, `no tape drive "${d}" in router ${r.name}`);
        const prev = libDrives.get(d);
        if (prev) add(`${lat}.drives[${di}]`, `drive "${d}" is already a data transfer element at ${prev}`);
        else libDrives.set(d, `${lat}.drives[${di}]`);
      });
      const map = libraryMap(lib);
      for (const p of checkElementMap(map)) add(lat, p);
    });
    const slotsTaken = new Map<string, string>();
    r.vault.forEach((c, ci) => {
      const cat = `${at}.vault[${ci}]`;
      if (c.library === undefined) {
        if (c.slot !== undefined) add(`${cat}.slot`, 'a slot needs a library');
        return;
      }
      const lib = r.libraries.find((l) => l.name === c.library);
      if (!lib) return add(`${cat}.library`, `no library "${c.library}" in router ${r.name}`);
      if (c.loadedIn !== undefined && !lib.drives.includes(c.loadedIn)) add(`${cat}.loadedIn`, `drive "${c.loadedIn}" is not a drive of library ${lib.name}`);
      if (c.slot !== undefined) {
        if (c.slot > lib.slots) add(`${cat}.slot`, `library ${lib.name} has ${lib.slots} slots`);
        const key = `${lib.name}/${c.slot}`;
        const prev = slotsTaken.get(key);
        if (prev) add(`${cat}.slot`, `slot ${c.slot} already holds the cartridge at ${prev}`);
        else slotsTaken.set(key, cat);
      }
    });
    if (r.vault.filter((c) => c.library === undefined).some((c) => c.loadedIn && libDrives.has(c.loadedIn))) {
      r.vault.forEach((c, ci) => {
        if (c.library === undefined && c.loadedIn && libDrives.has(c.loadedIn)) add(`$.routers[${ri}].vault[${ci}].loadedIn`, `drive "${c.loadedIn}" belongs to a library; name the library`);
      });
    }
    for (const [kind, list] of [['LU name', luNames], ['LUN', luns]] as const) {
      const seen = new Map<string, string>();
      for (const [v, p] of list) {
        const prev = seen.get(v);
        if (prev) add(p, `${kind} "${v}" is already used at ${prev}`);
        else seen.set(v, p);
      }
    }
    const loaded = new Map<string, string>();
    r.vault.forEach((c, ci) => {
      const cat = `${at}.vault[${ci}]`;
      const bytes = parseSize(c.capacity as number | string);
      if (!Number.isSafeInteger(bytes) || bytes <= 0) add(`${cat}.capacity`, `capacity ${JSON.stringify(c.capacity)} is not a positive whole number of bytes`);
      c.capacity = bytes;
      c.image ??= `tapes/${c.barcode}.tap`;
      image(c.image, `${cat}.image`);
      if (c.loadedIn !== undefined) {
        if (!drives.has(c.loadedIn)) add(`${cat}.loadedIn`, `no tape drive "${c.loadedIn}" in router ${r.name}`);
        const prev = loaded.get(c.loadedIn);
        if (prev) add(`${cat}.loadedIn`, `drive "${c.loadedIn}" already holds the cartridge at ${prev}`);
        else loaded.set(c.loadedIn, cat);
      }
    });
  });
}

/** Barcodes are unique in the whole lab: catalogs and the API name cartridges by barcode alone. */
function checkBarcodes(c: CheckContext, lab: LabConfig): void {
  const { uniqueWithin } = c;
  const barcodes: string[] = [];
  const barcodeAt: string[] = [];
  lab.routers.forEach((r, ri) =>
    r.vault.forEach((c, ci) => {
      barcodes.push(c.barcode);
      barcodeAt.push(`$.routers[${ri}].vault[${ci}].barcode`);
    }),
  );
  uniqueWithin('barcode', barcodes, (i) => barcodeAt[i]!);
}

/** Remote targets: node names, WWPNs (derived from the IQN when absent), one entry per IQN. */
function checkRemoteTargets(c: CheckContext, lab: LabConfig): void {
  const { add, nodeName, wwnOf, addPort } = c;
  const remoteIqns = new Map<string, string>();
  lab.remoteTargets.forEach((t, ti) => {
    const at = `$.remoteTargets[${ti}]`;
    nodeName(t.name, at);
    t.wwpn = wwnOf(t.wwpn ?? derivedWwpn(t.iqn), `${at}.wwpn`);
    addPort(`${t.name}/target`, 'target', t.wwpn);
    const prev = remoteIqns.get(t.iqn);
    if (prev) add(`${at}.iqn`, `remote target "${t.iqn}" is already listed at ${prev}`);
    else remoteIqns.set(t.iqn, at);
  });
}

/** Zones: unique names, none of dmsim's own, members that are ports of the lab. */
function checkZones(c: CheckContext, lab: LabConfig): void {
  const { add, uniqueWithin, portRef } = c;
  uniqueWithin('zone name', lab.zones.map((z) => z.name), (i) => `$.zones[${i}].name`);
  // dmsim defines these zones itself (unknown iSCSI initiators, arrays' internal copy managers).
  lab.zones.forEach((z, zi) => {
    if (z.name === 'iscsi-default' || lab.arrays.some((a) => z.name === `${a.name}-copy-manager`)) add(`$.zones[${zi}].name`, `zone name "${z.name}" is reserved for dmsim's own zones`);
  });
  lab.zones.forEach((z, zi) =>
    z.members.forEach((m, mi) => {
      if (!portRef(m)) add(`$.zones[${zi}].members[${mi}]`, `no port "${m}" in the lab (write "node/port" or a WWPN of a port)`);
    }),
  );
}

/** Masking: one entry per initiator port, LUs that exist. */
function checkMasking(c: CheckContext, lab: LabConfig): void {
  const { add, lus, portRef } = c;
  const maskedInitiators = new Map<string, string>();
  lab.masking.forEach((m, mi) => {
    const at = `$.masking[${mi}]`;
    const p = portRef(m.initiator);
    if (!p) add(`${at}.initiator`, `no port "${m.initiator}" in the lab`);
    else if (p.kind !== 'initiator') add(`${at}.initiator`, `"${m.initiator}" is a target port, not an initiator port`);
    else {
      const prev = maskedInitiators.get(p.wwpn);
      if (prev) add(`${at}.initiator`, `initiator "${m.initiator}" already has a masking entry at ${prev}`);
      else maskedInitiators.set(p.wwpn, at);
    }
    m.lus.forEach((l, li) => {
      if (!lus.has(l)) add(`${at}.lus[${li}]`, `no LU "${l}" in the lab (write "device/lu")`);
    });
  });
}

/** The LUs of the iSCSI default zone exist. */
function checkIscsi(c: CheckContext, lab: LabConfig): void {
  const { add, lus } = c;
  lab.iscsi.defaultLus?.forEach((l, li) => {
    if (!lus.has(l)) add(`$.iscsi.defaultLus[${li}]`, `no LU "${l}" in the lab (write "device/lu")`);
  });
}

/**
 * The checks a schema cannot express, one checker per section in the order the sections come.
 * Also normalizes in place: sizes to bytes, WWNs to bare lowercase hex, default IQNs and image paths.
 */
function semanticIssues(lab: LabConfig): LabIssue[] {
  const c = checkContext();
  checkHosts(c, lab);
  checkArrays(c, lab);
  checkRouters(c, lab);
  checkBarcodes(c, lab);
  checkRemoteTargets(c, lab);
  checkZones(c, lab);
  checkMasking(c, lab);
  checkIscsi(c, lab);
  return c.issues;
}
