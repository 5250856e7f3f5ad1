/**
 * What a backup server driving a router over iSCSI asks the router's management API, the way
 * backup software asks a library's or router's management interface for facts SCSI on the data
 * path does not carry: which cartridge (barcode) is in a drive when no media changer reports it,
 * and the data mover's own initiator port. LUs are matched by their NAA designator, the identity
 * discovery saw over SCSI, never by a name guessed from the iSCSI target.
 */

interface LuEntry {
  name: string;
  device: string;
  naa?: string;
  kind: string;
  tape?: { barcode?: string; state?: string };
}

interface PortEntry {
  node: string;
  wwpn: string;
  role: string;
  owner: string;
}

export interface RouterApi {
  readonly base: string;
  /** Barcode of the cartridge in the tape LU with this NAA; undefined when the drive is empty. */
  barcodeIn(naa: string): Promise<string | undefined>;
  /** NAA of the tape LU holding this cartridge, if one does. */
  driveHolding(barcode: string): Promise<string | undefined>;
  /** The initiator port (WWPN, hex) of the data mover LU with this NAA. */
  dataMoverPort(naa: string): Promise<string | undefined>;
}

export function routerApi(api: string): RouterApi {
  const base = api.replace(/\/+$/, '');
  const get = async <T>(path: string): Promise<T> => {
    let r: Response;
    try {
      r = await fetch(`${base}${path}`, { signal: AbortSignal.timeout(5000) });
    } catch (e) {
      const cause = (e as { cause?: { code?: string } }).cause?.code ?? (e as Error).message;
      throw new Error(`the management API at ${base} did not answer GET ${path} (${cause})`);
    }
    const body = (await r.json().catch(() => undefined)) as T | undefined;
    if (!r.ok || body === undefined) throw new Error(`the management API at ${base} answered GET ${path} with HTTP ${r.status}`);
    return body;
  };
  const lus = () => get<LuEntry[]>('/api/lus');
  return {
    base,
    async barcodeIn(naa) {
      const lu = (await lus()).find((l) => l.naa === naa);
      if (!lu) throw new Error(`the management API at ${base} has no LU with NAA ${naa}`);
      return lu.tape?.barcode;
    },
    async driveHolding(barcode) {
      return (await lus()).find((l) => l.kind === 'tape' && l.tape?.barcode === barcode)?.naa;
    },
    async dataMoverPort(naa) {
      const lu = (await lus()).find((l) => l.naa === naa);
      if (!lu) return undefined;
      const lab = await get<{ ports?: PortEntry[] }>('/api/lab');
      return lab.ports?.find((p) => p.owner === 'data-mover' && p.role === 'initiator' && p.node === lu.device)?.wwpn.replace(/:/g, '').toLowerCase();
    },
  };
}
