/**
 * A target on another iSCSI box as the data mover sees it: one pooled session, logged in with the
 * data mover's own initiator name (and CHAP when the lab gives it), re-established on the next
 * command after a loss. Its LUs' identities come from the target itself (REPORT LUNS, INQUIRY,
 * VPD 80h/83h), re-read after the target reports 3F/0E REPORTED LUNS DATA HAS CHANGED or a new
 * login. Commands are never retried here: a lost connection fails the command, which the copy
 * manager turns into COPY ABORTED 0D/02 (copy target device not reachable).
 */
import { connect, type ChapCredentials, type IscsiSession } from '../../src/iscsi/initiator/index.js';
import { inquiry, inquiryVpd, reportLuns } from '../../src/iscsi/initiator/scsi.js';
import { DesignatorType, decodeDeviceIdPage, decodeUnitSerial, VpdPage } from '../../src/scsi/inquiry.js';
import { decodeSense } from '../../src/scsi/sense.js';
import { ScsiStatus } from '../../src/scsi/status.js';
import type { Logger } from '../../src/log.js';
import type { DataInAllocator, LuIdentity, ScsiResult } from '../router/task.js';

export interface RemoteTargetOptions {
  /** Lab name of the remote target (LU names are "<name>/<lun>"). */
  name: string;
  /** Its iSCSI portal; may come later from iSNS (setPortal). */
  portal?: { host: string; port: number };
  iqn: string;
  /** Its port's WWPN on the lab fabric: what zoning and CSCD descriptors know it by. */
  wwpn: string;
  /** The data mover's iSCSI initiator name. */
  initiatorName: string;
  chap?: ChapCredentials;
  log?: Logger;
  /** Login deadline (default 5 s: a copy waiting on a dead box should fail, not hang). */
  loginTimeoutMs?: number;
  /** The lab's name for the LU at a LUN (a lab node served by another process); default "<name>/<lun>". */
  luName?: (lun: number) => string | undefined;
}

export interface RemoteLu {
  lun: number;
  identity: LuIdentity;
}

export type RemoteState = 'unknown' | 'up' | 'down';

export interface RemoteCommandOptions {
  dataOut?: Buffer;
  dataInLength?: number;
  signal?: AbortSignal;
  dataInBuffers?: DataInAllocator;
}

/** ASC/ASCQ 3F/0E: the LU inventory behind the target changed. */
const LUNS_CHANGED = 0x3f0e;

export class RemoteTarget {
  private session: Promise<IscsiSession> | undefined;
  private lus: Promise<RemoteLu[]> | undefined;
  private stateNow: RemoteState = 'unknown';
  private closed = false;
  /** Why the last login or command failed, for the API and logs. */
  lastError: string | undefined;

  constructor(readonly opts: RemoteTargetOptions) {}

  get name(): string {
    return this.opts.name;
  }

  get iqn(): string {
    return this.opts.iqn;
  }

  get portal(): { host: string; port: number } | undefined {
    return this.opts.portal;
  }

  /** A portal learned from iSNS; a change drops the session so the next command logs in there. */
  setPortal(p: { host: string; port: number }): void {
    const old = this.opts.portal;
    if (old && old.host === p.host && old.port === p.port) return;
    this.opts.portal = p;
    this.drop();
  }

  /** Forget the LU list (an iSNS "object updated"): the next copy rescans. */
  invalidate(): void {
    this.lus = undefined;
  }

  get wwpn(): string {
    return this.opts.wwpn;
  }

  get state(): RemoteState {
    return this.stateNow;
  }

  private setState(s: RemoteState, err?: unknown): void {
    if (err) this.lastError = err instanceof Error ? err.message : String(err);
    if (s === this.stateNow) return;
    this.stateNow = s;
    if (s === 'down') this.opts.log?.warn({ remote: this.opts.name, iqn: this.opts.iqn, reason: this.lastError }, 'remote target unreachable');
    else if (s === 'up') this.opts.log?.info({ remote: this.opts.name, iqn: this.opts.iqn }, 'remote target logged in');
  }

  /** Mark it down from outside (an iSNS "object removed"): drop the session, forget the LU list. */
  markDown(reason: string): void {
    this.lastError = reason;
    this.drop();
    this.setState('down');
  }

