# Run: python3 test/vectors/websocket/generate.py (rewrites valid/ and invalid/ beside this file).
# Generates test/vectors/websocket/{valid,invalid}/NNN.{ws,json}: what a WebSocket client
# sends a server after the handshake (RFC 6455 §5), for the gateway's frame parser
# (src/protocols/websocket/frames.ts) and permessage-deflate (deflate.ts, RFC 7692).
# Frames are built with struct from the fields written here (masked with KEY unless a
# vector says otherwise); RFC examples are written out byte by byte. The expected events
# are written by hand. Each json holds { why, max_message?, deflate?, events }; see
# test/vectors/websocket.test.ts for what each field means.
import hashlib, os, struct, sys, zlib
ROOT = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(ROOT))
from corpus import fresh, write_all  # noqa: E402
fresh(ROOT)

CONT, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
KEY = bytes.fromhex('37fa213d')   # RFC 6455 §5.7's masking key

def mask(data, key=KEY):
    return bytes(b ^ key[i % 4] for i, b in enumerate(data))

def frame(opcode, payload=b'', fin=True, rsv1=False, rsv2=False, rsv3=False, key=KEY, length_form=None):
    """One client frame; length_form 16 or 64 forces a (possibly non-minimal) extended length."""
    payload = payload.encode('utf8') if isinstance(payload, str) else payload
    b0 = (0x80 if fin else 0) | (0x40 if rsv1 else 0) | (0x20 if rsv2 else 0) | (0x10 if rsv3 else 0) | opcode
    n = len(payload)
    m = 0x80 if key is not None else 0
    if length_form == 64 or (length_form is None and n > 0xFFFF):
        head = struct.pack('!BBQ', b0, m | 127, n)
    elif length_form == 16 or (length_form is None and n > 125):
        head = struct.pack('!BBH', b0, m | 126, n)
    else:
        head = struct.pack('!BB', b0, m | n)
    return head + (key + mask(payload, key) if key is not None else payload)

def close(code=None, reason=b''):
    reason = reason.encode('utf8') if isinstance(reason, str) else reason
    return frame(CLOSE, b'' if code is None else struct.pack('!H', code) + reason)

def deflated(data, wbits=15):
    """Raw DEFLATE with a sync flush, the trailing 00 00 ff ff removed (RFC 7692 §7.2.1)."""
    c = zlib.compressobj(wbits=-wbits)
    out = c.compress(data) + c.flush(zlib.Z_SYNC_FLUSH)
    assert out.endswith(b'\x00\x00\xff\xff')
    return out[:-4]

# ---- expected events ----
def T(s): return ['text', s]
def B(data):
    return ['binary', data.hex()] if len(data) <= 256 else ['binary-sha256', len(data), hashlib.sha256(data).hexdigest()]
def PI(data=b''): return ['ping', data.hex()]
def PO(data=b''): return ['pong', data.hex()]
def CL(code, reason=''): return ['close', code, reason]
def F(code): return ['fail', code]

valid, invalid = [], []
def add(into, why, wire, events, max_message=None, deflate=None):
    meta = {'why': why}
    if max_message is not None: meta['max_message'] = max_message
    if deflate is not None: meta['deflate'] = deflate
    meta['events'] = events
    into.append((wire, meta))
def V(*a, **k): add(valid, *a, **k)
def I(*a, **k): add(invalid, *a, **k)

TAKEOVER = {}                                  # permessage-deflate, context takeover both ways
NO_TAKEOVER = {'client_no_context_takeover': True}
BIG = bytes(i & 0xFF for i in range(65536))

# ---------------- valid: RFC 6455 §5.7 ----------------
V('RFC 6455 §5.7: a single-frame masked text message, "Hello", byte for byte',
  bytes.fromhex('818537fa213d7f9f4d5158'), [T('Hello')])
V('RFC 6455 §5.7: a fragmented text message ("Hel", "lo"), masked as a client must',
  frame(TEXT, 'Hel', fin=False) + frame(CONT, 'lo'), [T('Hello')])
