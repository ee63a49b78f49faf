# Run: python3 test/vectors/frames/generate.py (rewrites valid/ and invalid/ beside this file).
# Generates test/vectors/frames/{valid,invalid}/NNN.{frames,json}: what a Python worker
# sends the gateway on a request channel (docs/worker-protocol.md), for the gateway's
# reading of it (src/workers/frame.ts FrameReader, parseResponse, parseFile; the checks
# of src/apps/python-app.ts). Every frame:
#   u32le payload length, u8 type, payload        (payload at most 16 MiB, 0x01000000)
# Each json holds { why, events, body, body_error, written, error }; see
# test/vectors/frames.test.ts for what each field observes. Frames are built with struct
# from the fields written here; the expected values are written by hand.
import os, struct, sys
ROOT = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(ROOT))
from corpus import fresh, write_all  # noqa: E402
fresh(ROOT)

# worker -> gateway on a request channel; the others, to check they are refused there
REQUEST, DATA_IN, END_IN, FILE_ACK = 0x01, 0x02, 0x03, 0x04
RESPONSE, DATA, END, FILE, LOG, ABORT = 0x11, 0x12, 0x13, 0x14, 0x15, 0x16
READY = 0x21
COMPLETE = 0x01

def b(s):
    return s.encode('latin1') if isinstance(s, str) else s

def frame(t, payload=b'', length=None):
    payload = b(payload)
    return struct.pack('<IB', len(payload) if length is None else length, t) + payload

def head_block(*strings):
    return b''.join(b(s) + b'\0' for s in strings)

def response(status, headers=(), body=b'', end=True, block=None):
    block = head_block(status, *[x for h in headers for x in h]) if block is None else b(block)
    return frame(RESPONSE, struct.pack('<BI', COMPLETE if end else 0, len(block)) + block + b(body))

def data(chunk):
    return frame(DATA, chunk)

def log(level, message):
    return frame(LOG, bytes([level]) + message.encode('utf8'))

def file(offset, count, path):
    return frame(FILE, struct.pack('<Qq', offset, count) + path.encode('utf8'))

# ---- expected ----
def RESP(status, headers=()):
    return ['response', status, [list(h) for h in headers]]
def LOGGED(level, message):
    return ['log', level, message]
FREE = ['free']
ACK0, ACK1 = '010000000400', '010000000401'   # FILE_ACK ok=0 / ok=1 (length 1, type 0x04)
BROKEN = {'code': 'ERR_WORKER_PROTOCOL', 'status': 502}
ABORTED = 'ERR_APP_ABORTED'

valid, invalid = [], []
def add(into, why, wire, events, body=None, body_error=None, written=(), error=None, todo=None):
    into.append((b(wire), {'why': why, **({'todo': todo} if todo else {}), 'events': events, 'body': body,
                           'body_error': body_error, 'written': list(written), 'error': error}))
def V(*args, **kw): add(valid, *args, **kw)
def I(*args, **kw): add(invalid, *args, **kw)

TP = ('Content-Type', 'text/plain')

# ---------------- valid ----------------
V('the example of docs/worker-protocol.md, every byte written out: RESPONSE with end',
  bytes.fromhex('29000000 11 01 1f000000') + b'200 OK\0Content-Type\0text/plain\0' + b'hello',
  [RESP('200 OK', [TP]), FREE], 'hello')
V('RESPONSE with end and no body', response('204 No Content'), [RESP('204 No Content'), FREE], '')
V('RESPONSE, two DATA, END', response('200 OK', [TP], 'one', end=False) + data('two') + data('three') + frame(END),
  [RESP('200 OK', [TP]), FREE], 'onetwothree')
V('RESPONSE without body or end, then END', response('200 OK', [TP], end=False) + frame(END), [RESP('200 OK', [TP]), FREE], '')
V('LOG before RESPONSE and between DATA; UTF-8 text, one trailing newline dropped, inner ones kept',
  log(20, 'starting \u00e9t\u00e9\n') + response('200 OK', [TP], 'a', end=False) + log(40, 'line 1\nline 2\n\n') + data('b') + frame(END),
  [LOGGED(20, 'starting \u00e9t\u00e9'), RESP('200 OK', [TP]), LOGGED(40, 'line 1\nline 2\n'), FREE], 'ab')
V('a LOG at every level, and an empty message',
  log(10, 'd') + log(20, 'i') + log(30, 'w') + log(40, 'e') + log(50, 'c') + log(40, '') + response('200 OK'),
  [LOGGED(10, 'd'), LOGGED(20, 'i'), LOGGED(30, 'w'), LOGGED(40, 'e'), LOGGED(50, 'c'), LOGGED(40, ''), RESP('200 OK'), FREE], '')
V('the 500 the worker sends when the app fails before its head',
  log(40, 'Error handling request GET /\nTraceback (most recent call last):\n  ...\nZeroDivisionError: division by zero')
  + response('500 Internal Server Error', [TP, ('Content-Length', '22')], 'Internal Server Error\n'),
  [LOGGED(40, 'Error handling request GET /\nTraceback (most recent call last):\n  ...\nZeroDivisionError: division by zero'),
   RESP('500 Internal Server Error', [TP, ('Content-Length', '22')]), FREE], 'Internal Server Error\n')
V('header values in latin-1, empty values, repeated names in order',
  response('200 OK', [('X-Name', 'caf\xe9'), ('X-Empty', ''), ('Set-Cookie', 'a=1'), ('Set-Cookie', 'b=2')], b'\xff\x00'),
  [RESP('200 OK', [('X-Name', 'caf\xe9'), ('X-Empty', ''), ('Set-Cookie', 'a=1'), ('Set-Cookie', 'b=2')]), FREE], '\xff\x00')
