# Run: python3 test/vectors/fastcgi/generate.py (rewrites valid/ and invalid/ beside this file).
# Generates test/vectors/fastcgi/{valid,invalid}/NNN.{fcgi,json}: FastCGI 1.0 record streams
# as the --fastcgi listener receives them from nginx (or any FastCGI client), for the
# responder (src/protocols/fastcgi/responder.ts, record.ts, params.ts). Each json holds
#   { why, limits?, app?, events, replies, error }
# (see test/vectors/fastcgi.test.ts for how the runner drives the responder and the
# simulated app: 'instant', the default, answers each request as soon as its STDIN ends
# or it is aborted; 'busy' never answers). `replies` are the records warpipe sends back,
# as hex, header | content | padding. `invalid` holds the streams that break the protocol
# or ask for what warpipe does not do; some of these are answered (UNKNOWN_TYPE) or
# ignored (records of requests that are not active, spec §3.3) rather than refused:
# their error is null.
#
# Records are built with struct from the fields written here; the expected events and
# replies are written by hand (the reply builders below encode fields given by hand).
import os, struct, sys
ROOT = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(ROOT))
from corpus import fresh, write_all  # noqa: E402
fresh(ROOT)

# spec §8
BEGIN_REQUEST, ABORT_REQUEST, END_REQUEST, PARAMS, STDIN, STDOUT, STDERR, DATA = 1, 2, 3, 4, 5, 6, 7, 8
GET_VALUES, GET_VALUES_RESULT, UNKNOWN_TYPE = 9, 10, 11
RESPONDER, AUTHORIZER, FILTER = 1, 2, 3
KEEP_CONN = 1
REQUEST_COMPLETE, CANT_MPX_CONN, OVERLOADED, UNKNOWN_ROLE = 0, 1, 2, 3

def b(s):
    return s.encode('latin1') if isinstance(s, str) else s

def rec(t, rid, content=b'', pad=None, version=1, reserved=0):
    """One record (spec §3.3); padding to a multiple of 8 unless `pad` is given."""
    content = b(content)
    if pad is None:
        pad = (8 - len(content) % 8) % 8
    return struct.pack('>BBHHBB', version, t, rid, len(content), pad, reserved) + content + b'\0' * pad

def nvlen(n, long=False):
    return struct.pack('>I', n | 0x80000000) if n > 127 or long else bytes([n])

def nvs(*pairs):
    """Name-value pairs (spec §3.4)."""
    out = b''
    for name, value in pairs:
        name, value = b(name), b(value)
        out += nvlen(len(name)) + nvlen(len(value)) + name + value
    return out

def begin(rid, role=RESPONDER, flags=0):
    return rec(BEGIN_REQUEST, rid, struct.pack('>HB5x', role, flags))

def params(rid, *pairs):
    """The PARAMS stream in one record, then the empty record that ends it."""
    return rec(PARAMS, rid, nvs(*pairs)) + rec(PARAMS, rid)

def stdin(rid, *datas):
    """STDIN records, one per item, then the empty record that ends the stream."""
    return b''.join(rec(STDIN, rid, d) for d in datas) + rec(STDIN, rid)

# ---- expected replies, as "header | content | padding" hex ----
def hexrec(t, rid, content=b''):
    content = b(content)
    pad = (8 - len(content) % 8) % 8
    head = struct.pack('>BBHHBB', 1, t, rid, len(content), pad, 0)
    return ' | '.join(x for x in (head.hex(), content.hex(), (b'\0' * pad).hex()) if x)

def END(rid, app=0):
    """What end(id, app) sends: the empty STDOUT, then END_REQUEST / REQUEST_COMPLETE."""
    return [hexrec(STDOUT, rid), hexrec(END_REQUEST, rid, struct.pack('>IB3x', app, REQUEST_COMPLETE))]

def REFUSED(rid, protocol_status):
    return [hexrec(END_REQUEST, rid, struct.pack('>IB3x', 0, protocol_status))]

