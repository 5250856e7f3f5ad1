import { describe, expect, it } from 'vitest';
import { Fabric, type TaskTap } from '../../firmware-sim/fabric/fabric.js';
import { InProcessPort } from '../../firmware-sim/fabric/in-process-port.js';
import { TargetDevice } from '../../firmware-sim/router/target-device.js';
import { UnreachableError } from '../../firmware-sim/router/dispatch.js';
import { ScsiStatus } from '../../src/scsi/status.js';
import { TestLu, cdb } from '../router/helpers.js';

const TP = '500a098000000001';
const HOST = '21000024ff000001';

function lab() {
  const fabric = new Fabric({ defaultZone: 'no-access' });
  const array = new TargetDevice({ name: 'array1', wwnn: '500a098000000000', ports: [{ wwpn: TP }] });
  array.attach(0, new TestLu('array1/disk0', 1));
  fabric.addDevice(array);
  fabric.zoning.setZone('z', [HOST, TP]);
  const host = new InProcessPort(fabric, { wwpn: HOST, wwnn: '20000024ff000001' });
  return { fabric, host };
}

/** Consume the power-on unit attention so later commands see plain GOOD. */
async function primed() {
  const l = lab();
  await l.host.command(TP, 0, cdb('000000000000'));
  return l;
}

describe('Fabric observers and link state', () => {
  it('reports each completed task to its taps with the result and a duration, until unsubscribed', async () => {
    const { fabric, host } = await primed();
    const seen: Array<[number, number, number]> = [];
    const tap: TaskTap = (task, r, ns) => seen.push([task.cdb[0]!, r.status, ns]);
    const off = fabric.onTask(tap);
    await host.command(TP, 0, cdb('000000000000'));
    await host.command(TP, 0, cdb('ff0000000000'));
    off();
    await host.command(TP, 0, cdb('000000000000'));
    expect(seen.map(([op, st]) => [op, st])).toEqual([
      [0x00, ScsiStatus.GOOD],
      [0xff, ScsiStatus.CHECK_CONDITION],
    ]);
    expect(seen.every(([, , ns]) => ns >= 0)).toBe(true);
  });

  it('makes a port unreachable while its link is down, either end', async () => {
    const { fabric, host } = await primed();
    fabric.setLinkDown(TP, true);
    await expect(host.command(TP, 0, cdb('000000000000'))).rejects.toBeInstanceOf(UnreachableError);
    expect(fabric.linksDown).toEqual([TP]);
    fabric.setLinkDown(TP, false);
    fabric.setLinkDown('21:00:00:24:ff:00:00:01', true);
    await expect(host.command(TP, 0, cdb('000000000000'))).rejects.toThrow(/link down/);
    fabric.setLinkDown(HOST, false);
    expect((await host.command(TP, 0, cdb('000000000000'))).status).toBe(ScsiStatus.GOOD);
  });
});
