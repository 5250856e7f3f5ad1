import { describe, expect, it } from 'vitest';
import { defaultLabPath, loadLabFile, parseLabText } from '../../firmware-sim/lab/load.js';
import { isInsideDataDir, jsonPath, LabError, parseSize, resolveInDataDir, validateLab } from '../../firmware-sim/lab/schema.js';

const invalid = (name: string) => new URL(`../../fixtures/labs/invalid/${name}.json`, import.meta.url).pathname;

async function issuesOf(name: string): Promise<Array<[string, string]>> {
  try {
    await loadLabFile(invalid(name));
  } catch (e) {
    expect(e).toBeInstanceOf(LabError);
    return (e as LabError).issues.map((i) => [i.path, i.message]);
  }
  throw new Error(`${name} validated`);
}

describe('lab file validation', () => {
  it('reports every shape problem at once, each with its JSON path', async () => {
    const issues = await issuesOf('shape');
    expect(issues).toEqual([
      ['$.fabric.name', expect.stringMatching(/must be a name/)],
      ['$.fabric.defaultZone', 'must be one of "no-access", "all-access"'],
      ['$.hosts[0].wwnn', expect.stringMatching(/must be a WWN/)],
      ['$.hosts[0].ports[0]', 'unknown property "color"'],
      ['$.arrays[0].lus[0].size', expect.stringMatching(/must be a size/)],
      ['$.arrays[0].lus[0].blockSize', 'must be one of 512, 4096'],
      ['$.arrays[0].lus[1]', 'missing required property "lun"'],
      ['$.iscsi.portal', 'must be "host:port"'],
      ['$.iscsi.unknownInitiators', 'must be one of "reject", "default-zone"'],
    ]);
  });

  it('finds duplicate names, WWNs (in either spelling), iSCSI names, LUNs, images and barcodes', async () => {
    const issues = await issuesOf('duplicates');
    const at = Object.fromEntries(issues);
    expect(at['$.hosts[1].name']).toMatch(/node name "h1" is already used at \$\.hosts\[0\]/);
    expect(at['$.hosts[1].ports[0].wwpn']).toMatch(/already used at \$\.hosts\[0\]\.ports\[0\]\.wwpn/);
    expect(at['$.hosts[1].ports[0].iscsiNames[0]']).toMatch(/already mapped/);
    expect(at['$.arrays[0].lus[1].name']).toMatch(/LU name "d0"/);
    expect(at['$.arrays[0].lus[1].lun']).toMatch(/LUN "0"/);
    // The data mover and the tape drives share the router's one LUN space.
    expect(at['$.routers[0].buses[0].drives[0].lun']).toMatch(/already used at \$\.routers\[0\]\.dataMover\.lun/);
    expect(at['$.routers[0].vault[1].barcode']).toMatch(/barcode "T1"/);
  });

  it('checks that zone members, masked LUs, loaded drives and default LUs exist', async () => {
    expect(await issuesOf('references')).toEqual([
      ['$.routers[0].vault[0].loadedIn', 'no tape drive "tape9" in router r1'],
      ['$.zones[0].members[1]', expect.stringMatching(/^no port "a1\/p7"/)],
      ['$.zones[0].members[2]', expect.stringMatching(/^no port "21000024ff0000ff"/)],
      ['$.masking[0].initiator', '"a1/p0" is a target port, not an initiator port'],
      ['$.masking[1].lus[0]', expect.stringMatching(/^no LU "a1\/d9"/)],
      ['$.iscsi.defaultLus[0]', expect.stringMatching(/^no LU "nowhere\/d0"/)],
    ]);
  });

  it('keeps image paths inside the data directory', async () => {
    expect(await issuesOf('paths')).toEqual([
      ['$.arrays[0].lus[0].image', expect.stringMatching(/stay inside the data directory/)],
      ['$.arrays[0].lus[1].image', expect.stringMatching(/stay inside the data directory/)],
      // "disks/../a1/d3.img" normalizes onto d3's default image.
      ['$.arrays[0].lus[3].image', expect.stringMatching(/already used at \$\.arrays\[0\]\.lus\[2\]\.image/)],
      ['$.arrays[0].lus[4].image', 'a memory-backed LU has no image file'],
    ]);
  });

  it('checks sizes against the block size and WWN NAA types', async () => {
    expect(await issuesOf('sizes')).toEqual([
      ['$.arrays[0].wwnn', expect.stringMatching(/NAA type 0/)],
      ['$.arrays[0].lus[0].size', 'size 1000 is not a multiple of blockSize 4096'],
      ['$.arrays[0].lus[1].size', 'size 1000000 is not a multiple of blockSize 4096'],
    ]);
  });

  it('disk LU options: removable is a boolean, physicalBlockExponent an integer 0..15 (a 4-bit field)', () => {
    const lab = (lu: Record<string, unknown>) => ({
      fabric: { name: 'f' },
      arrays: [{ name: 'a1', wwnn: '500d5a0000010000', ports: [{ name: 'p0', wwpn: '500d5a0000010001' }], lus: [{ name: 'm', lun: 0, size: '1MiB', backing: 'memory', ...lu }] }],
    });
    const paths = (lu: Record<string, unknown>) => {
      try {
        validateLab(lab(lu));
      } catch (e) {
        return (e as LabError).issues.map((i) => i.path);
      }
      return [];
    };
    expect(paths({ removable: true, physicalBlockExponent: 15 })).toEqual([]);
    expect(paths({ physicalBlockExponent: 16 })).toEqual(['$.arrays[0].lus[0].physicalBlockExponent']);
    expect(paths({ physicalBlockExponent: 1.5 })).toEqual(['$.arrays[0].lus[0].physicalBlockExponent']);
    expect(paths({ removable: 'yes' })).toEqual(['$.arrays[0].lus[0].removable']);
  });

  it('reports JSON syntax errors as a lab problem', async () => {
    const issues = await issuesOf('syntax');
    expect(issues).toEqual([['$', expect.stringMatching(/^not valid JSON/)]]);
    expect(() => parseLabText('{"fabric": {"name": "f"},\n  "hosts": [}', 'x')).toThrow(/not valid JSON: Unexpected token/);
  });

  it('a missing file is a lab problem too', async () => {
    await expect(loadLabFile('/nonexistent/lab.json')).rejects.toThrow(/cannot read/);
  });

  it('the default lab validates and is normalized', async () => {
    const lab = await loadLabFile(defaultLabPath);
    expect(lab.hosts.map((h) => h.name)).toEqual(['backup1', 'app1']);
    expect(lab.hosts[0]!.ports[0]!.wwpn).toBe('21000024ff000101');
    expect(lab.arrays[0]!.lus.map((l) => [l.name, l.size, l.image])).toEqual([
      ['fat', 64 * 2 ** 20, 'array1/fat.img'],
      ['blank', 64 * 2 ** 20, 'array1/blank.img'],
      ['scratch', 64 * 2 ** 20, 'array1/scratch.img'],
      ['removable', 64 * 2 ** 20, 'array1/removable.img'],
      ['e512', 64 * 2 ** 20, 'array1/e512.img'],
    ]);
    expect(lab.arrays[0]!.lus.map((l) => [l.name, l.removable, l.physicalBlockExponent])).toEqual([
      ['fat', false, 0],
      ['blank', false, 0],
      ['scratch', false, 0],
      ['removable', true, 0],
      ['e512', false, 3],
    ]);
    expect(lab.routers[0]!.ports[0]!.iqn).toBe('iqn.2026-11.dev.dmsim:router1');
    expect(lab.arrays[0]!.ports[0]!.iqn).toBe('iqn.2026-11.dev.dmsim:array1');
    expect(lab.routers[0]!.vault).toHaveLength(4);
    expect(lab.routers[0]!.vault[0]).toMatchObject({ barcode: 'DM0001L3', capacity: 2 ** 30, loadedIn: 'tape0', image: 'tapes/DM0001L3.tap' });
    expect(lab.iscsi).toEqual({ portal: '127.0.0.1:3260', unknownInitiators: 'default-zone' });
  });

  it('fills defaults for a minimal lab and derives node.port IQNs for multi-port nodes', () => {
    const lab = validateLab({
      fabric: { name: 'f' },
      arrays: [
        {
          name: 'a1',
          wwnn: '500d5a0000010000',
          ports: [
            { name: 'p0', wwpn: '500d5a0000010001' },
            { name: 'p1', wwpn: '500d5a0000010002', iqn: 'iqn.2026-11.dev.example:own' },
          ],
          lus: [{ name: 'm', lun: 5, size: '1MiB', backing: 'memory' }],
        },
      ],
    });
    expect(lab.fabric.defaultZone).toBe('no-access');
    expect(lab.hosts).toEqual([]);
    expect(lab.arrays[0]!.ports.map((p) => p.iqn)).toEqual(['iqn.2026-11.dev.dmsim:a1.p0', 'iqn.2026-11.dev.example:own']);
    expect(lab.arrays[0]!.lus[0]).toMatchObject({ name: 'm', lun: 5, size: 2 ** 20, backing: 'memory', blockSize: 512 });
    expect(lab.arrays[0]!.lus[0]!.image).toBeUndefined();
    expect(lab.api.listen).toBe('127.0.0.1:8080');
  });

  it('does not modify the object it validates', () => {
    const input = { fabric: { name: 'f' } };
    validateLab(input);
    expect(input).toEqual({ fabric: { name: 'f' } });
  });

  it('CHAP needs long enough secrets and both halves of mutual CHAP', () => {
    const lab = (chap: object) => ({
      fabric: { name: 'f' },
      hosts: [{ name: 'h', wwnn: '20000024ff000001', ports: [{ name: 'p0', wwpn: '21000024ff000001', iscsiNames: ['iqn.2026-11.dev.x:h'], chap }] }],
    });
    expect(() => validateLab(lab({ user: 'u', secret: 'short' }))).toThrow(/\$\.hosts\[0\]\.ports\[0\]\.chap\.secret: must NOT have fewer than 12 characters/);
    expect(() => validateLab(lab({ user: 'u', secret: 'twelve-bytes', targetUser: 't' }))).toThrow(/"targetUser" needs "targetSecret"/);
    expect(validateLab(lab({ user: 'u', secret: 'twelve-bytes' })).hosts[0]!.ports[0]!.chap).toEqual({ user: 'u', secret: 'twelve-bytes' });
  });
});

