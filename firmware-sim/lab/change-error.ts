// Its own module so changer-refusal.ts can build one without importing build.ts (which imports it): issue #14.
/** A change the running lab cannot make: an API answers 404 (not-found) or 409 (conflict). */
export class LabChangeError extends Error {
  constructor(
    message: string,
    readonly kind: 'not-found' | 'conflict',
  ) {
    super(message);
    this.name = 'LabChangeError';
  }
}
