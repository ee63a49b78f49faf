# Run: python3 test/vectors/http1/generate.py (rewrites valid/ and invalid/ beside this file).
# Generates test/vectors/http1/{valid,invalid}/NNN.{http,json}. Expected values are written
# by hand here (head fields other than method/target/minor/headers, which are read off
# the request line and field lines of *valid* input mechanically).
import os, sys
ROOT = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(ROOT))
from corpus import fresh, write_all  # noqa: E402
fresh(ROOT)

def mech(head: bytes):
    text = head.decode('latin1')
    while text.startswith('\r\n'):
        text = text[2:]
    lines = text.split('\r\n')
    method, target, version = lines[0].split(' ')
    headers = []
    for line in lines[1:]:
        if line == '':
            break
        name, _, value = line.partition(':')
        headers += [name, value.strip(' \t')]
    return method, target, 1 if version == 'HTTP/1.1' else 0, headers

def R(head, body=b'', *, wire_body=None, cl=0, chunked=False, keep=True, expect=False, host='h', ended=True):
    """One expected request: `head` is its raw head, `wire_body` the raw body bytes, `body` the decoded body."""
    head = head.encode('latin1') if isinstance(head, str) else head
    body = body.encode('latin1') if isinstance(body, str) else body
    wire = body if wire_body is None else (wire_body.encode('latin1') if isinstance(wire_body, str) else wire_body)
    method, target, minor, headers = mech(head)
    exp = {'method': method, 'target': target, 'minor': minor, 'headers': headers, 'contentLength': cl,
           'chunked': chunked, 'keepAlive': keep, 'expectContinue': expect, 'host': host,
           'body': body.decode('latin1'), 'ended': ended}
    return head + wire, exp

valid = []
def V(why, *reqs, limits=None, extra=b''):
    wire = b''.join(r[0] for r in reqs) + (extra.encode('latin1') if isinstance(extra, str) else extra)
    valid.append((wire, {'why': why, **({'limits': limits} if limits else {}), 'requests': [r[1] for r in reqs]}))

invalid = []
def I(why, wire, status, code, before=0, limits=None):
    wire = wire.encode('latin1') if isinstance(wire, str) else wire
    invalid.append((wire, {'why': why, 'status': status, 'code': code, 'before': before, **({'limits': limits} if limits else {})}))

G = 'GET / HTTP/1.1\r\nHost: h\r\n\r\n'
browser = ('GET /static/app.js?v=3 HTTP/1.1\r\nHost: www.example.com\r\n'
  'User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n'
  'Accept: */*\r\nAccept-Language: en-US,en;q=0.5\r\nAccept-Encoding: gzip, deflate, br\r\n'
  'Referer: https://www.example.com/\r\nConnection: keep-alive\r\nCookie: a=1; b=2\r\nSec-Fetch-Dest: script\r\n\r\n')

