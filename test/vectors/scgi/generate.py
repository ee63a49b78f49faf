# Run: python3 test/vectors/scgi/generate.py (rewrites valid/ and invalid/ beside this file).
# Generates test/vectors/scgi/{valid,invalid}/NNN.{scgi,json}: SCGI request heads as the
# --scgi listener receives them (python.ca/scgi/protocol.txt), for parseScgiHead
# (src/protocols/scgi/netstring.ts). Each json holds:
#   valid:   { why, maxBytes?, head: { params: [[name, value]...], consumed } | null }
#            (head null: the bytes are a correct beginning and the head is not whole yet)
#   invalid: { why, maxBytes?, status, code }
# maxBytes is the head limit (--limit-request-headers, 65536 by default).
# Most wires are written out literally; the expected params and consumed lengths
# are written by hand next to them.
import os, sys
ROOT = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(ROOT))
from corpus import fresh, write_all  # noqa: E402
fresh(ROOT)

def b(s):
    return s.encode('latin1') if isinstance(s, str) else s

def ns(headers):
    """A netstring around `headers` (the only computed part: its decimal length)."""
    headers = b(headers)
    return str(len(headers)).encode() + b':' + headers + b','

valid = []
def V(why, wire, params, consumed, maxBytes=None):
    meta = {'why': why, **({'maxBytes': maxBytes} if maxBytes is not None else {})}
    meta['head'] = None if params is None else {'params': params, 'consumed': consumed}
    valid.append((b(wire), meta))

invalid = []
def I(why, wire, status, maxBytes=None):
    invalid.append((b(wire), {'why': why, **({'maxBytes': maxBytes} if maxBytes is not None else {}),
                              'status': status, 'code': 'ERR_SCGI_BAD_REQUEST'}))

MIN = 'CONTENT_LENGTH\x000\x00SCGI\x001\x00'   # 24 bytes

# ---------------- valid ----------------
V('minimal head: CONTENT_LENGTH 0 and SCGI 1',
  '24:CONTENT_LENGTH\x000\x00SCGI\x001\x00,', [['CONTENT_LENGTH', '0'], ['SCGI', '1']], 28)
V('the example of the SCGI spec, body after the head',
  '70:CONTENT_LENGTH\x0027\x00SCGI\x001\x00REQUEST_METHOD\x00POST\x00REQUEST_URI\x00/deepthought\x00,What is the answer to life?',
  [['CONTENT_LENGTH', '27'], ['SCGI', '1'], ['REQUEST_METHOD', 'POST'], ['REQUEST_URI', '/deepthought']], 74)
V('head as nginx scgi_params sends it',
  ns('CONTENT_LENGTH\x000\x00SCGI\x001\x00REQUEST_METHOD\x00GET\x00REQUEST_URI\x00/a/b?x=1\x00QUERY_STRING\x00x=1\x00'
     'CONTENT_TYPE\x00\x00DOCUMENT_URI\x00/a/b\x00SERVER_PROTOCOL\x00HTTP/1.1\x00REMOTE_ADDR\x00127.0.0.1\x00'
     'REMOTE_PORT\x0051234\x00SERVER_PORT\x0080\x00SERVER_NAME\x00localhost\x00HTTP_HOST\x00example.com\x00'),
  [['CONTENT_LENGTH', '0'], ['SCGI', '1'], ['REQUEST_METHOD', 'GET'], ['REQUEST_URI', '/a/b?x=1'], ['QUERY_STRING', 'x=1'],
   ['CONTENT_TYPE', ''], ['DOCUMENT_URI', '/a/b'], ['SERVER_PROTOCOL', 'HTTP/1.1'], ['REMOTE_ADDR', '127.0.0.1'],
   ['REMOTE_PORT', '51234'], ['SERVER_PORT', '80'], ['SERVER_NAME', 'localhost'], ['HTTP_HOST', 'example.com']], 4 + 237 + 1)
V('empty values, including the last one',
  '38:CONTENT_LENGTH\x000\x00SCGI\x001\x00QUERY_STRING\x00\x00,',
  [['CONTENT_LENGTH', '0'], ['SCGI', '1'], ['QUERY_STRING', '']], 42)
V('SCGI 1 need not come second',
  '43:CONTENT_LENGTH\x000\x00REQUEST_METHOD\x00GET\x00SCGI\x001\x00,',
  [['CONTENT_LENGTH', '0'], ['REQUEST_METHOD', 'GET'], ['SCGI', '1']], 47)
V('repeated names are all kept, in order',
  '36:CONTENT_LENGTH\x000\x00SCGI\x001\x00X\x00a\x00X\x00b\x00x\x00c\x00,',
  [['CONTENT_LENGTH', '0'], ['SCGI', '1'], ['X', 'a'], ['X', 'b'], ['x', 'c']], 40)
V('latin-1 bytes in names and values are kept as latin-1',
  b'37:CONTENT_LENGTH\x000\x00SCGI\x001\x00HTTP_X\x00caf\xe9\xff\x00,',
  [['CONTENT_LENGTH', '0'], ['SCGI', '1'], ['HTTP_X', 'caf\xe9\xff']], 41)