V('RFC 6455 §5.7: the masked pong "Hello", byte for byte, and a ping with a body',
  bytes.fromhex('8a8537fa213d7f9f4d5158') + frame(PING, 'Hello'), [PO(b'Hello'), PI(b'Hello')])
V('RFC 6455 §5.7: 256 bytes of binary in one frame (16-bit length: 7E 0100)',
  frame(BINARY, BIG[:256]), [B(BIG[:256])])
V('RFC 6455 §5.7: 64 KiB of binary in one frame (64-bit length: 7F 0000000000010000)',
  frame(BINARY, BIG), [B(BIG)])
V('length boundaries: 125 bytes (7-bit), 126 (16-bit), 65535 (16-bit), 65536 (64-bit)',
  frame(BINARY, BIG[:125]) + frame(BINARY, BIG[:126]) + frame(BINARY, BIG[:65535]) + frame(BINARY, BIG[:65536]),
  [B(BIG[:125]), B(BIG[:126]), B(BIG[:65535]), B(BIG[:65536])])
V('control frames between fragments: ping and pong inside a fragmented message',
  frame(TEXT, 'one ', fin=False) + frame(PING, 'p') + frame(CONT, 'two ', fin=False) + frame(PONG) + frame(CONT, 'three'),
  [PI(b'p'), PO(), T('one two three')])
V('empty messages: text, binary, and a message of empty fragments',
  frame(TEXT) + frame(BINARY) + frame(TEXT, fin=False) + frame(CONT, fin=False) + frame(CONT), [T(''), B(b''), T('')])
V('UTF-8 characters cut between fragments: € (3 bytes) and 😀 (4 bytes) split at every place',
  frame(TEXT, b'\xe2', fin=False) + frame(CONT, b'\x82\xac\xf0\x9f', fin=False) + frame(CONT, b'\x98\x80') + frame(TEXT, b'') +
  frame(TEXT, b'a\xf0\x9f\x98', fin=False) + frame(CONT, b'\x80\xe2\x82', fin=False) + frame(CONT, b'\xac'),
  [T('€😀'), T(''), T('a😀€')])
V('the largest UTF-8 code point and the last before the surrogates',
  frame(TEXT, '\U0010ffff\ud7ff'.encode('utf8', 'surrogatepass')), [T('\U0010ffff\ud7ff')])
V('a message of exactly max_message bytes, in one frame and in three',
  frame(BINARY, b'0123456789') + frame(TEXT, 'abc', fin=False) + frame(CONT, 'defg', fin=False) + frame(CONT, 'hij'),
  [B(b'0123456789'), T('abcdefghij')], max_message=10)
V('close 1000 with a UTF-8 reason; what follows a close is ignored',
  close(1000, 'bye é') + frame(TEXT, 'after') + b'\x00garbage', [CL(1000, 'bye é')])
V('close without a payload: code 1005', close(), [CL(1005)])
V('close with an application code 4999 and no reason', close(4999), [CL(4999)])
V('close code 3000 with a reason', close(3000, 'x'), [CL(3000, 'x')])
V('close code 1014 (bad gateway, registered with IANA after RFC 6455)', close(1014), [CL(1014)])
V('a ping of 125 bytes, the largest control payload',
  frame(PING, BIG[:125]), [PI(BIG[:125])])
V('binary frames carry any bytes (not UTF-8)', frame(BINARY, b'\xff\xfe\xc0\xaf'), [B(b'\xff\xfe\xc0\xaf')])
V('a masking key of zero is still a masked frame', frame(TEXT, 'zero', key=b'\x00\x00\x00\x00'), [T('zero')])

# ---------------- valid: RFC 7692 §7.2.3 ----------------
V('RFC 7692 §7.2.3.1: "Hello" compressed (c1 07 f2 48 cd c9 c9 07 00), masked',
  frame(TEXT, bytes.fromhex('f248cdc9c90700'), rsv1=True), [T('Hello')], deflate=TAKEOVER)
V('RFC 7692 §7.2.3.2: "Hello" twice with context takeover: the second is f2 00 11 00 00',
  frame(TEXT, bytes.fromhex('f248cdc9c90700'), rsv1=True) + frame(TEXT, bytes.fromhex('f200110000'), rsv1=True),
  [T('Hello'), T('Hello')], deflate=TAKEOVER)