# ---------------- valid ----------------
V('minimal HTTP/1.1 GET', R(G))
V('browser-like GET', R(browser, host='www.example.com'))
V('HTTP/1.0 without Host: no keep-alive, host null', R('GET /x HTTP/1.0\r\n\r\n', keep=False, host=None))
V('HTTP/1.0 with Connection: keep-alive', R('GET / HTTP/1.0\r\nHost: h\r\nConnection: keep-alive\r\n\r\n', keep=True))
V('HTTP/1.1 with Connection: close', R('GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n', keep=False))
V('POST with Content-Length body', R('POST /form HTTP/1.1\r\nHost: h\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 11\r\n\r\n', 'a=1&b=hello', cl=11))
V('Content-Length: 0', R('POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n', cl=0))
V('simple chunked body', R('POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n', 'hello world', wire_body='5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n', cl=-1, chunked=True))
V('chunk extensions: token, quoted-string, BWS', R('POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n', 'abcdef', wire_body='3;name=value;flag\r\nabc\r\n3 ; q="a \\"b\\" ;c" ;\tx = y\r\ndef\r\n0;end\r\n\r\n', cl=-1, chunked=True))
V('chunked with trailer fields (dropped)', R('POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n', 'data', wire_body='4\r\ndata\r\n0\r\nX-Sum: 1234\r\nX-Other:  v \r\n\r\n', cl=-1, chunked=True))
V('upper- and lower-case hex chunk sizes', R('POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n', 'x' * 26, wire_body='A\r\n' + 'x' * 10 + '\r\nf\r\n' + 'x' * 15 + '\r\n1\r\nx\r\n0\r\n\r\n', cl=-1, chunked=True))
V('Transfer-Encoding: Chunked (case-insensitive)', R('POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: Chunked\r\n\r\n', 'ok', wire_body='2\r\nok\r\n0\r\n\r\n', cl=-1, chunked=True))
V('Transfer-Encoding with surrounding OWS', R('POST / HTTP/1.1\r\nHost: h\r\ntransfer-encoding: \t chunked \t\r\n\r\n', 'ok', wire_body='2\r\nok\r\n0\r\n\r\n', cl=-1, chunked=True))
V('Expect: 100-continue on HTTP/1.1', R('PUT /f HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n', 'abc', cl=3, expect=True))
V('Expect: 100-Continue, mixed case', R('PUT /f HTTP/1.1\r\nHost: h\r\nexpect: 100-Continue\r\nContent-Length: 3\r\n\r\n', 'abc', cl=3, expect=True))
V('Expect: 100-continue ignored in HTTP/1.0', R('PUT /f HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n', 'abc', cl=3, keep=False, host=None))
V('absolute-form target passes through raw', R('GET http://upstream.example:8080/p?q=1#x HTTP/1.1\r\nHost: upstream.example:8080\r\n\r\n', host='upstream.example:8080'))
V('authority-form target (CONNECT)', R('CONNECT db.example:5432 HTTP/1.1\r\nHost: db.example:5432\r\n\r\n', host='db.example:5432'))
V('asterisk-form target (OPTIONS)', R('OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n'))
V('one empty line before the request line is ignored', R('\r\n' + G))
V('four empty lines before the request line are ignored', R('\r\n\r\n\r\n\r\n' + G))
V('three pipelined requests with bodies (CL, chunked, none)',
  R('POST /1 HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\n', 'first', cl=5),
  R('POST /2 HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n', 'second', wire_body='3\r\nsec\r\n3\r\nond\r\n0\r\n\r\n', cl=-1, chunked=True),
  R('GET /3 HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n', keep=False))
