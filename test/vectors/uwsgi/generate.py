# Run: python3 test/vectors/uwsgi/generate.py (rewrites valid/ and invalid/ beside this file).
# Generates test/vectors/uwsgi/{valid,invalid}/NNN.{uwsgi,json}: uwsgi request packets as the
# --uwsgi listener receives them from nginx's uwsgi_pass, for parseUwsgiHead
# (src/protocols/uwsgi/packet.ts). The packet (uWSGI's "uwsgi protocol"):
#   header = modifier1 (u8) datasize (u16le) modifier2 (u8)
#   vars   = datasize bytes of ( keysize (u16le) key valsize (u16le) value )*
# then the body. Each json holds:
#   valid:   { why, maxBytes?, head: { params: [[key, value]...], consumed } | null }
#            (head null: a correct beginning, the vars are not whole yet)
#   invalid: { why, maxBytes?, status, code }
# maxBytes is the head limit (--limit-request-headers, 65536 by default; 256 at least).
# The wires are built with struct from the sizes written here; expected values by hand.
import os, struct, sys
ROOT = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(ROOT))
from corpus import fresh, write_all  # noqa: E402
fresh(ROOT)

def b(s):
    return s.encode('latin1') if isinstance(s, str) else s

def hdr(datasize, modifier1=0, modifier2=0):
    return struct.pack('<BHB', modifier1, datasize, modifier2)

def s16(s):
    """One string with its u16le size."""
    s = b(s)
    return struct.pack('<H', len(s)) + s

def kv(*pairs):
    return b''.join(s16(k) + s16(v) for k, v in pairs)

def packet(*pairs, body=b''):
    vars_ = kv(*pairs)
    return hdr(len(vars_)) + vars_ + b(body)

valid = []
def V(why, wire, params, consumed, maxBytes=None):
    meta = {'why': why, **({'maxBytes': maxBytes} if maxBytes is not None else {})}
    meta['head'] = None if params is None else {'params': params, 'consumed': consumed}
    valid.append((b(wire), meta))

invalid = []
def I(why, wire, status, maxBytes=None):
    invalid.append((b(wire), {'why': why, **({'maxBytes': maxBytes} if maxBytes is not None else {}),
                              'status': status, 'code': 'ERR_UWSGI_BAD_PACKET'}))

# ---------------- valid ----------------
V('one variable, written out byte by byte',
  b'\x00\x12\x00\x00' b'\x0e\x00REQUEST_METHOD' b'\x00\x00', [['REQUEST_METHOD', '']], 22)
V('GET as nginx uwsgi_params sends it (header bytes written out: datasize 0x009e little-endian)',
  b'\x00\x9e\x00\x00' + kv(('QUERY_STRING', 'x=1'), ('REQUEST_METHOD', 'GET'), ('CONTENT_TYPE', ''), ('CONTENT_LENGTH', ''),
                           ('REQUEST_URI', '/p?x=1'), ('PATH_INFO', '/p'), ('DOCUMENT_ROOT', '/srv'), ('SERVER_PROTOCOL', 'HTTP/1.1')),
  [['QUERY_STRING', 'x=1'], ['REQUEST_METHOD', 'GET'], ['CONTENT_TYPE', ''], ['CONTENT_LENGTH', ''],
   ['REQUEST_URI', '/p?x=1'], ['PATH_INFO', '/p'], ['DOCUMENT_ROOT', '/srv'], ['SERVER_PROTOCOL', 'HTTP/1.1']], 4 + 158)
V('no variables at all (datasize 0)', b'\x00\x00\x00\x00', [], 4)
V('datasize 0 followed by a body', b'\x00\x00\x00\x00hello', [], 4)
V('POST with its body after the vars (body not consumed)',
  packet(('REQUEST_METHOD', 'POST'), ('CONTENT_LENGTH', '5'), body='a=1&b'),
  [['REQUEST_METHOD', 'POST'], ['CONTENT_LENGTH', '5']], 4 + 2 + 14 + 2 + 4 + 2 + 14 + 2 + 1)
