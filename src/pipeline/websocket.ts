// What passes between the HTTP listener and an app that speaks WebSocket (the
// ASGI pool): the listener checks the handshake and puts a WebSocketUpgrade in
// the environ as `warpipe.websocket`; an app that takes it answers with accept()
// and from then on exchanges whole messages through a WebSocketLink, while the
// listener keeps the socket (framing, masking, compression, pings, the close
// handshake). An app that does not take it answers the request as plain HTTP
// (RFC 9110 lets a server ignore Upgrade).

/** A handshake the listener refuses if the app takes it: 400, or 426 with the version it speaks. */
export interface WebSocketRefusal {
  readonly status: number;
  readonly reason: string;
  readonly headers: readonly [string, string][];
}

export interface WebSocketUpgrade {
  /** The handshake is not a valid one (RFC 6455 §4.2.1): the answer an app that speaks WebSocket gives. */
  readonly refusal: WebSocketRefusal | null;
  /** What the client offered in Sec-WebSocket-Protocol, in its order. */
  readonly subprotocols: readonly string[];
  /**
   * Answer 101 and switch the connection to WebSocket frames: from now on `peer` gets what the
   * client sends. Throws (a LocalProtocolError) for a subprotocol the client did not offer or a
   * header an app may not set; nothing is sent then.
   */
  accept(subprotocol: string | null, headers: readonly [string, string][], peer: WebSocketPeer): WebSocketLink;
}

/** The app's side of an accepted WebSocket. */
export interface WebSocketPeer {
  /** A whole message from the client (text already checked as UTF-8). */
  wsOnMessage(data: Buffer, text: boolean): void;
  /** The client closed (its code; 1005 when it gave none), or is gone (1006), or the server closed it. Once. */
  wsOnClose(code: number, reason: string): void;
  /** What waited for the client has gone out: send again. */
  wsOnDrain(): void;
}

/** The listener's side of an accepted WebSocket. */
export interface WebSocketLink {
  /** Send a message; false once more than --buffer-response waits for the client (wait for wsOnDrain). */
  send(data: Buffer, text: boolean): boolean;
  /** Start the close handshake (the app's code and reason); messages after it are dropped. */
  close(code: number, reason: string): void;
  /** Stop reading the client (the app has not taken what it got) / read again. */
  pause(): void;
  resume(): void;
}
