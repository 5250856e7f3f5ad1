/** JSON Schema pieces every route plugin shares (names in URLs, LU parameters, the security tag). */
export const name = { type: 'string', minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9._-]+$' } as const;
export const luParams = { type: 'object', required: ['device', 'lu'], properties: { device: name, lu: name } } as const;
/** OpenAPI security requirement of every write route: the bearer token. */
export const secure = [{ bearer: [] }];