V('status and header strings are passed on as the worker wrote them (startResponse judges them)',
  response('299 Whatever You Like', [('x-lower', ' spaced '), ('Odd Name', 'a: b')]),
  [RESP('299 Whatever You Like', [('x-lower', ' spaced '), ('Odd Name', 'a: b')]), FREE], '')
V('a RESPONSE body of 1000 bytes, DATA of 3000 and of 1',
  response('200 OK', [], 'r' * 1000, end=False) + data('d' * 3000) + data('!') + frame(END),
  [RESP('200 OK'), FREE], 'r' * 1000 + 'd' * 3000 + '!')
V('DATA frames of one byte each', response('200 OK', end=False) + b''.join(data(c) for c in 'hello') + frame(END),
  [RESP('200 OK'), FREE], 'hello')
V('body bytes are not parsed: they may look like frames',
  response('200 OK', end=False, body=frame(END)) + data(response('200 OK')) + frame(END),
  [RESP('200 OK'), FREE], '\x00\x00\x00\x00\x13' + '\x0c\x00\x00\x00\x11\x01\x07\x00\x00\x00200 OK\x00')
V('ABORT after the head: the body fails after what came', response('200 OK', [TP], 'abc', end=False) + data('def') + frame(ABORT),
  [RESP('200 OK', [TP]), FREE], 'abcdef', ABORTED)
V('ABORT before any head: the request fails', log(40, 'boom') + frame(ABORT), [LOGGED(40, 'boom'), FREE], None, ABORTED)
V('FILE the gateway cannot open: FILE_ACK 0, and the worker sends the bytes as DATA',
  response('200 OK', [('Content-Length', '5')], end=False) + file(0, -1, '/nonexistent/warpipe-vector') + data('bytes') + frame(END),
  [RESP('200 OK', [('Content-Length', '5')]), FREE], 'bytes', written=[ACK0])
V('the response so far, no END yet', response('200 OK', end=False) + data('partial'), [RESP('200 OK')], 'partial')
V('nothing yet: four bytes of a frame header', frame(END)[:4], [])

# ---------------- invalid ----------------
I('payload length over 16 MiB', frame(RESPONSE, length=0x01000001), [], error=BROKEN)
I('payload length 0xffffffff after a LOG', log(20, 'hi') + frame(LOG, length=0xffffffff), [LOGGED(20, 'hi')], error=BROKEN)
I('payload length over 16 MiB in a DATA frame (handed on in pieces otherwise)',
  response('200 OK', end=False, body='ab') + frame(DATA, length=0x01000001) + b'x' * 8, [RESP('200 OK')], 'ab', error=BROKEN)
I('unknown type 0x99', frame(0x99, 'x'), [], error=BROKEN)
I('type 0 (no such frame)', frame(0), [], error=BROKEN)
I('a gateway -> worker type (REQUEST) from the worker', frame(REQUEST, b'\x01\0\0\0\0'), [], error=BROKEN)
I('a gateway -> worker type (END, reason 0) from the worker', frame(END_IN, b'\0'), [], error=BROKEN)
I('a control-channel type (READY) on a request channel', frame(READY, '{"pid": 1}'), [], error=BROKEN)
I('DATA before RESPONSE', data('x'), [], error=BROKEN)
I('END before RESPONSE', frame(END), [], error=BROKEN)
I('FILE before RESPONSE', file(0, -1, '/etc/hostname'), [], error=BROKEN)
I('a second RESPONSE', response('200 OK', end=False) + response('500 Internal Server Error'), [RESP('200 OK')], '', error=BROKEN)
I('a RESPONSE after the response ended: no request in flight', response('200 OK') + response('200 OK'), [RESP('200 OK'), FREE], '',
  error=BROKEN)
I('DATA after END: no request in flight', response('200 OK', end=False) + frame(END) + data('late'), [RESP('200 OK'), FREE], '',
  error=BROKEN)
I('RESPONSE payload of 4 bytes (flags and head_len need 5)', frame(RESPONSE, b'\x01\0\0\0'), [], error=BROKEN)
I('RESPONSE head_len overruns the frame', frame(RESPONSE, struct.pack('<BI', 1, 99) + b'200 OK\0'), [], error=BROKEN)
I('RESPONSE head with a header name and no value', response('200 OK', block='200 OK\0X-Name\0'), [], error=BROKEN)
I('RESPONSE with an empty head block', response('200 OK', block=''), [], error=BROKEN)
I('RESPONSE head block without its final NUL: "200 OK" NUL "X" NUL "y"', response('200 OK', block='200 OK\0X\0y'), [], error=BROKEN)
I('RESPONSE head block whose last string has no NUL: "200 OK" NUL "X" NUL "y" NUL "z"',
  response('200 OK', block='200 OK\0X\0y\0z', body='body'), [], error=BROKEN)
I('FILE payload of 16 bytes: no path', response('200 OK', end=False) + frame(FILE, struct.pack('<Qq', 0, -1)), [RESP('200 OK')], '',
  error=BROKEN)
I('truncated: the stream ends inside a RESPONSE frame; nothing is decoded, nothing judged (the worker\'s exit is)',
  response('200 OK', [TP], 'hello')[:-3], [])
I('truncated: the stream ends inside a DATA frame; what came of it is handed on',
  response('200 OK', end=False) + frame(DATA, 'abcdefghij')[:9], [RESP('200 OK')], 'abcd')
I('truncated: three bytes of a header after a whole response', response('200 OK', body='x') + frame(RESPONSE, 'x')[:3],
  [RESP('200 OK'), FREE], 'x')

write_all(ROOT, '.frames', valid, invalid)
