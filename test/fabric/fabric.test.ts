import { describe, expect, it } from 'vitest';
import { Fabric } from '../../firmware-sim/fabric/fabric.js';
import { InProcessPort } from '../../firmware-sim/fabric/in-process-port.js';
import { TargetDevice } from '../../firmware-sim/router/target-device.js';
import { UnreachableError } from '../../firmware-sim/router/dispatch.js';
import { makeNexus } from '../../firmware-sim/router/task.js';
import { encodeReportLunsCdb, decodeReportLunsData } from '../../src/scsi/report-luns.js';
import { ScsiStatus } from '../../src/scsi/status.js';
import { TestLu, cdb } from '../router/helpers.js';

const ARRAY_TP = '500a098000000001';
const ROUTER_TP = '2100001086000001';
const HOST = '21000024ff000001';
const DM = '2100001086000100';
const STRANGER = '21000024ff0000ff';

function lab() {
  const fabric = new Fabric({ defaultZone: 'no-access' });
  const array = new TargetDevice({ name: 'array1', wwnn: '500a098000000000', ports: [{ wwpn: ARRAY_TP }], defaultAccess: 'none' });
  const disk0 = new TestLu('array1/disk0', 1);
  const disk1 = new TestLu('array1/disk1', 2);
  array.attach(0, disk0);
  array.attach(1, disk1);
  array.setLunMap(HOST, [0, 1]);
  array.setLunMap(DM, [0]);
  const router = new TargetDevice({ name: 'router1', wwnn: '2000001086000000', ports: [{ wwpn: ROUTER_TP }] });
  const tape0 = new TestLu('router1/tape0', 3, { deviceType: 1 });
  router.attach(1, tape0);
  fabric.addDevice(array);
  fabric.addDevice(router);
  fabric.zoning.setZone('backup', [HOST, ARRAY_TP, ROUTER_TP]);
  fabric.zoning.setZone('datamover', [DM, ARRAY_TP]);
  const host = new InProcessPort(fabric, { wwpn: '21:00:00:24:ff:00:00:01', wwnn: '20:00:00:24:ff:00:00:01', owner: 'backup-server' });
  const dm = new InProcessPort(fabric, { wwpn: DM, wwnn: '2000001086000000' });
  return { fabric, array, router, disk0, disk1, tape0, host, dm };
}

const RL = encodeReportLunsCdb({ selectReport: 0, allocationLength: 256 });

describe('Fabric dispatch', () => {
  it('routes to the device that owns the target port, through zoning and masking', async () => {
    const { host, dm } = lab();
    const r = await host.command(ARRAY_TP, 0, RL, { dataInLength: 256 });
    expect(r.status).toBe(ScsiStatus.GOOD);
    expect(decodeReportLunsData(r.dataIn!).luns).toEqual([0, 1]);
    const d = await dm.command(ARRAY_TP, 0, RL, { dataInLength: 256 });
    expect(decodeReportLunsData(d.dataIn!).luns).toEqual([0]);
    const t = await host.command(ROUTER_TP, 0, RL, { dataInLength: 256 });
    expect(decodeReportLunsData(t.dataIn!).luns).toEqual([1]);
  });

  it('rejects with UnreachableError when no zone holds both ports, or the port does not exist', async () => {
    const { fabric, dm } = lab();
    await expect(dm.command(ROUTER_TP, 1, cdb('000000000000'))).rejects.toBeInstanceOf(UnreachableError);
    const stranger = new InProcessPort(fabric, { wwpn: STRANGER, wwnn: '20000024ff0000ff' });
    await expect(stranger.command(ARRAY_TP, 0, RL, { dataInLength: 256 })).rejects.toBeInstanceOf(UnreachableError);
    await expect(fabric.dispatch({ nexus: makeNexus(HOST, '5000000000000bad'), lun: 0, cdb: RL, dataInLength: 256 })).rejects.toThrow(/no such target port/);
    await expect(fabric.lunReset(makeNexus(DM, ROUTER_TP), 1)).rejects.toBeInstanceOf(UnreachableError);
  });

  it('default zone all-access lets unzoned ports reach unzoned targets only', async () => {
    const { fabric } = lab();
    fabric.zoning.defaultZone = 'all-access';
    const extra = new TargetDevice({ name: 'array2', wwnn: '500a0980000000f0', ports: [{ wwpn: '500a0980000000f1' }] });
    extra.attach(0, new TestLu('array2/disk0', 9));
    fabric.addDevice(extra);
    const stranger = new InProcessPort(fabric, { wwpn: STRANGER, wwnn: '20000024ff0000ff' });
    expect((await stranger.command('500a0980000000f1', 0, RL, { dataInLength: 256 })).status).toBe(ScsiStatus.GOOD);
    await expect(stranger.command(ARRAY_TP, 0, RL, { dataInLength: 256 })).rejects.toBeInstanceOf(UnreachableError);
  });

  it('name server holds every port with its N_Port_ID', () => {
    const { fabric, host } = lab();
    expect(fabric.nameServer.byPortName(ARRAY_TP)?.role).toBe('target');
    expect(fabric.nameServer.byPortId(host.entry.portId)?.wwpn).toBe(HOST);
    expect(host.nexusTo('50:0a:09:80:00:00:00:01')).toEqual(makeNexus(HOST, ARRAY_TP));
  });
});

