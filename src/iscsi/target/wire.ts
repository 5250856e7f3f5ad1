/** The sending side of a connection in Full Feature Phase: the PDU writer and the sequence numbers its PDUs carry. */
import type { PduWriter } from '../pdu/index.js';

export interface Wire {
  readonly writer: PduWriter;
  /** Next StatSN to send; a status-bearing PDU takes it and advances it. */
  statSN: number;
  expCmdSN(): number;
  maxCmdSN(): number;
  /** A fresh Target Transfer Tag. */
  takeTtt(): number;
}