  private drop(): void {
    const s = this.session;
    this.session = undefined;
    this.lus = undefined;
    void s?.then((x) => x.close().catch(() => undefined), () => undefined);
  }

  private login(): Promise<IscsiSession> {
    if (this.closed) return Promise.reject(new Error(`remote target ${this.opts.name} closed`));
    if (this.session) return this.session;
    const portal = this.opts.portal;
    if (!portal) return Promise.reject(new Error(`no portal known for remote target ${this.opts.iqn} (lab "portal" or iSNS)`));
    const p = connect({
      host: portal.host,
      port: portal.port,
      initiatorName: this.opts.initiatorName,
      targetName: this.opts.iqn,
      loginTimeoutMs: this.opts.loginTimeoutMs ?? 5000,
      // A remote that stops answering must fail its commands rather than hang the copy.
      keepaliveMs: 5000,
      ...(this.opts.chap ? { chap: this.opts.chap } : {}),
      onAsyncEvent: (e) => {
        if (e.sense && senseCode(e.sense) === LUNS_CHANGED) this.lus = undefined;
      },
    });
    this.session = p;
    p.then(
      (s) => {
        this.setState('up');
        void s.waitClosed().then((err) => {
          if (this.session !== p) return;
          this.session = undefined;
          this.lus = undefined;
          if (!this.closed) this.setState('down', err);
        });
      },
      (e: unknown) => {
        if (this.session === p) this.session = undefined;
        this.setState('down', e);
      },
    );
    return p;
  }

  /** One command over the pooled session; rejects when the target cannot be reached. */
  async command(lun: number, cdb: Buffer, opts: RemoteCommandOptions = {}): Promise<ScsiResult> {
    const s = await this.login();
    const want = opts.dataInLength ?? 0;
    const into = want > 0 ? opts.dataInBuffers?.allocDataIn(want) : undefined;
    const r = await s.command({
      lun,
      cdb,
      dataInLength: want,
      ...(opts.dataOut ? { dataOut: opts.dataOut } : {}),
      ...(opts.signal ? { signal: opts.signal } : {}),
      ...(into ? { dataInBuffer: into } : {}),
    });
    if (r.status === ScsiStatus.CHECK_CONDITION && r.sense && senseCode(r.sense) === LUNS_CHANGED) this.lus = undefined;
    return { status: r.status, ...(want > 0 ? { dataIn: r.dataIn } : {}), ...(r.sense ? { sense: r.sense } : {}) };
  }

  /** The target's LUs with their identities; empty when it cannot be reached (it is then no copy target). */
  luns(): Promise<RemoteLu[]> {
    if (!this.lus) {
      const p = this.scan().catch((e: unknown) => {
        this.setState('down', e);
        if (this.lus === p) this.lus = undefined;
        return [];
      });
      this.lus = p;
    }
    return this.lus;
  }

  private async scan(): Promise<RemoteLu[]> {
    const s = await this.login();
    const luns = await reportLuns(s);
    const out: RemoteLu[] = [];
    for (const lun of luns) {
      const std = await inquiry(s, lun);
      // Qualifier 0 only: 1 and 3 name an LU that is not (or cannot be) there.
      if (std.qualifier !== 0) continue;
      const serial = await inquiryVpd(s, lun, VpdPage.UNIT_SERIAL).then(decodeUnitSerial, () => '');
      const ids = await inquiryVpd(s, lun, VpdPage.DEVICE_ID).then(decodeDeviceIdPage, () => []);
      const naa = ids.find((d) => d.type === DesignatorType.NAA && d.association === 0)?.value;
      out.push({
        lun,
        identity: {
          deviceType: std.deviceType,
          vendor: std.vendor,
          product: std.product,
          revision: std.revision,
          serial,
          // Without an NAA designator the resolver still matches the LU by its whole VPD 83h page.
          naa: naa ?? Buffer.alloc(0),
          name: this.opts.luName?.(lun) ?? `${this.opts.name}/${lun}`,
        },
      });
    }
    return out;
  }

  async close(): Promise<void> {
    this.closed = true;
    const s = this.session;
    this.session = undefined;
    await s?.then((x) => x.close(), () => undefined).catch(() => undefined);
  }
}

function senseCode(sense: Buffer): number | undefined {
  try {
    const d = decodeSense(sense);
    return (d.asc << 8) | d.ascq;
  } catch {
    return undefined;
  }
}