describe('InProcessPort task management', () => {
  it('aborts its own task by tag and resets an LU it sees', async () => {
    const { host, disk0 } = lab();
    while ((await host.command(ARRAY_TP, 0, cdb('000000000000'))).status !== ScsiStatus.GOOD);
    const p = host.command(ARRAY_TP, 0, cdb('c00000000000'), { tag: 77 });
    await new Promise((r) => setImmediate(r));
    expect(disk0.held.length).toBe(1);
    expect(await host.abortTask(ARRAY_TP, 0, 78)).toBe(false);
    expect(await host.abortTask(ARRAY_TP, 0, 77)).toBe(true);
    expect((await p).status).toBe(ScsiStatus.TASK_ABORTED);
    await host.lunReset(ARRAY_TP, 0);
    const r = await host.command(ARRAY_TP, 0, cdb('000000000000'));
    expect(r.status).toBe(ScsiStatus.CHECK_CONDITION);
  });
});

describe('scoped lookups (copy manager)', () => {
  it('lists only targets and LUs the initiator reaches', () => {
    const { fabric, dm, host } = lab();
    expect(fabric.reachableTargets(DM).map((e) => e.wwpn)).toEqual([ARRAY_TP]);
    expect(dm.targets().map((e) => e.wwpn)).toEqual([ARRAY_TP]);
    expect(fabric.reachableLus(DM).map((r) => `${r.targetPort}:${r.lun}:${r.lu.identity.name}`)).toEqual([`${ARRAY_TP}:0:array1/disk0`]);
    expect(fabric.reachableLus(host.wwpn).map((r) => r.lu.identity.name)).toEqual(['array1/disk0', 'array1/disk1', 'router1/tape0']);
  });

  it('finds by port name, N_Port_ID and LU designator, never beyond zoning and masking', () => {
    const { fabric, disk1, tape0 } = lab();
    const arrayId = fabric.nameServer.byPortName(ARRAY_TP)!.portId;
    const routerId = fabric.nameServer.byPortName(ROUTER_TP)!.portId;
    expect(fabric.byPortName(DM, ARRAY_TP, 0)?.lu.identity.name).toBe('array1/disk0');
    expect(fabric.byPortName(DM, ARRAY_TP, 1)).toBeUndefined(); // masked
    expect(fabric.byPortId(DM, arrayId, 0)?.lu.identity.name).toBe('array1/disk0');
    expect(fabric.byPortId(DM, routerId, 1)).toBeUndefined(); // not zoned
    expect(fabric.byPortId(HOST, routerId, 1)?.lu).toBe(tape0);
    expect(fabric.byDesignator(DM, disk1.identity.naa)).toEqual([]);
    expect(fabric.byDesignator(DM, tape0.identity.naa)).toEqual([]);
    expect(fabric.byDesignator(HOST, disk1.identity.naa).map((r) => r.lun)).toEqual([1]);
  });
});