V('RFC 7692 §7.2.3.2: "Hello" twice without context takeover: the same bytes twice',
  frame(TEXT, bytes.fromhex('f248cdc9c90700'), rsv1=True) * 2, [T('Hello'), T('Hello')], deflate=NO_TAKEOVER)
V('RFC 7692 §7.2.3.3: a compressed message in two fragments (41 03 f2 48 cd, 80 04 c9 c9 07 00)',
  frame(TEXT, bytes.fromhex('f248cd'), fin=False, rsv1=True) + frame(CONT, bytes.fromhex('c9c90700')), [T('Hello')], deflate=TAKEOVER)
V('RFC 7692 §7.2.3.4: "Hello" in a DEFLATE block with no compression',
  frame(TEXT, bytes.fromhex('000500faff48656c6c6f00'), rsv1=True), [T('Hello')], deflate=TAKEOVER)
V('RFC 7692 §7.2.3.5: "Hello" in a block with BFINAL set, then another message',
  frame(TEXT, bytes.fromhex('f348cdc9c9070000'), rsv1=True) + frame(TEXT, deflated(b'again'), rsv1=True),
  [T('Hello'), T('again')], deflate=NO_TAKEOVER)
V('RFC 7692 §7.2.3.6: two DEFLATE blocks in one message',
  frame(TEXT, bytes.fromhex('f24805000000ffffcac9c90700'), rsv1=True), [T('Hello')], deflate=TAKEOVER)
V('compressed and uncompressed messages mixed; a compressed binary and a compressed empty message',
  frame(TEXT, 'plain') + frame(BINARY, deflated(BIG[:300]), rsv1=True) + frame(TEXT, deflated(b''), rsv1=True) + frame(TEXT, 'plain again'),
  [T('plain'), B(BIG[:300]), T(''), T('plain again')], deflate=NO_TAKEOVER)
c = zlib.compressobj(wbits=-15)
m1 = c.compress(b'{"message": "hello", "n": 1}') + c.flush(zlib.Z_SYNC_FLUSH)
m2 = c.compress(b'{"message": "hello", "n": 2}') + c.flush(zlib.Z_SYNC_FLUSH)
V('context takeover across messages, from a real compressor, the second split in three fragments',
  frame(TEXT, m1[:-4], rsv1=True) + frame(TEXT, m2[:2], fin=False, rsv1=True) + frame(PING) + frame(CONT, m2[2:5], fin=False) + frame(CONT, m2[5:-4]),
  [T('{"message": "hello", "n": 1}'), PI(), T('{"message": "hello", "n": 2}')], deflate=TAKEOVER)
V('a compressed message inflating to exactly max_message bytes',
  frame(BINARY, deflated(b'x' * 1000), rsv1=True), [B(b'x' * 1000)], max_message=1000, deflate=NO_TAKEOVER)

# ---------------- invalid ----------------
P, U, TOO_BIG = 1002, 1007, 1009
I('an unmasked client frame (RFC 6455 §5.7 unmasked "Hello")', bytes.fromhex('810548656c6c6f'), [F(P)])
I('a valid message, then an unmasked one: the first is delivered', frame(TEXT, 'ok') + frame(TEXT, 'no', key=None), [T('ok'), F(P)])
I('RSV1 without permessage-deflate', frame(TEXT, 'x', rsv1=True), [F(P)])
I('RSV2 set', frame(TEXT, 'x', rsv2=True), [F(P)])
I('RSV3 set, even with permessage-deflate', frame(TEXT, 'x', rsv3=True), [F(P)], deflate=TAKEOVER)
I('reserved data opcode 3', frame(0x3, 'x'), [F(P)])
I('reserved control opcode 0xB', frame(0xB), [F(P)])
I('reserved control opcode 0xF after a message', frame(TEXT, 'a') + frame(0xF), [T('a'), F(P)])
I('a fragmented ping', frame(PING, 'a', fin=False), [F(P)])
I('a ping of 126 bytes', frame(PING, BIG[:126]), [F(P)])
I('a close of 126 bytes', frame(CLOSE, b'\x03\xe8' + b'x' * 124), [F(P)])
I('a continuation without a message to continue', frame(CONT, 'x'), [F(P)])
I('a continuation after a complete message', frame(TEXT, 'a') + frame(CONT, 'b'), [T('a'), F(P)])
I('a new text frame inside a fragmented message', frame(TEXT, 'a', fin=False) + frame(TEXT, 'b'), [F(P)])
I('a new binary frame inside a fragmented message, after a ping', frame(BINARY, 'a', fin=False) + frame(PING) + frame(BINARY, 'b'), [PI(), F(P)])
I('a 64-bit length with its most significant bit set',
  struct.pack('!BBQ', 0x82, 0xFF, 0x8000000000000001) + KEY, [F(P)], max_message=2**62)
