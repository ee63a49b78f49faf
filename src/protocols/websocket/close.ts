// The closing handshake (RFC 6455 §5.5.1, §7) and keep-alive pings, as pure
// logic: what to send and when the connection is to be dropped. The caller
// owns the socket and the timers.
//
//   open ──close()──▶ closing ──the client's close──▶ closed (drop the TCP connection)
//   open ──the client's close──▶ closed (we sent its code back; drop)
//   open ──a `fail` event──▶ close(fail.code) then drop at once (§7.1.7)
//
// §7.1.1: "the server SHOULD close [the TCP connection] first", so `closed`
// means: end the socket now. While `closing`, the caller waits a while for the
// client's close (a timer it owns) and drops the connection when it runs out.

import type { WsClose } from './frames.js';
import { encodeClose, encodePing } from './frames.js';
import { CloseCode } from './rfc6455.js';

export type CloseState = 'open' | 'closing' | 'closed';

export class CloseHandshake {
  state: CloseState = 'open';
  /** The code of the client's close (1005: none given; 1006: never received), once it came. */
  peerCode: number = CloseCode.Abnormal;
  peerReason = '';

  /**
   * We close (the app's websocket.close, a failure, the server going away):
   * the close frame to send, or null when one was sent already (nothing more
   * may be sent). After it, no data frame may be sent.
   */
  close(code: number = CloseCode.Normal, reason = ''): Buffer | null {
    if (this.state !== 'open') return null;
    this.state = 'closing';
    return encodeClose(code, reason);
  }

  /**
   * The client's close arrived: the close to send back (its code echoed, §5.5.1;
   * an empty close for one without a code), or null when we had sent ours.
   * Either way the state is `closed`: write what is returned, then end the socket.
   */
  received(event: WsClose): Buffer | null {
    this.peerCode = event.code;
    this.peerReason = event.reason;
    const was = this.state;
    this.state = 'closed';
    return was === 'open' ? encodeClose(event.code) : null;
  }

  /** Data frames may still be sent. */
  get open(): boolean {
    return this.state === 'open';
  }
}

/**
 * Keep-alive by ping (the idle timeout of issue 15): the caller calls tick()
 * every interval and heard() on every frame from the client. A tick after a
 * silent interval sends a ping; a tick after a second silent interval (that
 * ping unanswered) says drop.
 */
export class KeepAlive {
  private heardSince = true;
  private pinged = false;

  /** Any frame (a pong included) came from the client. */
  heard(): void {
    this.heardSince = true;
    this.pinged = false;
  }

  /** The interval ended: null (the client was heard), a ping frame to send, or 'drop'. */
  tick(): Buffer | 'drop' | null {
    if (this.heardSince) {
      this.heardSince = false;
      return null;
    }
    if (this.pinged) return 'drop';
    this.pinged = true;
    return encodePing();
  }
}