V('empty values everywhere', packet(('A', ''), ('B', ''), ('C', '')), [['A', ''], ['B', ''], ['C', '']], 4 + 15)
V('a value of 300 bytes: its size 0x012c needs both bytes (little-endian)',
  b'\x00\x3b\x01\x00' b'\x0b\x00HTTP_COOKIE' b'\x2c\x01' + b'k' * 300,
  [['HTTP_COOKIE', 'k' * 300]], 4 + 315)
V('a key of 256 bytes (size bytes 00 01)', b'\x00\x04\x01\x00' b'\x00\x01' + b'K' * 256 + b'\x00\x00', [['K' * 256, '']], 4 + 260)
V('latin-1 bytes and NUL inside values are kept', packet(('HTTP_X', b'caf\xe9\x00\xff')), [['HTTP_X', 'caf\xe9\x00\xff']], 4 + 16)
V('CR LF and ":" inside a value are data', packet(('HTTP_X', 'a\r\nB: c')), [['HTTP_X', 'a\r\nB: c']], 4 + 17)
V('repeated keys are all kept, in order', packet(('X', '1'), ('X', '2'), ('x', '3')), [['X', '1'], ['X', '2'], ['x', '3']], 4 + 18)
V('vars exactly maxBytes long', packet(('HTTP_FILL', 'v' * 243)), [['HTTP_FILL', 'v' * 243]], 4 + 256, maxBytes=256)
V('a body that looks like another packet is not consumed',
  packet(('CONTENT_LENGTH', '9'), body=packet(('A', 'b'))), [['CONTENT_LENGTH', '9']], 4 + 19)
V('incomplete: modifier1 only', b'\x00', None, None)
V('incomplete: the header only', b'\x00\x10\x00\x00', None, None)
V('incomplete: vars cut short', b'\x00\x10\x00\x00\x04\x00PATH\x05\x00', None, None)
V('incomplete: nothing at all', b'', None, None)

# ---------------- invalid ----------------
I('modifier1 5 (PSGI) is not served', b'\x05\x00\x00\x00', 400)
I('modifier1 30 (WSGI with UWSGI_SCRIPT_NAME) is not served', b'\x1e' + packet(('A', 'b'))[1:], 400)
I('modifier1 is refused on its own, before the rest arrives', b'\x11', 400)
I('an HTTP request sent to the uwsgi port (modifier1 "G")', 'GET / HTTP/1.1\r\nHost: h\r\n\r\n', 400)
I('modifier2 1', b'\x00\x00\x00\x01', 400)
I('modifier2 checked before datasize is awaited', b'\x00\xff\x00\x02', 400)
I('datasize over maxBytes, refused before the vars arrive', b'\x00\x01\x01\x00', 431, maxBytes=256)
I('datasize 65535 over maxBytes', b'\x00\xff\xff\x00' + kv(('A', 'b')), 431, maxBytes=4096)
I('datasize one over maxBytes', packet(('HTTP_FILL', 'v' * 244)), 431, maxBytes=256)
I('keysize cut short: one byte of vars left', b'\x00\x01\x00\x00\x04', 400)
I('valsize cut short: the vars end after the key', b'\x00\x06\x00\x00\x04\x00PATH', 400)
I('valsize cut short: one byte of it', b'\x00\x07\x00\x00\x04\x00PATH\x01', 400)
I('key overruns the vars', b'\x00\x06\x00\x00\x09\x00PATH', 400)
I('value overruns the vars (the body would be read as vars)', b'\x00\x07\x00\x00\x01\x00A\x05\x00bc' + b'def', 400)
I('value size 0xffff (little-endian) overruns', b'\x00\x06\x00\x00\x01\x00A\xff\xff\x00', 400)
I('an empty key', packet(('', 'v')), 400)
I('an empty key after a good var', packet(('A', '1'), ('', 'v')), 400)
I('a stray byte after the last complete var', b'\x00\x07\x00\x00' b'\x01\x00A\x01\x00b' b'\x00', 400)

write_all(ROOT, '.uwsgi', valid, invalid)