describe('lab helpers', () => {
  it('sizes', () => {
    expect(parseSize(4096)).toBe(4096);
    expect(parseSize('64MiB')).toBe(64 * 2 ** 20);
    expect(parseSize('2 GB')).toBe(2e9);
    expect(parseSize('10 furlongs')).toBeNaN();
  });

  it('JSON paths', () => {
    expect(jsonPath('')).toBe('$');
    expect(jsonPath('/arrays/0/lus/12/size')).toBe('$.arrays[0].lus[12].size');
    expect(jsonPath('/a~1b/x y')).toBe('$["a/b"]["x y"]');
  });

  it('data directory containment', () => {
    for (const ok of ['a.img', 'a/b.img', './a.img', 'a/../b.img']) expect(isInsideDataDir(ok), ok).toBe(true);
    for (const bad of ['../a.img', '/abs.img', 'a/../../b.img', '..', '.', 'C:\\x.img', 'a\0b', 'dir/']) expect(isInsideDataDir(bad), bad).toBe(false);
    expect(resolveInDataDir('/data', 'x/y.img')).toBe('/data/x/y.img');
    expect(() => resolveInDataDir('/data', '../etc/passwd')).toThrow(/outside the data directory/);
  });
});

describe('reserved names', () => {
  it('zones dmsim defines itself cannot be declared in the file', () => {
    const lab = {
      fabric: { name: 'f' },
      arrays: [{ name: 'a', wwnn: '500d5a0000010000', ports: [{ name: 'p0', wwpn: '500d5a0000010001' }], lus: [] }],
      zones: [
        { name: 'iscsi-default', members: ['a/p0'] },
        { name: 'a-copy-manager', members: ['a/p0'] },
      ],
    };
    expect(() => validateLab(lab)).toThrow(LabError);
    try {
      validateLab(lab);
    } catch (e) {
      expect((e as LabError).issues).toEqual([
        { path: '$.zones[0].name', message: 'zone name "iscsi-default" is reserved for dmsim\'s own zones' },
        { path: '$.zones[1].name', message: 'zone name "a-copy-manager" is reserved for dmsim\'s own zones' },
      ]);
    }
  });
});

describe('lab files in fixtures/labs', () => {
  const dir = new URL('../../fixtures/labs/', import.meta.url);

  it('lab.schema.json (for editors, via "$schema") is the schema the loader uses', async () => {
    const { readFile } = await import('node:fs/promises');
    const { labSchemaDocument } = await import('../../fixtures/labs/make-schema.js');
    const onDisk = await readFile(new URL('lab.schema.json', dir), 'utf8');
    expect(JSON.parse(onDisk), 'fixtures/labs/lab.schema.json is stale: run `npx tsx fixtures/labs/make-schema.ts`').toEqual(JSON.parse(labSchemaDocument()));
  });

  it('every lab file there validates', async () => {
    const { readdir } = await import('node:fs/promises');
    const files = (await readdir(dir)).filter((f) => f.endsWith('.json') && f !== 'lab.schema.json');
    expect(files).toContain('default.json');
    for (const f of files) await expect(loadLabFile(new URL(f, dir).pathname), f).resolves.toBeDefined();
  });
});
