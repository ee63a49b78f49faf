# Run: python3 test/vectors/cgi/generate.py (rewrites valid/ and invalid/ beside this file).
# Generates test/vectors/cgi/{valid,invalid}/NNN.{cgi,json}: CGI response heads (RFC 3875 §6)
# as warpipe reads them from a CGI script's stdout and from FastCGI/SCGI/uwsgi upstreams
# (CgiHeadParser, src/protocols/cgi/response.ts). Each json holds:
#   valid:   { why, maxBytes?, head: { status, headers: [[name, value]...], rest } | null }
#            (rest: every byte after the head, the body; head null: not whole yet)
#   invalid: { why, maxBytes?, status: 502, code }
# maxBytes is the parser's head limit (65536 unless given). Expected values by hand.
import os, sys
ROOT = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(ROOT))
from corpus import fresh, write_all  # noqa: E402
fresh(ROOT)

def b(s):
    return s.encode('latin1') if isinstance(s, str) else s

valid = []
def V(why, wire, status, headers=(), rest='', maxBytes=None, whole=True):
    meta = {'why': why, **({'maxBytes': maxBytes} if maxBytes is not None else {})}
    meta['head'] = {'status': status, 'headers': [list(h) for h in headers], 'rest': rest} if whole else None
    valid.append((b(wire), meta))

invalid = []
def I(why, wire, maxBytes=None):
    invalid.append((b(wire), {'why': why, **({'maxBytes': maxBytes} if maxBytes is not None else {}),
                              'status': 502, 'code': 'ERR_UPSTREAM_BAD_RESPONSE'}))

CT = ('Content-Type', 'text/html')

# ---------------- valid ----------------
V('LF line ends, no Status: 200 OK', 'Content-Type: text/html\n\n<p>hi</p>\n', '200 OK', [CT], '<p>hi</p>\n')
V('CRLF line ends', 'Content-Type: text/html\r\n\r\n<p>hi</p>', '200 OK', [CT], '<p>hi</p>')
V('Status with reason phrase', 'Status: 404 Not Found\r\nContent-Type: text/html\r\n\r\nnope', '404 Not Found', [CT], 'nope')
V('Status without reason: the standard phrase is added', 'Status: 404\nContent-Type: text/html\n\n', '404 Not Found', [CT])
V('Status with its own reason phrase (kept as sent)', 'Status: 200 Fine Thanks\n\n'.replace('\n\n', '\nX: y\n\n'), '200 Fine Thanks', [('X', 'y')])
V('status in lower case, no space after the colon', 'status:201\nContent-Type: text/html\n\n', '201 Created', [CT])
V('Status of a code with no standard phrase', 'Status: 599\nX: y\n\n', '599 Unknown', [('X', 'y')])
V('Status 100-class as sent', 'Status: 103 Early Hints\nLink: </a.css>; rel=preload\n\n', '103 Early Hints', [('Link', '</a.css>; rel=preload')])
V('Location only: 302 Found (RFC 3875 §6.2.3)', 'Location: http://example.com/next\r\n\r\n', '302 Found', [('Location', 'http://example.com/next')])
V('Location with a body and Content-Type: still 302', 'Location: /next\nContent-Type: text/html\n\nmoved', '302 Found', [('Location', '/next'), CT], 'moved')
V('Location with Status: the Status wins', 'Status: 301 Moved Permanently\nLocation: /new\n\n', '301 Moved Permanently', [('Location', '/new')])
V('location in lower case is a Location', 'location: /x\n\n', '302 Found', [('location', '/x')])
V('HTTP/1.1 status line first (a uwsgi backend)', 'HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\nbody', '200 OK', [CT], 'body')
V('HTTP/1.0 status line without a reason', 'HTTP/1.0 404\r\nX: y\r\n\r\n', '404 Not Found', [('X', 'y')])
V('HTTP/1.1 status line with an unusual reason, LF ends', 'HTTP/1.1 418 Short And Stout\nX: y\n\n', '418 Short And Stout', [('X', 'y')])
V('HTTP status line then Status: the Status wins', 'HTTP/1.1 200 OK\r\nStatus: 500 Oops\r\n\r\n', '500 Oops', [])
V('HTTP status line alone', 'HTTP/1.1 204 No Content\r\n\r\n', '204 No Content', [])
V('CRLF header lines, LF empty line', 'Content-Type: text/html\r\nX: y\r\n\nrest', '200 OK', [CT, ('X', 'y')], 'rest')
V('LF header lines, CRLF empty line', 'Content-Type: text/html\nX: y\n\r\nrest', '200 OK', [CT, ('X', 'y')], 'rest')
V('lines ending LF and CRLF mixed', 'A: 1\r\nB: 2\nC: 3\r\n\r\n', '200 OK', [('A', '1'), ('B', '2'), ('C', '3')])
V('whitespace around values trimmed, inner whitespace kept', 'X-A:   v  w \t\nX-B:v\nX-C:\t\tv\t\n\n', '200 OK', [('X-A', 'v  w'), ('X-B', 'v'), ('X-C', 'v')])
V('empty values', 'X-Empty:\nX-Blank:   \n\n', '200 OK', [('X-Empty', ''), ('X-Blank', '')])
V('colons inside a value', 'Location: http://h:8080/a:b\n\n', '302 Found', [('Location', 'http://h:8080/a:b')])
V('repeated headers are all kept, in order', 'Set-Cookie: a=1\nSet-Cookie: b=2\nset-cookie: c=3\n\n', '200 OK', [('Set-Cookie', 'a=1'), ('Set-Cookie', 'b=2'), ('set-cookie', 'c=3')])
V('latin-1 byte in a value', b'X-Name: caf\xe9\n\n', '200 OK', [('X-Name', 'caf\xe9')])
V('field names with every tchar', "!#$%&'*+-.^_`|~09azAZ: v\n\n", '200 OK', [("!#$%&'*+-.^_`|~09azAZ", 'v')])
V('blank lines, NUL and CR in the body are body', 'X: y\r\n\r\n\r\n\r\nA: b\n\n\x00\r', '200 OK', [('X', 'y')], '\r\n\r\nA: b\n\n\x00\r')
V('head exactly maxBytes long, blank line included', 'Content-Type: text/html\r\n\r\nBODY', '200 OK', [CT], 'BODY', maxBytes=27)
V('incomplete: no empty line yet', 'Content-Type: text/html\r\nX: y\r\n', None, whole=False)
V('incomplete: the empty line is still missing its LF', 'Content-Type: text/html\r\n\r', None, whole=False)

