// RFC 6455's numbers, and the one failure a WebSocket peer can cause: what the
// frame parser (frames.ts), the handshake (handshake.ts), permessage-deflate
// (deflate.ts) and the close handshake (close.ts) share.

import { RemoteProtocolError } from '../../errors.js';

// RFC 6455 §1.3: the GUID concatenated with Sec-WebSocket-Key for Sec-WebSocket-Accept.
export const WEBSOCKET_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

// RFC 6455 §5.2: the opcodes. %x3-7 and %xB-F are reserved (a protocol error).
export const enum Opcode {
  Continuation = 0x0,
  Text = 0x1,
  Binary = 0x2,
  Close = 0x8,
  Ping = 0x9,
  Pong = 0xa,
}

/** RFC 6455 §5.2: 2 bytes, 8 of extended length, 4 of masking key. */
export const MAX_HEADER = 14;
/** RFC 6455 §5.5: "All control frames MUST have a payload length of 125 bytes or less". */
export const MAX_CONTROL_PAYLOAD = 125;
/** A close frame's reason fits what is left of a control payload after the 2-byte code. */
export const MAX_CLOSE_REASON = MAX_CONTROL_PAYLOAD - 2;

// RFC 6455 §7.4.1, and the IANA registry it set up.
export const enum CloseCode {
  Normal = 1000,
  GoingAway = 1001,
  ProtocolError = 1002,
  Unsupported = 1003,
  /** Never on the wire: a close frame without a payload. */
  NoStatus = 1005,
  /** Never on the wire: the connection ended without a close frame. */
  Abnormal = 1006,
  InvalidData = 1007,
  PolicyViolation = 1008,
  TooBig = 1009,
  MandatoryExtension = 1010,
  InternalError = 1011,
}

/**
 * Whether `code` may appear in a close frame (RFC 6455 §7.4.1-2): 1000-1003 and
 * 1007-1014 (1012-1014 were registered with IANA after the RFC: service restart,
 * try again later, bad gateway), and 3000-4999 (libraries, frameworks,
 * applications). 1004, 1005, 1006 and 1015 are reserved, 1016-2999 are for
 * future RFCs, anything else is out of range.
 */
export function isValidCloseCode(code: number): boolean {
  return (code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006) || (code >= 3000 && code <= 4999);
}

/**
 * The peer broke RFC 6455 or 7692, or a limit: the connection is to be failed
 * with `closeCode` (1002 protocol error, 1007 invalid data, 1009 too big).
 * Its `message` is short enough to be the close frame's reason.
 */
export class WebSocketFailure extends RemoteProtocolError {
  constructor(
    readonly closeCode: number,
    message: string,
  ) {
    super(
      closeCode === CloseCode.TooBig ? 'ERR_WS_TOO_BIG' : closeCode === CloseCode.InvalidData ? 'ERR_WS_BAD_DATA' : 'ERR_WS_PROTOCOL',
      message,
      400,
    );
  }
}