V('three pipelined GETs', R('GET /a HTTP/1.1\r\nHost: h\r\n\r\n'), R('GET /b HTTP/1.1\r\nHost: h\r\n\r\n'), R('GET /c HTTP/1.1\r\nHost: h\r\n\r\n'))
V('OWS around field values is trimmed, inner whitespace kept', R('GET / HTTP/1.1\r\nHost: h\r\nX-Spaced:   a  b\t c \t \r\nX-Tab:\tv\r\n\r\n'))
V('empty field values', R('GET / HTTP/1.1\r\nHost: h\r\nX-Empty:\r\nX-Blank:    \r\n\r\n'))
V('obs-text in a field value', R(b'GET / HTTP/1.1\r\nHost: h\r\nX-Latin: caf\xe9 \x80\xff\r\n\r\n'))
V('obs-text in the target (as nginx)', R(b'GET /caf\xe9?q=\xff HTTP/1.1\r\nHost: h\r\n\r\n'))
V('IPv6 literal Host with port', R('GET / HTTP/1.1\r\nHost: [2001:db8::1]:8443\r\n\r\n', host='[2001:db8::1]:8443'))
V('empty Host (allowed when the target has no authority)', R('GET / HTTP/1.1\r\nHost:\r\n\r\n', host=''))
V('Host with port and IPv4', R('GET / HTTP/1.1\r\nHost: 192.0.2.1:80\r\n\r\n', host='192.0.2.1:80'))
V('Connection list with close, mixed case', R('GET / HTTP/1.1\r\nHost: h\r\nConnection: Upgrade, CLOSE\r\nUpgrade: x\r\n\r\n', keep=False))
V('HTTP/1.0 Connection list with Keep-Alive', R('GET / HTTP/1.0\r\nConnection: TE , Keep-Alive\r\n\r\n', keep=True, host=None))
V('extension method, lower-case method kept as sent', R('purge /cache HTTP/1.1\r\nHost: h\r\n\r\n'), R('M-SEARCH * HTTP/1.1\r\nHost: h\r\n\r\n'))
V('field names with every tchar', R("GET / HTTP/1.1\r\nHost: h\r\n!#$%&'*+-.^_`|~09azAZ: v\r\n\r\n"))
V('Content-Length with leading zeros', R('POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0005\r\n\r\n', 'hello', cl=5))
V('body bytes are not parsed (CR, LF, NUL, high bytes)', R('POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 13\r\n\r\n', b'\r\n\x00\xffGET / \n\r\r', cl=13))
V('chunk data containing CRLF and a fake chunk line', R('POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n', '0\r\n\r\nX', wire_body='6\r\n0\r\n\r\nX\r\n0\r\n\r\n', cl=-1, chunked=True))
V('last-chunk written as 000', R('POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n', 'ab', wire_body='2\r\nab\r\n000\r\n\r\n', cl=-1, chunked=True))
V('many one-byte chunks', R('POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n', 'abcde', wire_body=''.join(f'1\r\n{c}\r\n' for c in 'abcde') + '0\r\n\r\n', cl=-1, chunked=True))
V('truncated chunked body: no EndOfMessage', R('POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n', 'hello wo', wire_body='5\r\nhello\r\n6\r\n wo', cl=-1, chunked=True, ended=False))
V('chunked body missing only its final CRLF: no EndOfMessage', R('POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n', 'hello', wire_body='5\r\nhello\r\n0\r\n', cl=-1, chunked=True, ended=False))
V('truncated Content-Length body: no EndOfMessage', R('POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\n', 'abc', cl=10, ended=False))
V('incomplete head: no events', extra='GET / HTTP/1.1\r\nHost: h\r\nX-Partial: abc')
V('POST without Content-Length or Transfer-Encoding has an empty body', R('POST / HTTP/1.1\r\nHost: h\r\n\r\n'), R(G))
V('request line exactly maxRequestLine bytes', R('GET /' + 'a' * 49 + ' HTTP/1.1\r\nHost: h\r\n\r\n'), limits={'maxRequestLine': len('GET /' + 'a' * 49 + ' HTTP/1.1')})
V('exactly maxHeaderFields fields', R('GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\n\r\n'), limits={'maxHeaderFields': 3})
V('head exactly maxHeaderBytes bytes', R('GET / HTTP/1.1\r\nHost: h\r\nX: 123\r\n\r\n'), limits={'maxHeaderBytes': len('GET / HTTP/1.1\r\nHost: h\r\nX: 123\r\n\r\n')})
V('field line exactly maxFieldSize bytes', R('GET / HTTP/1.1\r\nHost: h\r\nX: ' + 'v' * 17 + '\r\n\r\n'), limits={'maxFieldSize': 20})
V('Content-Length exactly maxBodyBytes', R('POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 8\r\n\r\n', '12345678', cl=8), limits={'maxBodyBytes': 8})
V('chunked body exactly maxBodyBytes', R('POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n', '12345678', wire_body='4\r\n1234\r\n4\r\n5678\r\n0\r\n\r\n', cl=-1, chunked=True), limits={'maxBodyBytes': 8})
V('empty line between pipelined requests (after a body) is ignored',
  R('POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\n', 'ok', cl=2), R('\r\nGET /next HTTP/1.1\r\nHost: h\r\n\r\n'))
V('trailer named Content-Length is dropped, not used for framing',
  R('POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n', 'abc', wire_body='3\r\nabc\r\n0\r\nContent-Length: 100\r\n\r\n', cl=-1, chunked=True), R(G))
V('repeated ordinary fields are all kept, in order', R('GET / HTTP/1.1\r\nHost: h\r\nX-A: 1\r\nx-a: 2\r\nX-A: 3\r\n\r\n'))
V('HTTP/1.0 POST with body and keep-alive, then another request',
  R('POST / HTTP/1.0\r\nConnection: keep-alive\r\nContent-Length: 4\r\n\r\n', 'body', cl=4, keep=True, host=None), R('GET / HTTP/1.0\r\n\r\n', keep=False, host=None))
V('Expect with empty value is no expectation', R('GET / HTTP/1.1\r\nHost: h\r\nExpect:\r\n\r\n'))