# ---------------- invalid ----------------
I('no empty line within maxBytes', 'Content-Type: text/html\n' + 'X-Fill: 0123456789\n' * 10, maxBytes=64)
I('the empty line comes one byte past maxBytes', 'Content-Type: text/html\r\n\r\nBODY', maxBytes=26)
I('the empty line comes well past maxBytes', 'X: ' + 'y' * 100 + '\n\nbody', maxBytes=64)
I('empty head (no header at all)', '\r\n\r\nbody')
I('empty head, LF', '\n\nbody')
I('Status not a number', 'Status: OK\n\n')
I('Status of two digits', 'Status: 20\n\n')
I('Status of four digits', 'Status: 2000\n\n')
I('Status 600', 'Status: 600 Nope\n\n')
I('Status 099', 'Status: 099\n\n')
I('Status without a space before the reason', 'Status: 200OK\n\n')
I('empty Status', 'Status:\nX: y\n\n')
I('HTTP/2 status line', 'HTTP/2 200\r\nX: y\r\n\r\n')
I('HTTP status line that is not the first line', 'X: y\r\nHTTP/1.1 200 OK\r\n\r\n')
I('HTTP/1.1 status line with a four-digit code', 'HTTP/1.1 2000 OK\r\n\r\n')
I('line without a colon', 'Content-Type: text/html\ngarbage\n\n')
I('empty header name', ': value\n\n')
I('space inside a header name', 'X Name: v\n\n')
I('space between name and colon', 'Content-Type : text/html\n\n')
I('tab before the colon', 'X\t: v\n\n')
I('obs-fold continuation with SP', 'X-Long: a\n b\n\n')
I('obs-fold continuation with HTAB', 'X-Long: a\r\n\tb\r\n\r\n')
I('control character in a name', 'X\x01Y: v\n\n')
I('NUL in a name', 'X\x00Y: v\n\n')
I('NUL in a value', 'X: a\x00b\n\n')
I('latin-1 byte in a name', b'Caf\xe9: v\n\n')
I('CR inside a value (CRLF injection of a header)', 'X: a\rSet-Cookie: evil=1\r\n\r\n')
I('CR inside a Location value', 'Location: /a\rSet-Cookie: x\n\n')
I('bare CR line ends', 'Status: 200\rX: y\r\n\r\n')
I('two Status lines', 'Status: 200 OK\nStatus: 500 Oops\n\n')
I('vertical tab at the end of a value (not optional whitespace)', 'X: a\x0b\n\n')
I('form feed inside a value', 'X: a\x0cb\n\n')
I('DEL inside a value', 'X: a\x7fb\n\n')

write_all(ROOT, '.cgi', valid, invalid)
