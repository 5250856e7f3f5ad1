/**
 * `--json`: a command's result as one JSON document on stdout (one line), for scripts. Buffers
 * (sense bytes in a failure) become hex strings and bigints decimal strings, so the document stays
 * plain JSON whatever the result carries.
 */
export function toJson(o: unknown): string {
  return JSON.stringify(o, (_k, v: unknown) => {
    if (typeof v === 'bigint') return v.toString();
    if (v && typeof v === 'object' && (v as { type?: unknown }).type === 'Buffer' && Array.isArray((v as { data?: unknown }).data)) return Buffer.from((v as { data: number[] }).data).toString('hex');
    return v;
  });
}

export function writeJson(o: unknown, out: { write(s: string): unknown } = process.stdout): void {
  out.write(toJson(o) + '\n');
}
