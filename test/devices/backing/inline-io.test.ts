import { describe, expect, it } from 'vitest';
import { InlineIo } from '../../../firmware-sim/devices/backing/inline-io.js';

const spin = (ms: number) => {
  const end = performance.now() + ms;
  while (performance.now() < end);
};

describe('InlineIo: image transfers inline on the event loop unless one was slow', () => {
  it('runs transfers up to its limit inline, larger ones in the pool', () => {
    const io = new InlineIo(4096);
    expect(io.start(4096)).toBeTypeOf('number');
    expect(io.start(4097)).toBeUndefined();
    expect(new InlineIo(0).start(1)).toBeUndefined();
  });

  it('after a slow inline transfer, sends the next ones to the pool for the back-off, then inline again', async () => {
    const io = new InlineIo(4096, 5, 500);
    const t = io.start(512)!;
    io.done(t);
    expect(io.start(512)).toBeTypeOf('number');
    const slow = io.start(512)!;
    spin(8);
    io.done(slow);
    expect(io.start(512)).toBeUndefined();
    await new Promise((r) => setTimeout(r, 600));
    expect(io.start(512)).toBeTypeOf('number');
  });
});