I('a non-minimal 16-bit length (5 bytes as 7E 0005)', frame(TEXT, 'hello', length_form=16), [F(P)])
I('a non-minimal 64-bit length (200 bytes as 7F ...00C8)', frame(BINARY, BIG[:200], length_form=64), [F(P)])
I('invalid UTF-8 in a text frame (a lone continuation byte)', frame(TEXT, b'ab\x80cd'), [F(U)])
I('invalid UTF-8 in a later fragment: failed there, before the message ends',
  frame(TEXT, 'fine ', fin=False) + frame(CONT, b'\xff', fin=False), [F(U)])
I('a text message ending inside a character', frame(TEXT, b'a\xe2\x82'), [F(U)])
I('a character cut between fragments and not completed', frame(TEXT, b'\xe2', fin=False) + frame(CONT, b'\x41'), [F(U)])
I('an overlong encoding (C0 AF for "/")', frame(TEXT, b'\xc0\xaf'), [F(U)])
I('a UTF-16 surrogate encoded in UTF-8 (ED A0 80)', frame(TEXT, b'\xed\xa0\x80'), [F(U)])
I('a code point past U+10FFFF (F4 90 80 80)', frame(TEXT, b'\xf4\x90\x80\x80'), [F(U)])
I('a close with a 1-byte payload', frame(CLOSE, b'\x03'), [F(P)])
for code in (0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535):
    I(f'close code {code}: not one a peer may send', close(code), [F(P)])
I('a close reason that is not UTF-8', close(1000, b'\xff'), [F(U)])
I('a frame declaring more than max_message: failed on its header, before its payload comes',
  frame(BINARY, b'x' * 11)[:6], [F(TOO_BIG)], max_message=10)
I('fragments whose running total passes max_message: failed on the header that passes it',
  frame(TEXT, 'abcdef', fin=False) + frame(CONT, 'ghijk')[:6], [F(TOO_BIG)], max_message=10)
I('a 64-bit length far past max_message', struct.pack('!BBQ', 0x82, 0xFF, 2**40) + KEY, [F(TOO_BIG)], max_message=1 << 20)
I('RSV1 on a continuation frame', frame(TEXT, deflated(b'ab')[:1], fin=False, rsv1=True) + frame(CONT, deflated(b'ab')[1:], rsv1=True),
  [F(P)], deflate=TAKEOVER)
I('RSV1 on a ping', frame(PING, rsv1=True), [F(P)], deflate=TAKEOVER)
I('a compressed message inflating past max_message (a zip bomb): 1009',
  frame(BINARY, deflated(b'\x00' * 100000), rsv1=True), [F(TOO_BIG)], max_message=1000, deflate=NO_TAKEOVER)
I('compressed data zlib cannot inflate: 1007', frame(TEXT, b'\xff\xff\xff\xff', rsv1=True), [F(U)], deflate=TAKEOVER)
I('a compressed text message that inflates to invalid UTF-8', frame(TEXT, deflated(b'ok\xc3('), rsv1=True), [F(U)], deflate=TAKEOVER)
I('compressed bytes past max_message fail on the header, before inflating',
  frame(BINARY, deflated(bytes(range(256)) * 8), rsv1=True), [F(TOO_BIG)], max_message=100, deflate=TAKEOVER)

write_all(ROOT, '.ws', valid, invalid)