def UNKNOWN(t):
    return [hexrec(UNKNOWN_TYPE, 0, bytes([t]) + b'\0' * 7)]

def VALUES(*pairs):
    return [hexrec(GET_VALUES_RESULT, 0, nvs(*pairs))]

# ---- expected events ----
def REQ(rid, pairs, keep):
    return {'kind': 'request', 'id': rid, 'params': [list(p) for p in pairs], 'keepConn': keep}
def IN(rid, data):
    return {'kind': 'stdin', 'id': rid, 'data': data}
def EOF(rid):
    return {'kind': 'stdin-end', 'id': rid}
def ABORT(rid):
    return {'kind': 'abort', 'id': rid}

valid, invalid = [], []
def V(why, wire, events, replies, limits=None, app=None):
    valid.append((b(wire), {'why': why, **({'limits': limits} if limits else {}), **({'app': app} if app else {}),
                            'events': events, 'replies': replies, 'error': None}))
def I(why, wire, events=(), replies=(), error=None, limits=None, app=None):
    invalid.append((b(wire), {'why': why, **({'limits': limits} if limits else {}), **({'app': app} if app else {}),
                              'events': list(events), 'replies': list(replies), 'error': error}))
BAD_RECORD = {'status': 400, 'code': 'ERR_FCGI_BAD_RECORD'}
BAD_PARAMS = {'status': 400, 'code': 'ERR_FCGI_BAD_PARAMS'}
PARAMS_TOO_LARGE = {'status': 431, 'code': 'ERR_FCGI_BAD_PARAMS'}

GET = [('REQUEST_METHOD', 'GET'), ('SCRIPT_NAME', ''), ('PATH_INFO', '/')]

# ---------------- valid ----------------
V('a GET as nginx sends it, every byte written out',
  bytes.fromhex('0101000100080000 0001000000000000')    # BEGIN_REQUEST id 1: role 1 (responder), flags 0
  + bytes.fromhex('0104000100 2e 02 00')                # PARAMS id 1: 46 bytes of content, 2 of padding
  + b'\x0e\x03REQUEST_METHODGET' + b'\x09\x02PATH_INFO/x' + b'\x0c\x00QUERY_STRING' + b'\0\0'
  + bytes.fromhex('0104000100000000')                   # the empty PARAMS record: the params end
  + bytes.fromhex('0105000100000000'),                  # the empty STDIN record: no body
  [REQ(1, [('REQUEST_METHOD', 'GET'), ('PATH_INFO', '/x'), ('QUERY_STRING', '')], False), EOF(1)],
  ['0106000100000000', '0103000100080000 | 0000000000000000'])
V('a POST with its body in two STDIN records, FCGI_KEEP_CONN',
  begin(1, flags=KEEP_CONN) + params(1, ('REQUEST_METHOD', 'POST'), ('CONTENT_LENGTH', '11')) + stdin(1, 'hello', ' world'),
  [REQ(1, [('REQUEST_METHOD', 'POST'), ('CONTENT_LENGTH', '11')], True), IN(1, 'hello'), IN(1, ' world'), EOF(1)], END(1))
V('FCGI_KEEP_CONN: two requests one after the other, both on id 1',
  begin(1, flags=KEEP_CONN) + params(1, *GET) + stdin(1) + begin(1, flags=KEEP_CONN) + params(1, ('REQUEST_METHOD', 'HEAD')) + stdin(1),
  [REQ(1, GET, True), EOF(1), REQ(1, [('REQUEST_METHOD', 'HEAD')], True), EOF(1)], END(1) + END(1))
block = nvs(('HTTP_HOST', 'example.com'), ('HTTP_X_LONG', 'L' * 150), ('PATH_INFO', '/p'))
assert block[2:5] == b'HTT' and block[23:25] == b'\x80\x00'  # cut at 5: inside a name; at 25: inside a four-byte length
V('the PARAMS stream in three records: one cut inside a name, one inside a four-byte length',
  begin(1) + rec(PARAMS, 1, block[:5]) + rec(PARAMS, 1, block[5:25]) + rec(PARAMS, 1, block[25:]) + rec(PARAMS, 1) + stdin(1),
  [REQ(1, [('HTTP_HOST', 'example.com'), ('HTTP_X_LONG', 'L' * 150), ('PATH_INFO', '/p')], False), EOF(1)], END(1))