V('":" and "," inside values are only data',
  '39:CONTENT_LENGTH\x000\x00SCGI\x001\x00Q\x00a:1,b,2:\x00H\x00,\x00,',
  [['CONTENT_LENGTH', '0'], ['SCGI', '1'], ['Q', 'a:1,b,2:'], ['H', ',']], 43)
V('a value holding CR LF is data too (SCGI has no line syntax)',
  '31:CONTENT_LENGTH\x000\x00SCGI\x001\x00X\x00a\r\nb\x00,',
  [['CONTENT_LENGTH', '0'], ['SCGI', '1'], ['X', 'a\r\nb']], 35)
V('body bytes after the head are not consumed, even if they look like a head',
  '24:CONTENT_LENGTH\x004\x00SCGI\x001\x00,24:CONTENT_LENGTH\x000\x00SCGI\x001\x00,',
  [['CONTENT_LENGTH', '4'], ['SCGI', '1']], 28)
V('CONTENT_LENGTH of 15 digits (the most accepted)',
  '38:CONTENT_LENGTH\x00999999999999999\x00SCGI\x001\x00,',
  [['CONTENT_LENGTH', '999999999999999'], ['SCGI', '1']], 42)
V('head exactly maxBytes long', '24:CONTENT_LENGTH\x000\x00SCGI\x001\x00,',
  [['CONTENT_LENGTH', '0'], ['SCGI', '1']], 28, maxBytes=24)
V('head of 1000 bytes (a four-digit netstring length)',
  '1000:CONTENT_LENGTH\x000\x00SCGI\x001\x00HTTP_COOKIE\x00' + 'c' * 963 + '\x00,',
  [['CONTENT_LENGTH', '0'], ['SCGI', '1'], ['HTTP_COOKIE', 'c' * 963]], 1006)
V('incomplete: the length only', '24', None, None)
V('incomplete: ten length digits (the most allowed), no colon yet',
  '1234567890', None, None, maxBytes=2000000000)
V('incomplete: the headers without their comma', '24:CONTENT_LENGTH\x000\x00SCGI\x001\x00', None, None)
V('incomplete: nothing at all', '', None, None)

# ---------------- invalid ----------------
I('leading zero in the netstring length', '024:' + MIN + ',', 400)
I('length "00"', '00:,', 400)
I('plus sign in the netstring length', '+24:' + MIN + ',', 400)
I('space before the netstring length', ' 24:' + MIN + ',', 400)
I('hex netstring length', '0x18:' + MIN + ',', 400)
I('empty netstring length', ':' + MIN + ',', 400)
I('eleven digits and no colon', '12345678901', 400)
I('eleven-digit length with a colon', '12345678901:', 400)
I('an HTTP request sent to the SCGI port', 'GET / HTTP/1.1\r\nHost: h\r\n\r\n', 400)
I('empty netstring "0:,"', '0:,', 400)
I('missing comma: another byte in its place', '24:' + MIN + ';', 400)
I('missing comma: the body follows the headers directly', '24:' + MIN + 'body', 400)
I('netstring length one short: the comma position holds the last NUL', '23:' + MIN + ',', 400)
I('headers do not end with NUL', '23:CONTENT_LENGTH\x000\x00SCGI\x001,', 400)
I('odd number of strings: a name without a value', '26:' + MIN + 'X\x00,', 400)
I('CONTENT_LENGTH not first', '24:SCGI\x001\x00CONTENT_LENGTH\x000\x00,', 400)
I('content_length in lower case is not CONTENT_LENGTH', '24:content_length\x000\x00SCGI\x001\x00,', 400)
I('CONTENT_LENGTH missing altogether', ns('SCGI\x001\x00REQUEST_METHOD\x00GET\x00'), 400)
I('empty CONTENT_LENGTH', ns('CONTENT_LENGTH\x00\x00SCGI\x001\x00'), 400)
I('negative CONTENT_LENGTH', ns('CONTENT_LENGTH\x00-1\x00SCGI\x001\x00'), 400)
I('CONTENT_LENGTH with a leading zero', ns('CONTENT_LENGTH\x0005\x00SCGI\x001\x00'), 400)
I('CONTENT_LENGTH with a space', ns('CONTENT_LENGTH\x00 5\x00SCGI\x001\x00'), 400)
I('CONTENT_LENGTH in exponent form', ns('CONTENT_LENGTH\x001e3\x00SCGI\x001\x00'), 400)
I('CONTENT_LENGTH of 16 digits', ns('CONTENT_LENGTH\x001000000000000000\x00SCGI\x001\x00'), 400)
I('no SCGI header', ns('CONTENT_LENGTH\x000\x00REQUEST_METHOD\x00GET\x00'), 400)
I('SCGI header of "0"', ns('CONTENT_LENGTH\x000\x00SCGI\x000\x00'), 400)
I('SCGI header of "01"', ns('CONTENT_LENGTH\x000\x00SCGI\x0001\x00'), 400)
I('scgi in lower case', ns('CONTENT_LENGTH\x000\x00scgi\x001\x00'), 400)
I('a header with an empty name', ns(MIN + '\x00v\x00'), 400)
I('head over maxBytes: refused as soon as the length is read', '25:' + MIN + 'X', 431, maxBytes=24)
I('head over the default limit (65537 bytes announced, none sent)', '65537:', 431)
I('ten-digit length over the limit', '9999999999:', 431)

write_all(ROOT, '.scgi', valid, invalid)