# ---------------- invalid ----------------
BRL, BV, UV, BT, URI = 'ERR_HTTP_BAD_REQUEST_LINE', 'ERR_HTTP_BAD_VERSION', 'ERR_HTTP_UNSUPPORTED_VERSION', 'ERR_HTTP_BAD_TARGET', 'ERR_HTTP_URI_TOO_LONG'
BH, LF_, CR_, HTL, TMH = 'ERR_HTTP_BAD_HEADER', 'ERR_HTTP_BARE_LF', 'ERR_HTTP_BARE_CR', 'ERR_HTTP_HEADERS_TOO_LARGE', 'ERR_HTTP_TOO_MANY_HEADERS'
HOST, CL, CLTE, TE, UTE = 'ERR_HTTP_BAD_HOST', 'ERR_HTTP_BAD_CONTENT_LENGTH', 'ERR_HTTP_CL_AND_TE', 'ERR_HTTP_BAD_TRANSFER_ENCODING', 'ERR_HTTP_UNKNOWN_TRANSFER_CODING'
CH, BIG, EXP = 'ERR_HTTP_BAD_CHUNK', 'ERR_HTTP_BODY_TOO_LARGE', 'ERR_HTTP_BAD_EXPECT'
P = 'POST / HTTP/1.1\r\nHost: h\r\n'
PC = P + 'Transfer-Encoding: chunked\r\n\r\n'

