/**
 * The lab as the rest of the code sees it, after the file has passed the schema and the semantic
 * checks: defaults filled in, sizes in bytes, WWNs as 16 lowercase hex digits, every reference
 * ("node/port", "device/lu") known to exist.
 */
import type { CopyProfileName } from '../copy-manager/profile.js';

/** Nodes on the fabric: hosts (initiators), arrays and routers (targets). Names share one namespace. */
export type NodeKind = 'host' | 'array' | 'router';

export interface ChapConfig {
  /** CHAP name and secret the initiator proves (target authenticates initiator). */
  user: string;
  secret: string;
  /** Mutual CHAP: name and secret the target proves back. */
  targetUser?: string;
  targetSecret?: string;
}

export interface HostPortConfig {
  name: string;
  wwpn: string;
  /** iSCSI initiator names that log in as this port. */
  iscsiNames: string[];
  /** When set, every initiator name of this port must authenticate with CHAP. */
  chap?: ChapConfig;
}

export interface HostConfig {
  name: string;
  wwnn: string;
  ports: HostPortConfig[];
}

export interface TargetPortConfig {
  name: string;
  wwpn: string;
  /** iSCSI target node name; derived from the node (and port) name when the file leaves it out. */
  iqn: string;
}

export type ContentGenerator = { fat: 'default' };

export interface DiskLuConfig {
  name: string;
  lun: number;
  /** Bytes; a multiple of blockSize. */
  size: number;
  blockSize: 512 | 4096;
  backing: 'file' | 'memory';
  /** Image file relative to the data directory (file backing only). */
  image?: string;
  /** Copy manager profile for EXTENDED COPY through this disk LU (3PC); absent = no copy manager here. */
  copyProfile?: CopyProfileName;
  /** Fills a new image (only when the image does not exist yet). */
  content?: ContentGenerator;
  vendor?: string;
  product?: string;
  /** RMB=1: START STOP UNIT (LOEJ) ejects and loads the medium, PREVENT ALLOW MEDIUM REMOVAL guards it. */
  removable: boolean;
  /** LOGICAL BLOCKS PER PHYSICAL BLOCK EXPONENT (READ CAPACITY(16)); 3 emulates a 512e drive. */
  physicalBlockExponent: number;
}

/** Where another process serves this node (`dmsim router --serve`): its iSCSI portal, "host:port". */
interface ServedElsewhere {
  portal?: string;
}

export interface ArrayConfig extends ServedElsewhere {
  name: string;
  wwnn: string;
  ports: TargetPortConfig[];
  lus: DiskLuConfig[];
}

export interface DataMoverConfig {
  name: string;
  lun: number;
  copyProfile: CopyProfileName;
  /** The data mover's own initiator port on the fabric (it reads disks and writes tapes through it). */
  initiator: { name: string; wwpn: string };
}

export interface TapeDriveConfig {
  name: string;
  lun: number;
  vendor?: string;
  product?: string;
}

export interface ScsiBusConfig {
  name: string;
  drives: TapeDriveConfig[];
}

export interface CartridgeConfig {
  barcode: string;
  /** Native capacity in bytes. */
  capacity: number;
  writeProtected: boolean;
  /** Drive name (in the same router) holding this cartridge at start. */
  loadedIn?: string;
  /** SIMH .tap image relative to the data directory. */
  image: string;
  /** Library (of this router) the cartridge is in at first start; absent = on the shelf. */
  library?: string;
  /** 1-based storage slot in that library (default: the first free one). */
  slot?: number;
}

/** Element address layouts of real libraries (smc.md §1.8). */
export type LibraryPersonality = 'dmsim' | 'ibm-ts3100' | 'stk-l700' | 'spectra-t';

export interface LibraryTimingConfig {
  positionMs: number;
  moveMs: number;
  driveLoadMs: number;
  driveUnloadMs: number;
  initializePerElementMs: number;
}

export interface LibraryConfig {
  name: string;
  lun: number;
  personality: LibraryPersonality;
  vendor?: string;
  product?: string;
  slots: number;
  importExport: number;
  /** Names of this router's drives that are the library's data transfer elements, in element order. */
  drives: string[];
  /** "instant" (0 ms), "realistic" (a mid-range library), or explicit milliseconds. */
  timing: 'instant' | 'realistic' | Partial<LibraryTimingConfig>;
  /** Refuse a MOVE from a threaded drive (5/3B/90) instead of auto-unloading it. */
  strictUnload: boolean;
}

export interface RouterConfig extends ServedElsewhere {
  name: string;
  wwnn: string;
  ports: TargetPortConfig[];
  dataMover: DataMoverConfig;
  buses: ScsiBusConfig[];
  vault: CartridgeConfig[];
  libraries: LibraryConfig[];
}

/**
 * A target on another iSCSI box (tgtd, a real array, another dmsim process): the data movers log in
 * to it with their own initiator names and may copy to and from its LUs (issue 17).
 */
export interface RemoteTargetConfig {
  name: string;
  /** "host:port" of its iSCSI portal. */
  portal: string;
  iqn: string;
  /** CHAP the data mover proves when it logs in. */
  chap?: ChapConfig;
  /** The port's WWPN on the lab fabric (zoning); default derived from the IQN. Its reference is "<name>/target". */
  wwpn: string;
}

export interface ZoneConfig {
  name: string;
  /** Port references ("node/port") or WWPNs, as written in the file. */
  members: string[];
}

export interface MaskingConfig {
  /** Initiator port reference ("host/port", "router/<data mover initiator>") or WWPN. */
  initiator: string;
  /** LU references "device/lu". */
  lus: string[];
}

export interface IscsiConfig {
  /** "host:port" */
  portal: string;
  unknownInitiators: 'reject' | 'default-zone';
  /** LUs an unknown initiator sees under "default-zone" (default: every LU). */
  defaultLus?: string[];
}

export interface ApiConfig {
  listen: string;
  token?: string;
}

export interface LabConfig {
  name: string;
  fabric: { name: string; defaultZone: 'no-access' | 'all-access' };
  hosts: HostConfig[];
  arrays: ArrayConfig[];
  routers: RouterConfig[];
  remoteTargets: RemoteTargetConfig[];
  zones: ZoneConfig[];
  masking: MaskingConfig[];
  iscsi: IscsiConfig;
  api: ApiConfig;
}

/** The prefix of every IQN dmsim derives for a target port. */
export const IQN_PREFIX = 'iqn.2026-11.dev.dmsim:';

/** A router's data mover as an iSCSI initiator (remote targets, other dmsim processes, iSNS). */
export const dataMoverIqn = (router: string): string => `${IQN_PREFIX}${router}.dm`.toLowerCase();
