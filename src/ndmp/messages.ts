/**
 * NDMP v4 messages: the 24-byte header and one body codec per request and reply (reference
 * ndmp.md §1.2, §2). The server decodes requests and encodes replies with these; the test client
 * does the opposite with the same codecs. Posts (NOTIFY/LOG/FH) have a request body and no reply.
 */
import { AddrType, AuthType, Msg } from './constants.js';
import { arrayOf, empty, fixedOpaque, hyper, i32, opaque, str, struct, u32, XdrError, XdrReader, XdrWriter, type Codec, type Of } from './xdr.js';

// ------------------------------------------------------------------ header

export interface Header {
  sequence: number;
  timeStamp: number;
  messageType: number;
  message: number;
  replySequence: number;
  error: number;
}
export const HEADER_LENGTH = 24;
export const header = struct({ sequence: u32, timeStamp: u32, messageType: u32, message: u32, replySequence: u32, error: u32 });

export function decodeHeader(r: XdrReader): Header {
  if (r.remaining < HEADER_LENGTH) throw new XdrError(`header: ${r.remaining} bytes, 24 needed`);
  return header.dec(r);
}

// ------------------------------------------------------------------ shared types

export const pval = struct({ name: str, value: str });
export type Pval = Of<typeof pval>;
export const pvals = arrayOf(pval, 8);

export const tcpAddr = struct({ ip_addr: u32, port: u32, addr_env: pvals });
export type TcpAddr = Of<typeof tcpAddr>;

/** ndmp4_addr: union on addr_type (LOCAL void, TCP list, IPC opaque). */
export type Addr = { addr_type: typeof AddrType.LOCAL } | { addr_type: typeof AddrType.TCP; tcp: TcpAddr[] } | { addr_type: typeof AddrType.IPC; comm_data: Buffer };
const tcpList = arrayOf(tcpAddr, 12);
export const addr: Codec<Addr> = {
  enc: (w, v) => {
    w.u32(v.addr_type);
    if (v.addr_type === AddrType.TCP) tcpList.enc(w, v.tcp);
    else if (v.addr_type === AddrType.IPC) w.opaque(v.comm_data);
  },
  dec: (r) => {
    const t = r.u32('addr_type');
    if (t === AddrType.LOCAL) return { addr_type: AddrType.LOCAL };
    if (t === AddrType.TCP) return { addr_type: AddrType.TCP, tcp: tcpList.dec(r) };
    if (t === AddrType.IPC) return { addr_type: AddrType.IPC, comm_data: r.opaque('comm_data') };
    throw new XdrError(`addr_type ${t} is not LOCAL, TCP or IPC`);
  },
};
export const LOCAL_ADDR: Addr = { addr_type: AddrType.LOCAL };

/** auth_data (CLIENT_AUTH, SERVER_AUTH reply): union on auth_type. */
export type AuthData = { auth_type: typeof AuthType.NONE } | { auth_type: typeof AuthType.TEXT; auth_id: string; auth_password: string } | { auth_type: typeof AuthType.MD5; auth_id: string; auth_digest: Buffer };
const digest16 = fixedOpaque(16);
export const authData: Codec<AuthData> = {
  enc: (w, v) => {
    w.u32(v.auth_type);
    if (v.auth_type === AuthType.TEXT) {
      str.enc(w, v.auth_id);
      str.enc(w, v.auth_password);
    } else if (v.auth_type === AuthType.MD5) {
      str.enc(w, v.auth_id);
      digest16.enc(w, v.auth_digest);
    }
  },
  dec: (r) => {
    const t = r.u32('auth_type');
    if (t === AuthType.NONE) return { auth_type: AuthType.NONE };
    if (t === AuthType.TEXT) return { auth_type: AuthType.TEXT, auth_id: str.dec(r), auth_password: str.dec(r) };
    if (t === AuthType.MD5) return { auth_type: AuthType.MD5, auth_id: str.dec(r), auth_digest: digest16.dec(r) };
    throw new XdrError(`auth_type ${t} is not NONE, TEXT or MD5`);
  },
};

/** auth_attr (GET_AUTH_ATTR reply, SERVER_AUTH request): MD5 carries the 64-byte challenge. */
export type AuthAttr = { auth_type: typeof AuthType.NONE | typeof AuthType.TEXT } | { auth_type: typeof AuthType.MD5; challenge: Buffer };
const challenge64 = fixedOpaque(64);
export const authAttr: Codec<AuthAttr> = {
  enc: (w, v) => {
    w.u32(v.auth_type);
    if (v.auth_type === AuthType.MD5) challenge64.enc(w, v.challenge);
  },
  dec: (r) => {
    const t = r.u32('auth_type');
    if (t === AuthType.NONE || t === AuthType.TEXT) return { auth_type: t };
    if (t === AuthType.MD5) return { auth_type: AuthType.MD5, challenge: challenge64.dec(r) };
    throw new XdrError(`auth_type ${t} is not NONE, TEXT or MD5`);
  },
};

