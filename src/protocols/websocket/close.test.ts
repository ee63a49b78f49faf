import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CloseHandshake, KeepAlive } from './close.js';

const hex = (b: Buffer | null | 'drop'): string | null => (b === null || b === 'drop' ? (b as null | 'drop') : b.toString('hex'));

describe('WebSocket close handshake', () => {
  it('the client closes first: its code is echoed, then closed (drop the connection)', () => {
    const c = new CloseHandshake();
    assert.equal(hex(c.received({ kind: 'close', code: 1001, reason: 'bye' })), '880203e9');
    assert.equal(c.state, 'closed');
    assert.equal(c.peerCode, 1001);
    assert.equal(c.peerReason, 'bye');
    assert.equal(c.close(1000), null, 'nothing more is sent');
  });

  it('a close without a code (1005) is answered with an empty close', () => {
    const c = new CloseHandshake();
    assert.equal(hex(c.received({ kind: 'close', code: 1005, reason: '' })), '8800');
  });

  it('we close first: our frame once, then the client close ends it without an answer', () => {
    const c = new CloseHandshake();
    assert.equal(hex(c.close(1000, 'done')), '880603e8646f6e65');
    assert.equal(c.state, 'closing');
    assert.equal(c.open, false);
    assert.equal(c.close(1011), null);
    assert.equal(c.received({ kind: 'close', code: 1000, reason: '' }), null);
    assert.equal(c.state, 'closed');
  });

  it('a failure: the close frame with its code, once', () => {
    const c = new CloseHandshake();
    assert.equal(hex(c.close(1002, 'unmasked client frame')), `8817${'03ea'}${Buffer.from('unmasked client frame').toString('hex')}`);
    assert.equal(c.close(1002), null);
  });

  it('codes we may not send (1005, 1006, 1015) are refused', () => {
    assert.throws(() => new CloseHandshake().close(1006));
    assert.throws(() => new CloseHandshake().close(1015));
  });
});

describe('WebSocket keep-alive', () => {
  it('silent for one interval: a ping; for two: drop', () => {
    const k = new KeepAlive();
    assert.equal(k.tick(), null, 'the first interval counts from the start');
    assert.equal(hex(k.tick()), '8900');
    assert.equal(k.tick(), 'drop');
  });

  it('any frame heard resets it', () => {
    const k = new KeepAlive();
    k.tick();
    assert.equal(hex(k.tick()), '8900');
    k.heard();
    assert.equal(k.tick(), null);
    assert.equal(hex(k.tick()), '8900');
    k.heard();
    assert.equal(k.tick(), null);
  });
});