V('names and values of 128 bytes and more use four-byte lengths',
  begin(1) + params(1, ('HTTP_' + 'N' * 130, 'v' * 200), ('HTTP_COOKIE', 'c' * 128)) + stdin(1),
  [REQ(1, [('HTTP_' + 'N' * 130, 'v' * 200), ('HTTP_COOKIE', 'c' * 128)], False), EOF(1)], END(1))
V('four-byte lengths for short names and values are accepted',
  begin(1) + rec(PARAMS, 1, nvlen(1, long=True) + nvlen(2, long=True) + b'Abc' + nvlen(0, long=True) + nvlen(0, long=True)) + rec(PARAMS, 1) + stdin(1),
  [REQ(1, [('A', 'bc'), ('', '')], False), EOF(1)], END(1))
V('no params at all: the empty PARAMS record alone',
  begin(1) + rec(PARAMS, 1) + stdin(1), [REQ(1, [], False), EOF(1)], END(1))
V('empty values',
  begin(1) + params(1, ('CONTENT_TYPE', ''), ('CONTENT_LENGTH', ''), ('QUERY_STRING', '')) + stdin(1),
  [REQ(1, [('CONTENT_TYPE', ''), ('CONTENT_LENGTH', ''), ('QUERY_STRING', '')], False), EOF(1)], END(1))
V('latin-1 bytes, NUL and CR LF in names and values are kept',
  begin(1) + params(1, (b'HTTP_X\xe9', b'a\0b\r\nc\xff')) + stdin(1),
  [REQ(1, [('HTTP_X\xe9', 'a\0b\r\nc\xff')], False), EOF(1)], END(1))
V('padding of any length is skipped: 0, 255 and 7 bytes, and the reserved byte is ignored',
  rec(BEGIN_REQUEST, 1, struct.pack('>HB5x', RESPONDER, 0), pad=0, reserved=0xff)
  + rec(PARAMS, 1, nvs(('A', 'b')), pad=255) + rec(PARAMS, 1, pad=7) + rec(STDIN, 1, 'abc', pad=0) + rec(STDIN, 1, pad=3),
  [REQ(1, [('A', 'b')], False), IN(1, 'abc'), EOF(1)], END(1))
V('two requests multiplexed, records interleaved; each keeps its params, body and flags',
  begin(1, flags=KEEP_CONN) + begin(2) + params(2, ('REQUEST_METHOD', 'POST')) + rec(PARAMS, 1, nvs(('REQUEST_METHOD', 'PUT')))
  + rec(STDIN, 2, 'two') + rec(PARAMS, 1) + rec(STDIN, 1, 'one-a') + rec(STDIN, 2) + rec(STDIN, 1, 'one-b') + rec(STDIN, 1),
  [REQ(2, [('REQUEST_METHOD', 'POST')], False), IN(2, 'two'), REQ(1, [('REQUEST_METHOD', 'PUT')], True), IN(1, 'one-a'),
   EOF(2), IN(1, 'one-b'), EOF(1)], END(2) + END(1))
V('request ids 256 and 65535 (big-endian)',
  begin(256) + params(256, ('X', 'a')) + begin(65535) + params(65535, ('X', 'b')) + stdin(65535) + stdin(256),
  [REQ(256, [('X', 'a')], False), REQ(65535, [('X', 'b')], False), EOF(65535), EOF(256)], END(65535) + END(256))
V('GET_VALUES for the three variables of the spec',
  rec(GET_VALUES, 0, nvs(('FCGI_MAX_CONNS', ''), ('FCGI_MAX_REQS', ''), ('FCGI_MPXS_CONNS', ''))),
  [], VALUES(('FCGI_MAX_CONNS', '1024'), ('FCGI_MAX_REQS', '64'), ('FCGI_MPXS_CONNS', '1')))