/** file_name: union on fs_type (UNIX → one string, NT → path + DOS path, else → other_name). */
export type FileName = { fs_type: 0; unix_name: string } | { fs_type: 1; nt_path: string; dos_path: string } | { fs_type: number; other_name: string };
export const fileName: Codec<FileName> = {
  enc: (w, v) => {
    w.u32(v.fs_type);
    if ('unix_name' in v) str.enc(w, v.unix_name);
    else if ('nt_path' in v) {
      str.enc(w, v.nt_path);
      str.enc(w, v.dos_path);
    } else str.enc(w, v.other_name);
  },
  dec: (r) => {
    const t = r.u32('fs_type');
    if (t === 0) return { fs_type: 0, unix_name: str.dec(r) };
    if (t === 1) return { fs_type: 1, nt_path: str.dec(r), dos_path: str.dec(r) };
    return { fs_type: t, other_name: str.dec(r) };
  },
};
export const fileStat = struct({
  unsupported: u32,
  fs_type: u32,
  ftype: u32,
  mtime: u32,
  atime: u32,
  ctime: u32,
  owner: u32,
  group: u32,
  fattr: u32,
  size: hyper,
  links: u32,
});
export type FileStat = Of<typeof fileStat>;

export const deviceCapability = struct({ device: str, attr: u32, capability: pvals });
export const deviceInfo = struct({ model: str, caplist: arrayOf(deviceCapability, 12) });
export type DeviceInfo = Of<typeof deviceInfo>;
export const butypeInfo = struct({ butype_name: str, default_env: pvals, attrs: u32 });
export const fsInfo = struct({
  unsupported: u32,
  fs_type: str,
  fs_logical_device: str,
  fs_physical_device: str,
  total_size: hyper,
  used_size: hyper,
  avail_size: hyper,
  total_inodes: hyper,
  used_inodes: hyper,
  fs_env: pvals,
  fs_status: str,
});
export type FsInfo = Of<typeof fsInfo>;
export const nameEntry = struct({ original_path: str, destination_path: str, name: str, other_name: str, node: hyper, fh_info: hyper });
export type NameEntry = Of<typeof nameEntry>;

const errorOnly = struct({ error: u32 });
const executeCdbReq = struct({ flags: u32, timeout: u32, datain_len: u32, cdb: opaque, dataout: opaque });
const executeCdbRep = struct({ error: u32, status: u32, dataout_len: u32, datain: opaque, ext_sense: opaque });
const recoverReq = struct({ env: pvals, nlist: arrayOf(nameEntry, 40), butype_name: str });

// ------------------------------------------------------------------ the message table

export interface MessageDef<Q = unknown, P = unknown> {
  name: string;
  request: Codec<Q>;
  /** Undefined for posts and CONNECT_CLOSE, which get no reply. */
  reply?: Codec<P>;
}
function def<Q>(name: string, request: Codec<Q>): { name: string; request: Codec<Q> };
function def<Q, P>(name: string, request: Codec<Q>, reply: Codec<P>): { name: string; request: Codec<Q>; reply: Codec<P> };
function def<Q, P>(name: string, request: Codec<Q>, reply?: Codec<P>): MessageDef<Q, P> {
  return reply ? { name, request, reply } : { name, request };
}

