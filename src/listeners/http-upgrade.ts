// The WebSocket handshake on an HTTP/1.1 connection (RFC 6455 §4.2): a request
// that asks for `Upgrade: websocket` carries a WebSocketUpgrade in its environ
// (`warpipe.websocket`). An app that speaks WebSocket (the ASGI pool) either
// answers its refusal (a malformed handshake: 400, or 426 for another
// version) or accepts it: then the 101 goes out, with permessage-deflate when
// the client offered it, and the connection becomes a WebSocketSession.

import type { WebSocketLink, WebSocketPeer, WebSocketRefusal, WebSocketUpgrade } from '../pipeline/websocket.js';
import type { RequestHead } from '../protocols/http1/events.js';
import { PerMessageDeflate, negotiateDeflate } from '../protocols/websocket/deflate.js';
import { acceptResponse, checkHandshake, type WebSocketRequest } from '../protocols/websocket/handshake.js';

/** What accepting needs of the connection: write the 101 and switch to WebSocket frames. */
export interface UpgradeHost {
  upgradeTo(head: Buffer, deflate: PerMessageDeflate | null, peer: WebSocketPeer): WebSocketLink;
}

class Upgrade implements WebSocketUpgrade {
  readonly refusal: WebSocketRefusal | null;
  readonly subprotocols: readonly string[];

  constructor(
    private readonly request: WebSocketRequest | null,
    refusal: WebSocketRefusal | null,
    private readonly host: UpgradeHost,
  ) {
    this.refusal = refusal;
    this.subprotocols = request?.subprotocols ?? [];
  }

  accept(subprotocol: string | null, headers: readonly [string, string][], peer: WebSocketPeer): WebSocketLink {
    const request = this.request;
    if (request === null) throw new Error('a refused WebSocket handshake cannot be accepted');
    const deflate = negotiateDeflate(request.extensions);
    // throws for a subprotocol not offered or a bad header, before anything is sent
    const head = acceptResponse(request, { subprotocol, extensions: deflate?.header ?? null, headers });
    return this.host.upgradeTo(head, deflate ? new PerMessageDeflate(deflate.params) : null, peer);
  }
}

/** The request's WebSocket upgrade, or null when it asks for none (`upgrade`: its Upgrade header, if any). */
export function webSocketUpgrade(head: RequestHead, upgrade: unknown, host: UpgradeHost): WebSocketUpgrade | null {
  if (typeof upgrade !== 'string' || !/websocket/i.test(upgrade)) return null;
  const checked = checkHandshake(head);
  if (checked === null) return null;
  if (checked.kind === 'reject') return new Upgrade(null, checked, host);
  if (head.contentLength !== 0) return new Upgrade(null, { status: 400, reason: 'a WebSocket handshake has no body', headers: [] }, host);
  return new Upgrade(checked, null, host);
}