V('GET_VALUES: unknown names are left out, known ones answered in the order asked, values sent are ignored',
  rec(GET_VALUES, 0, nvs(('FCGI_MPXS_CONNS', ''), ('NOPE', ''), ('FCGI_MAX_REQS', 'x'))),
  [], VALUES(('FCGI_MPXS_CONNS', '1'), ('FCGI_MAX_REQS', '64')))
V('GET_VALUES asking nothing gets an empty GET_VALUES_RESULT', rec(GET_VALUES, 0), [], VALUES())
V('GET_VALUES reports maxRequests', rec(GET_VALUES, 0, nvs(('FCGI_MAX_REQS', ''))), [], VALUES(('FCGI_MAX_REQS', '4')),
  limits={'maxRequests': 4})
V('GET_VALUES in the middle of a request is answered in record order',
  begin(1) + rec(PARAMS, 1, nvs(('A', 'b'))) + rec(GET_VALUES, 0, nvs(('FCGI_MPXS_CONNS', ''))) + rec(PARAMS, 1) + stdin(1),
  [REQ(1, [('A', 'b')], False), EOF(1)], VALUES(('FCGI_MPXS_CONNS', '1')) + END(1))
V('ABORT_REQUEST during STDIN: the request ends with appStatus 1; later records of it are ignored',
  begin(1) + params(1, *GET) + rec(STDIN, 1, 'part') + rec(ABORT_REQUEST, 1) + rec(STDIN, 1, 'more') + rec(STDIN, 1),
  [REQ(1, GET, False), IN(1, 'part'), ABORT(1)], END(1, app=1))
V('ABORT_REQUEST before the params end: no request event, still an END_REQUEST',
  begin(1) + rec(PARAMS, 1, nvs(('A', 'b'))) + rec(ABORT_REQUEST, 1) + rec(PARAMS, 1) + stdin(1),
  [ABORT(1)], END(1, app=1))
V('ABORT_REQUEST with a busy app: the event only, the app answers when it can',
  begin(1, flags=KEEP_CONN) + params(1, *GET) + stdin(1, 'x') + rec(ABORT_REQUEST, 1),
  [REQ(1, GET, True), IN(1, 'x'), EOF(1), ABORT(1)], [], app='busy')
V('Authorizer and Filter roles are refused with UNKNOWN_ROLE and their records ignored; a responder request beside them is served',
  begin(1, role=AUTHORIZER) + params(1, ('A', 'b')) + begin(2, role=FILTER) + params(2, ('A', 'b')) + rec(DATA, 2, 'd') + stdin(2, 'x')
  + begin(3) + params(3, ('A', 'c')) + stdin(3),
  [REQ(3, [('A', 'c')], False), EOF(3)], REFUSED(1, UNKNOWN_ROLE) + REFUSED(2, UNKNOWN_ROLE) + END(3))
V('one request more than maxRequests is refused with OVERLOADED; its records are ignored',
  begin(1) + begin(2) + params(2, ('A', 'b')) + params(1, ('A', 'a')) + stdin(2, 'x') + stdin(1, 'y'),
  [REQ(1, [('A', 'a')], False), IN(1, 'y'), EOF(1)], REFUSED(2, OVERLOADED), limits={'maxRequests': 1}, app='busy')
V('DATA records (the filter role\'s stream) of a responder request are ignored',
  begin(1) + params(1, *GET) + rec(DATA, 1, 'filter data') + rec(DATA, 1) + stdin(1, 'body'),
  [REQ(1, GET, False), IN(1, 'body'), EOF(1)], END(1))
V('flag bits other than FCGI_KEEP_CONN are ignored',
  begin(1, flags=0xfe) + params(1, ('A', 'b')) + stdin(1) + begin(1, flags=0xff) + params(1, ('A', 'c')) + stdin(1),
  [REQ(1, [('A', 'b')], False), EOF(1), REQ(1, [('A', 'c')], True), EOF(1)], END(1) + END(1))