I('two spaces between method and target', 'GET  / HTTP/1.1\r\nHost: h\r\n\r\n', 400, BRL)
I('two spaces between target and version', 'GET /  HTTP/1.1\r\nHost: h\r\n\r\n', 400, BRL)
I('space before the method', ' GET / HTTP/1.1\r\nHost: h\r\n\r\n', 400, BRL)
I('HTAB as request-line separator', 'GET\t/\tHTTP/1.1\r\nHost: h\r\n\r\n', 400, BRL)
I('no HTTP-version (HTTP/0.9 style)', 'GET /\r\nHost: h\r\n\r\n', 400, BRL)
I('space after the version', 'GET / HTTP/1.1 \r\nHost: h\r\n\r\n', 400, BRL)
I('non-token character in method', 'GE@T / HTTP/1.1\r\nHost: h\r\n\r\n', 400, BRL)
I('lower-case http version', 'GET / http/1.1\r\nHost: h\r\n\r\n', 400, BV)
I('two-digit minor version', 'GET / HTTP/1.10\r\nHost: h\r\n\r\n', 400, BV)
I('HTTP/2.0 on the HTTP/1 parser', 'GET / HTTP/2.0\r\nHost: h\r\n\r\n', 505, UV)
I('HTTP/1.2 is not served', 'GET / HTTP/1.2\r\nHost: h\r\n\r\n', 505, UV)
I('NUL in the target', 'GET /a\x00b HTTP/1.1\r\nHost: h\r\n\r\n', 400, BT)
I('DEL in the target', 'GET /a\x7fb HTTP/1.1\r\nHost: h\r\n\r\n', 400, BT)
I('request line over maxRequestLine, head incomplete', 'GET /' + 'a' * 100, 414, URI, limits={'maxRequestLine': 64})
I('five empty lines before the request line', '\r\n' * 5 + 'GET / HTTP/1.1\r\nHost: h\r\n\r\n', 400, BRL)
I('bare LF ends the request line (waitress CVE-2019-16785)', 'GET / HTTP/1.1\nHost: h\r\n\r\n', 400, LF_)
I('bare LF ends a field line', 'GET / HTTP/1.1\r\nHost: h\nX: y\r\n\r\n', 400, LF_)
I('LF LF ends the head', 'GET / HTTP/1.1\nHost: h\n\n', 400, LF_)
I('bare LF as the empty line', 'GET / HTTP/1.1\r\nHost: h\r\n\n', 400, LF_)
I('bare LF in an incomplete head', 'GET / HTTP/1.1\r\nHost: h\nX-Waiting: for more', 400, LF_)
I('bare CR inside a field value', 'GET / HTTP/1.1\r\nHost: h\r\nX: a\rb\r\n\r\n', 400, CR_)
I('bare CR as a line ending', 'GET / HTTP/1.1\rHost: h\r\n\r\n', 400, CR_)
I('bare CR in an incomplete head', 'GET / HTTP/1.1\r\nHost: h\r\nX: a\rmore', 400, CR_)
I('obs-fold with SP', 'GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n b\r\n\r\n', 400, BH)
I('obs-fold with HTAB', 'GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n\tb\r\n\r\n', 400, BH)
I('whitespace before the first field line', 'GET / HTTP/1.1\r\n Host: h\r\n\r\n', 400, BH)
I('space between field name and colon', 'GET / HTTP/1.1\r\nHost : h\r\n\r\n', 400, BH)
I('HTAB between field name and colon', 'GET / HTTP/1.1\r\nHost\t: h\r\n\r\n', 400, BH)
I('"Transfer-Encoding : chunked" smuggling attempt', P + 'Transfer-Encoding : chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n', 400, BH)
I('empty field name', 'GET / HTTP/1.1\r\nHost: h\r\n: v\r\n\r\n', 400, BH)
I('field line without a colon', 'GET / HTTP/1.1\r\nHost: h\r\nNoColonHere\r\n\r\n', 400, BH)
I('NUL in a field name', 'GET / HTTP/1.1\r\nHost: h\r\nX\x00Y: v\r\n\r\n', 400, BH)
I('NUL in a field value (waitress CVE-2019-16789)', 'GET / HTTP/1.1\r\nHost: h\r\nX: a\x00b\r\n\r\n', 400, BH)
I('CTL 0x01 in a field value', 'GET / HTTP/1.1\r\nHost: h\r\nX: a\x01b\r\n\r\n', 400, BH)
I('DEL in a field value', 'GET / HTTP/1.1\r\nHost: h\r\nX: a\x7fb\r\n\r\n', 400, BH)
I('vertical tab around a Transfer-Encoding value', P + 'Transfer-Encoding: \x0bchunked\r\n\r\n0\r\n\r\n', 400, BH)
I('more than maxHeaderFields fields, head incomplete', 'GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\nC: 3', 431, TMH, limits={'maxHeaderFields': 3})
I('field line over maxFieldSize, head incomplete', 'GET / HTTP/1.1\r\nHost: h\r\nX: ' + 'v' * 100, 431, HTL, limits={'maxFieldSize': 64})
I('head over maxHeaderBytes, head incomplete', 'GET / HTTP/1.1\r\nHost: h\r\n' + 'X-Fill: 0123456789\r\n' * 20, 431, HTL, limits={'maxHeaderBytes': 256})
I('two equal Content-Length fields', P + 'Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello', 400, CL)
I('two different Content-Length fields', P + 'Content-Length: 5\r\ncontent-length: 2\r\n\r\nhello', 400, CL)
I('Content-Length with a plus sign', P + 'Content-Length: +5\r\n\r\nhello', 400, CL)
I('negative Content-Length', P + 'Content-Length: -5\r\n\r\nhello', 400, CL)
I('hex Content-Length', P + 'Content-Length: 0x5\r\n\r\nhello', 400, CL)
I('Content-Length as a comma list', P + 'Content-Length: 5, 5\r\n\r\nhello', 400, CL)
I('Content-Length with an inner space', P + 'Content-Length: 1 0\r\n\r\n0123456789', 400, CL)
I('empty Content-Length', P + 'Content-Length:\r\n\r\n', 400, CL)
I('Content-Length over maxBodyBytes', P + 'Content-Length: 1025\r\n\r\n', 413, BIG, limits={'maxBodyBytes': 1024})
I('Content-Length beyond MAX_SAFE_INTEGER', P + 'Content-Length: 18446744073709551616\r\n\r\n', 413, BIG)
I('Content-Length and Transfer-Encoding (CL.TE)', P + 'Content-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nX', 400, CLTE)
I('Transfer-Encoding and Content-Length (TE.CL)', P + 'Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n8\r\nSMUGGLED\r\n0\r\n\r\n', 400, CLTE)
I('two Transfer-Encoding fields', P + 'Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', 400, TE)
I('Transfer-Encoding split across fields (gunicorn CVE-2024-1135)', P + 'Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', 400, TE)
I('Transfer-Encoding in an HTTP/1.0 request', 'POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', 400, TE)
I('chunked applied twice', P + 'Transfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n', 400, TE)
I('chunked not the final coding (RFC 9112 §6.3)', P + 'Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n', 400, TE)
I('empty Transfer-Encoding', P + 'Transfer-Encoding:\r\n\r\n', 400, TE)
I('chunked with a parameter', P + 'Transfer-Encoding: chunked;foo=bar\r\n\r\n0\r\n\r\n', 400, TE)
I('Transfer-Encoding with an empty list element', P + 'Transfer-Encoding: , chunked\r\n\r\n0\r\n\r\n', 400, TE)
I('Transfer-Encoding: gzip (not implemented)', P + 'Transfer-Encoding: gzip\r\n\r\n', 501, UTE)
I('Transfer-Encoding: identity (meinheld CVE-2020-7658 class)', P + 'Transfer-Encoding: identity\r\n\r\n', 501, UTE)
I('unknown transfer coding', P + 'Transfer-Encoding: x-foo\r\n\r\n', 501, UTE)
I('gzip, chunked (not implemented)', P + 'Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n', 501, UTE)
I('"xchunked" is not chunked (waitress CVE-2019-16792 class)', P + 'Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n', 501, UTE)
I('HTTP/1.1 without Host', 'GET / HTTP/1.1\r\nX: y\r\n\r\n', 400, HOST)
I('two Host fields', 'GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n', 400, HOST)
I('two equal Host fields', 'GET / HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n', 400, HOST)
I('Host with a space', 'GET / HTTP/1.1\r\nHost: a b\r\n\r\n', 400, HOST)
I('Host with userinfo', 'GET / HTTP/1.1\r\nHost: user@evil.example\r\n\r\n', 400, HOST)
I('Host with a path', 'GET / HTTP/1.1\r\nHost: a.example/x\r\n\r\n', 400, HOST)
I('Host with a non-numeric port', 'GET / HTTP/1.1\r\nHost: a.example:80x\r\n\r\n', 400, HOST)
I('unknown expectation', 'GET / HTTP/1.1\r\nHost: h\r\nExpect: 200-ok\r\n\r\n', 417, EXP)
I('chunk size with 0x prefix', PC + '0x10\r\n' + 'x' * 16 + '\r\n0\r\n\r\n', 400, CH)
I('chunk size with a plus sign', PC + '+5\r\nhello\r\n0\r\n\r\n', 400, CH)
I('chunk size with leading space (waitress CVE-2022-24761)', PC + ' 5\r\nhello\r\n0\r\n\r\n', 400, CH)
I('chunk size with trailing space', PC + '5 \r\nhello\r\n0\r\n\r\n', 400, CH)
I('17 hex digits in a chunk size', PC + '00000000000000005\r\nhello\r\n0\r\n\r\n', 413, BIG)
I('empty chunk-ext after ";"', PC + '5;\r\nhello\r\n0\r\n\r\n', 400, CH)
I('unterminated quoted chunk-ext value', PC + '5;a="b\r\nhello\r\n0\r\n\r\n', 400, CH)
I('chunk data longer than the chunk size (no CRLF after data)', PC + '3\r\nhello\r\n0\r\n\r\n', 400, CH)
I('LF only after chunk data', PC + '5\r\nhello\n0\r\n\r\n', 400, CH)
I('bare LF ends a chunk-size line', PC + '5\nhello\r\n0\r\n\r\n', 400, LF_)
I('bare LF ends the last-chunk line', PC + '0\n\r\n', 400, LF_)
I('bare CR in a chunk-size line', PC + '5\rhello\r\n0\r\n\r\n', 400, CR_)
I('chunk line over maxChunkLine', PC + '5;ext=' + 'e' * 50 + '\r\nhello\r\n0\r\n\r\n', 400, CH, limits={'maxChunkLine': 32})
I('chunked body over maxBodyBytes', PC + '5\r\nhello\r\n5\r\nworld\r\n0\r\n\r\n', 413, BIG, limits={'maxBodyBytes': 8})
I('chunk size beyond MAX_SAFE_INTEGER', PC + 'ffffffffffffffff\r\n', 413, BIG)
I('bad trailer field (space before colon)', PC + '0\r\nX-T : v\r\n\r\n', 400, BH)
I('obs-fold in the trailer section', PC + '0\r\nX-T: v\r\n w\r\n\r\n', 400, BH)
I('bare LF in the trailer section', PC + '0\r\nX-T: v\n\r\n', 400, LF_)
I('valid GET, then a bare-LF request', G + 'GET / HTTP/1.1\nHost: h\r\n\r\n', 400, LF_, before=1)
I('two requests, then a CL.TE smuggling attempt', G + G + P + 'Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', 400, CLTE, before=2)
I('complete chunked request, then a bad chunk in the next', PC + '2\r\nok\r\n0\r\n\r\n' + PC + '2 \r\nok\r\n0\r\n\r\n', 400, CH, before=1)
I('CL body swallows a fake request; the bytes after it are bad', P + 'Content-Length: 27\r\n\r\nGET /admin HTTP/1.1\r\nX: y\r\n' + 'GARBAGE\r\n\r\n', 400, BRL, before=1)

write_all(ROOT, '.http', valid, invalid)
