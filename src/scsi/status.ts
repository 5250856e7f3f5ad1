/** SAM status codes. */
export const ScsiStatus = {
  GOOD: 0x00,
  CHECK_CONDITION: 0x02,
  CONDITION_MET: 0x04,
  BUSY: 0x08,
  RESERVATION_CONFLICT: 0x18,
  TASK_SET_FULL: 0x28,
  ACA_ACTIVE: 0x30,
  TASK_ABORTED: 0x40,
} as const;
export type ScsiStatus = (typeof ScsiStatus)[keyof typeof ScsiStatus];

const NAMES = new Map<number, string>(Object.entries(ScsiStatus).map(([k, v]) => [v, k.replace(/_/g, ' ')]));

/** "CHECK CONDITION"; "status 22h" for a code SAM does not name. */
export const statusName = (status: number): string => NAMES.get(status) ?? `status ${status.toString(16)}h`;