V('params exactly maxParamsBytes, in two records',
  begin(1) + rec(PARAMS, 1, nvs(('HTTP_A', 'a' * 24))) + rec(PARAMS, 1, nvs(('HTTP_B', 'b' * 24))) + rec(PARAMS, 1) + stdin(1),
  [REQ(1, [('HTTP_A', 'a' * 24), ('HTTP_B', 'b' * 24)], False), EOF(1)], END(1), limits={'maxParamsBytes': 64})
V('STDIN bytes are not parsed: NUL, CR LF, high bytes, a record header',
  begin(1) + params(1, *GET) + stdin(1, b'\0\r\n\xff' + rec(STDIN, 1, 'fake')),
  [REQ(1, GET, False), IN(1, '\0\r\n\xff\x01\x05\x00\x01\x00\x04\x04\x00fake\0\0\0\0'), EOF(1)], END(1))
V('a STDIN record of 2000 bytes', begin(1) + params(1, *GET) + stdin(1, 'z' * 2000),
  [REQ(1, GET, False), IN(1, 'z' * 2000), EOF(1)], END(1))
V('incomplete: BEGIN_REQUEST and half a PARAMS record, nothing yet', begin(1) + rec(PARAMS, 1, nvs(*GET))[:20], [], [])
V('incomplete: one byte of a record header', b'\x01', [], [])
V('incomplete: the params ended, no STDIN yet (busy app)', begin(1) + params(1, *GET), [REQ(1, GET, False)], [], app='busy')

# ---------------- invalid ----------------
I('version 0', rec(BEGIN_REQUEST, 1, struct.pack('>HB5x', 1, 0), version=0), error=BAD_RECORD)
I('version 2 after a complete request', begin(1) + params(1, *GET) + stdin(1) + rec(GET_VALUES, 0, version=2),
  [REQ(1, GET, False), EOF(1)], END(1), BAD_RECORD)
I('version refused from the first byte, before the rest of the header', begin(1) + params(1, *GET) + b'\x02',
  [REQ(1, GET, False)], error=BAD_RECORD)
I('an HTTP request sent to the FastCGI port', 'GET / HTTP/1.1\r\nHost: h\r\n\r\n', error=BAD_RECORD)
I('a four-byte name length cut short', begin(1) + rec(PARAMS, 1, nvs(('A', 'b')) + b'\x80\x00') + rec(PARAMS, 1), error=BAD_PARAMS)
I('the block ends after a name length', begin(1) + rec(PARAMS, 1, nvs(('A', 'b')) + b'\x05') + rec(PARAMS, 1), error=BAD_PARAMS)
I('a one-byte name length overruns the block', begin(1) + rec(PARAMS, 1, b'\x20\x01ABCDE') + rec(PARAMS, 1), error=BAD_PARAMS)
I('a four-byte value length (0x1000) overruns the block', begin(1) + rec(PARAMS, 1, b'\x01\x80\x00\x10\x00Avalue') + rec(PARAMS, 1),
  error=BAD_PARAMS)
I('a value length of 0x7fffffff overruns the block', begin(1) + rec(PARAMS, 1, b'\x01\xff\xff\xff\xffAv') + rec(PARAMS, 1),
  error=BAD_PARAMS)
I('PARAMS block of an earlier request fine, the next one bad: the first is served',
  begin(1) + params(1, *GET) + stdin(1) + begin(2) + rec(PARAMS, 2, b'\x03\x01AB') + rec(PARAMS, 2),
  [REQ(1, GET, False), EOF(1)], END(1), BAD_PARAMS)
I('params over maxParamsBytes in one record: refused before the params end',
  begin(1) + rec(PARAMS, 1, nvs(('HTTP_A', 'a' * 57))), error=PARAMS_TOO_LARGE, limits={'maxParamsBytes': 64})
I('params over maxParamsBytes across records: refused at the record that passes it',
  begin(1) + rec(PARAMS, 1, nvs(('HTTP_A', 'a' * 24))) + rec(PARAMS, 1, nvs(('HTTP_B', 'b' * 25))) + rec(PARAMS, 1),
  error=PARAMS_TOO_LARGE, limits={'maxParamsBytes': 64})