export const messages = {
  [Msg.CONNECT_OPEN]: def('CONNECT_OPEN', struct({ protocol_version: u32 }), errorOnly),
  [Msg.CONNECT_CLIENT_AUTH]: def('CONNECT_CLIENT_AUTH', struct({ auth_data: authData }), errorOnly),
  [Msg.CONNECT_CLOSE]: def('CONNECT_CLOSE', empty),
  [Msg.CONNECT_SERVER_AUTH]: def('CONNECT_SERVER_AUTH', struct({ client_attr: authAttr }), struct({ error: u32, server_result: authData })),

  [Msg.CONFIG_GET_HOST_INFO]: def('CONFIG_GET_HOST_INFO', empty, struct({ error: u32, hostname: str, os_type: str, os_vers: str, hostid: str })),
  [Msg.CONFIG_GET_CONNECTION_TYPE]: def('CONFIG_GET_CONNECTION_TYPE', empty, struct({ error: u32, addr_types: arrayOf(u32) })),
  [Msg.CONFIG_GET_AUTH_ATTR]: def('CONFIG_GET_AUTH_ATTR', struct({ auth_type: u32 }), struct({ error: u32, server_attr: authAttr })),
  [Msg.CONFIG_GET_BUTYPE_INFO]: def('CONFIG_GET_BUTYPE_INFO', empty, struct({ error: u32, butype_info: arrayOf(butypeInfo, 12) })),
  [Msg.CONFIG_GET_FS_INFO]: def('CONFIG_GET_FS_INFO', empty, struct({ error: u32, fs_info: arrayOf(fsInfo, 64) })),
  [Msg.CONFIG_GET_TAPE_INFO]: def('CONFIG_GET_TAPE_INFO', empty, struct({ error: u32, tape_info: arrayOf(deviceInfo, 8) })),
  [Msg.CONFIG_GET_SCSI_INFO]: def('CONFIG_GET_SCSI_INFO', empty, struct({ error: u32, scsi_info: arrayOf(deviceInfo, 8) })),
  [Msg.CONFIG_GET_SERVER_INFO]: def('CONFIG_GET_SERVER_INFO', empty, struct({ error: u32, vendor_name: str, product_name: str, revision_number: str, auth_type: arrayOf(u32) })),
  [Msg.CONFIG_SET_EXT_LIST]: def('CONFIG_SET_EXT_LIST', struct({ ndmp_selected_ext: arrayOf(struct({ class_id: u32, class_version: u32 }), 8) }), errorOnly),
  [Msg.CONFIG_GET_EXT_LIST]: def('CONFIG_GET_EXT_LIST', empty, struct({ error: u32, class_list: arrayOf(struct({ class_id: u32, class_version: arrayOf(u32) }), 8) })),

  [Msg.SCSI_OPEN]: def('SCSI_OPEN', struct({ device: str }), errorOnly),
  [Msg.SCSI_CLOSE]: def('SCSI_CLOSE', empty, errorOnly),
  [Msg.SCSI_GET_STATE]: def('SCSI_GET_STATE', empty, struct({ error: u32, target_controller: i32, target_id: i32, target_lun: i32 })),
  [Msg.SCSI_RESET_DEVICE]: def('SCSI_RESET_DEVICE', empty, errorOnly),
  [Msg.SCSI_EXECUTE_CDB]: def('SCSI_EXECUTE_CDB', executeCdbReq, executeCdbRep),

  [Msg.TAPE_OPEN]: def('TAPE_OPEN', struct({ device: str, mode: u32 }), errorOnly),
  [Msg.TAPE_CLOSE]: def('TAPE_CLOSE', empty, errorOnly),
  [Msg.TAPE_GET_STATE]: def(
    'TAPE_GET_STATE',
    empty,
    struct({ unsupported: u32, error: u32, flags: u32, file_num: u32, soft_errors: u32, block_size: u32, blockno: u32, total_space: hyper, space_remain: hyper }),
  ),
  [Msg.TAPE_MTIO]: def('TAPE_MTIO', struct({ tape_op: u32, count: u32 }), struct({ error: u32, resid_count: u32 })),
  [Msg.TAPE_WRITE]: def('TAPE_WRITE', struct({ data_out: opaque }), struct({ error: u32, count: u32 })),
  [Msg.TAPE_READ]: def('TAPE_READ', struct({ count: u32 }), struct({ error: u32, data_in: opaque })),
  [Msg.TAPE_EXECUTE_CDB]: def('TAPE_EXECUTE_CDB', executeCdbReq, executeCdbRep),

  [Msg.DATA_GET_STATE]: def(
    'DATA_GET_STATE',
    empty,
    struct({
      unsupported: u32,
      error: u32,
      operation: u32,
      state: u32,
      halt_reason: u32,
      bytes_processed: hyper,
      est_bytes_remain: hyper,
      est_time_remain: u32,
      data_connection_addr: addr,
      read_offset: hyper,
      read_length: hyper,
    }),
  ),
  [Msg.DATA_START_BACKUP]: def('DATA_START_BACKUP', struct({ butype_name: str, env: pvals }), errorOnly),
  [Msg.DATA_START_RECOVER]: def('DATA_START_RECOVER', recoverReq, errorOnly),
  [Msg.DATA_ABORT]: def('DATA_ABORT', empty, errorOnly),
  [Msg.DATA_GET_ENV]: def('DATA_GET_ENV', empty, struct({ error: u32, env: pvals })),
  [Msg.DATA_STOP]: def('DATA_STOP', empty, errorOnly),
  [Msg.DATA_LISTEN]: def('DATA_LISTEN', struct({ addr_type: u32 }), struct({ error: u32, connect_addr: addr })),
  [Msg.DATA_CONNECT]: def('DATA_CONNECT', struct({ addr }), errorOnly),
  [Msg.DATA_START_RECOVER_FILEHIST]: def('DATA_START_RECOVER_FILEHIST', recoverReq, errorOnly),

  [Msg.NOTIFY_DATA_HALTED]: def('NOTIFY_DATA_HALTED', struct({ reason: u32 })),
  [Msg.NOTIFY_CONNECTION_STATUS]: def('NOTIFY_CONNECTION_STATUS', struct({ reason: u32, protocol_version: u32, text_reason: str })),
  [Msg.NOTIFY_MOVER_HALTED]: def('NOTIFY_MOVER_HALTED', struct({ reason: u32 })),
  [Msg.NOTIFY_MOVER_PAUSED]: def('NOTIFY_MOVER_PAUSED', struct({ reason: u32, seek_position: hyper })),
  [Msg.NOTIFY_DATA_READ]: def('NOTIFY_DATA_READ', struct({ offset: hyper, length: hyper })),

  [Msg.LOG_FILE]: def('LOG_FILE', struct({ name: str, recovery_status: u32 })),
  [Msg.LOG_MESSAGE]: def('LOG_MESSAGE', struct({ log_type: u32, message_id: u32, entry: str, associated_message_valid: u32, associated_message_sequence: u32 })),

  [Msg.FH_ADD_FILE]: def('FH_ADD_FILE', struct({ files: arrayOf(struct({ names: arrayOf(fileName, 8), stats: arrayOf(fileStat, 52), node: hyper, fh_info: hyper }), 24) })),
  [Msg.FH_ADD_DIR]: def('FH_ADD_DIR', struct({ dirs: arrayOf(struct({ names: arrayOf(fileName, 8), node: hyper, parent: hyper }), 20) })),
  [Msg.FH_ADD_NODE]: def('FH_ADD_NODE', struct({ nodes: arrayOf(struct({ stats: arrayOf(fileStat, 52), node: hyper, fh_info: hyper }), 20) })),

  [Msg.MOVER_GET_STATE]: def(
    'MOVER_GET_STATE',
    empty,
    struct({
      error: u32,
      mode: u32,
      state: u32,
      pause_reason: u32,
      halt_reason: u32,
      record_size: u32,
      record_num: u32,
      bytes_moved: hyper,
      seek_position: hyper,
      bytes_left_to_read: hyper,
      window_offset: hyper,
      window_length: hyper,
      data_connection_addr: addr,
    }),
  ),
  [Msg.MOVER_LISTEN]: def('MOVER_LISTEN', struct({ mode: u32, addr_type: u32 }), struct({ error: u32, connect_addr: addr })),
  [Msg.MOVER_CONTINUE]: def('MOVER_CONTINUE', empty, errorOnly),
  [Msg.MOVER_ABORT]: def('MOVER_ABORT', empty, errorOnly),
  [Msg.MOVER_STOP]: def('MOVER_STOP', empty, errorOnly),
  [Msg.MOVER_SET_WINDOW]: def('MOVER_SET_WINDOW', struct({ offset: hyper, length: hyper }), errorOnly),
  [Msg.MOVER_READ]: def('MOVER_READ', struct({ offset: hyper, length: hyper }), errorOnly),
  [Msg.MOVER_CLOSE]: def('MOVER_CLOSE', empty, errorOnly),
  [Msg.MOVER_SET_RECORD_SIZE]: def('MOVER_SET_RECORD_SIZE', struct({ len: u32 }), errorOnly),
  [Msg.MOVER_CONNECT]: def('MOVER_CONNECT', struct({ mode: u32, addr }), errorOnly),
} as const;

export type Messages = typeof messages;
export type Code = keyof Messages;
export type RequestOf<C extends Code> = Of<Messages[C]['request']>;
export type ReplyOf<C extends Code> = Messages[C] extends { reply: Codec<infer P> } ? P : never;

export function messageDef(code: number): MessageDef | undefined {
  return (messages as Record<number, MessageDef>)[code];
}

/** Posts: NOTIFY, LOG and FH messages are never answered (ndmp.md §1.5). */
export const isPost = (code: number): boolean => code >= 0x500 && code < 0x800;

/** Encode a whole message (header + body), not yet framed. */
export function encodeMessage(h: Header, body?: Buffer): Buffer {
  const w = new XdrWriter(HEADER_LENGTH + (body?.length ?? 0));
  header.enc(w, h);
  if (body && h.error === 0) w.fixed(body);
  return w.bytes();
}