I('unknown record type 12 for an active request', begin(1) + rec(12, 1), error=BAD_RECORD)
I('STDOUT from the client', begin(1) + params(1, *GET) + rec(STDOUT, 1, 'x'), [REQ(1, GET, False)], error=BAD_RECORD)
I('STDERR from the client', begin(1) + rec(STDERR, 1, 'x'), error=BAD_RECORD)
I('END_REQUEST from the client', begin(1) + rec(END_REQUEST, 1, b'\0' * 8), error=BAD_RECORD)
I('GET_VALUES with a request id of an active request', begin(1) + rec(GET_VALUES, 1), error=BAD_RECORD)
I('unknown management record type 42: UNKNOWN_TYPE, the connection goes on',
  rec(42, 0, 'whatever') + begin(1) + params(1, *GET) + stdin(1), [REQ(1, GET, False), EOF(1)], UNKNOWN(42) + END(1))
I('BEGIN_REQUEST with request id 0 is a management record of unknown type', begin(0), replies=UNKNOWN(BEGIN_REQUEST))
I('GET_VALUES_RESULT from the client: UNKNOWN_TYPE', rec(GET_VALUES_RESULT, 0, nvs(('FCGI_MAX_REQS', '1'))),
  replies=UNKNOWN(GET_VALUES_RESULT))
I('records of request ids never begun are ignored (spec §3.3), whatever their type',
  params(7, ('A', 'b')) + stdin(7, 'x') + rec(ABORT_REQUEST, 7) + rec(12, 9) + rec(STDOUT, 9, 'y') + begin(1) + params(1, *GET) + stdin(1),
  [REQ(1, GET, False), EOF(1)], END(1))
I('records of a request already answered are ignored',
  begin(1) + params(1, *GET) + stdin(1) + rec(STDIN, 1, 'late') + rec(PARAMS, 1, nvs(('A', 'b'))) + rec(ABORT_REQUEST, 1) + rec(12, 1),
  [REQ(1, GET, False), EOF(1)], END(1))
I('BEGIN_REQUEST again for an id whose params are coming', begin(1) + rec(PARAMS, 1, nvs(('A', 'b'))) + begin(1), error=BAD_RECORD)
I('BEGIN_REQUEST again for an id whose body is coming', begin(1) + params(1, *GET) + rec(STDIN, 1, 'x') + begin(1),
  [REQ(1, GET, False), IN(1, 'x')], error=BAD_RECORD)
I('BEGIN_REQUEST again for an id whose app has not answered yet', begin(1) + params(1, *GET) + stdin(1) + begin(1),
  [REQ(1, GET, False), EOF(1)], error=BAD_RECORD, app='busy')
I('BEGIN_REQUEST body of 4 bytes', rec(BEGIN_REQUEST, 1, b'\0\x01\0\0'), error=BAD_RECORD)
I('BEGIN_REQUEST body of 16 bytes', rec(BEGIN_REQUEST, 1, struct.pack('>HB13x', 1, 0)), error=BAD_RECORD)
I('PARAMS after the params ended', begin(1) + params(1, *GET) + rec(PARAMS, 1, nvs(('A', 'b'))), [REQ(1, GET, False)], error=BAD_RECORD)
I('STDIN before the params ended', begin(1) + rec(PARAMS, 1, nvs(*GET)) + rec(STDIN, 1, 'x'), error=BAD_RECORD)
I('STDIN after STDIN ended, the app still busy', begin(1) + params(1, *GET) + stdin(1) + rec(STDIN, 1, 'x'),
  [REQ(1, GET, False), EOF(1)], error=BAD_RECORD, app='busy')
I('GET_VALUES with malformed pairs', rec(GET_VALUES, 0, b'\x0f\x00FCGI'), error=BAD_PARAMS)

write_all(ROOT, '.fcgi', valid, invalid)
