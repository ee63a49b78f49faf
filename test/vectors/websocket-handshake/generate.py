# Run: python3 test/vectors/websocket-handshake/generate.py (rewrites valid/ and invalid/ beside this file).
# Generates test/vectors/websocket-handshake/{valid,invalid}/NNN.{http,json}: WebSocket opening
# handshakes (RFC 6455 §4.2.1) as raw requests, read by the HTTP/1.1 parser and judged by
# checkHandshake (src/protocols/websocket/handshake.ts); for the accepted ones, the
# permessage-deflate negotiation (deflate.ts, RFC 7692 §7.1) with the default options.
# Each json: { why, result } with result one of
#   null                                   not a WebSocket handshake: plain HTTP
#   { status, headers }                    refused (400 or 426) with these extra headers
#   { accept, subprotocols, extensions, deflate }   accepted; deflate: the negotiated
#                                          Sec-WebSocket-Extensions value or null
# The expected values are written by hand (the RFC's example accept value included).
import os, sys
ROOT = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(ROOT))
from corpus import fresh, write_all  # noqa: E402
fresh(ROOT)

KEY = 'dGhlIHNhbXBsZSBub25jZQ=='          # RFC 6455 §1.3's sample nonce
ACCEPT = 's3pPLMBiTxaQ9kYGzzhZRbK+xOo='    # and the accept value the RFC gives for it
BASE = [('Host', 'server.example.com'), ('Upgrade', 'websocket'), ('Connection', 'Upgrade'),
        ('Sec-WebSocket-Key', KEY), ('Sec-WebSocket-Version', '13')]

def request(headers=None, extra=(), method='GET', version='HTTP/1.1', drop=()):
    hs = [h for h in (BASE if headers is None else headers) if h[0] not in drop] + list(extra)
    return (f'{method} /chat {version}\r\n' + ''.join(f'{n}: {v}\r\n' for n, v in hs) + '\r\n').encode('latin1')

def ok(subprotocols=(), extensions=(), deflate=None, accept=ACCEPT):
    return {'accept': accept, 'subprotocols': list(subprotocols), 'extensions': list(extensions), 'deflate': deflate}
def offer(name, *params):
    return {'name': name, 'params': [list(p) for p in params]}
def refused(status, headers=()):
    return {'status': status, 'headers': [list(h) for h in headers]}
UPGRADE_REQUIRED = refused(426, [('Upgrade', 'websocket'), ('Sec-WebSocket-Version', '13')])
DEFAULT_DEFLATE = 'permessage-deflate; server_max_window_bits=12'

valid, invalid = [], []
def V(why, wire, result): valid.append((wire, {'why': why, 'result': result}))
def I(why, wire, result): invalid.append((wire, {'why': why, 'result': result}))

V("RFC 6455 §1.3's handshake: the sample key gives the sample accept value", request(), ok())
V('not a WebSocket handshake: no Upgrade at all', request(drop=('Upgrade', 'Sec-WebSocket-Key')), None)
V('not a WebSocket handshake: Upgrade: h2c', request(drop=('Upgrade',), extra=[('Upgrade', 'h2c')]), None)
V('header names and the upgrade tokens in any case; Upgrade and Connection lists',
  request([('host', 'x'), ('UPGRADE', 'foo, WebSocket'), ('connection', 'keep-alive, UPGRADE'),
           ('sec-websocket-key', 'AAAAAAAAAAAAAAAAAAAAAA=='), ('SEC-WEBSOCKET-VERSION', '13')]),
  ok(accept='ICX+Yqv66kxgM0FcWaLWlFLwTAI='))
V('Connection given on two lines', request(drop=('Connection',), extra=[('Connection', 'keep-alive'), ('Connection', 'upgrade')]), ok())
V('subprotocols from every Sec-WebSocket-Protocol header, comma-split and trimmed, empty elements skipped',
  request(extra=[('Sec-WebSocket-Protocol', 'chat, superchat'), ('Sec-WebSocket-Protocol', ' ,v2.json.example ,')]),
  ok(['chat', 'superchat', 'v2.json.example']))
V('the default offer of browsers and Python websockets: permessage-deflate; client_max_window_bits',
  request(extra=[('Sec-WebSocket-Extensions', 'permessage-deflate; client_max_window_bits')]),
  ok(extensions=[offer('permessage-deflate', ('client_max_window_bits', None))],
     deflate='permessage-deflate; server_max_window_bits=12; client_max_window_bits=12'))
V('no client_max_window_bits offered: none in the answer (RFC 7692 §7.1.2.2)',
  request(extra=[('Sec-WebSocket-Extensions', 'permessage-deflate')]),
  ok(extensions=[offer('permessage-deflate')], deflate=DEFAULT_DEFLATE))
V('both no_context_takeover params and window bits offered: granted, windows the lower of offer and ours',
  request(extra=[('Sec-WebSocket-Extensions',
                  'permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=14')]),
  ok(extensions=[offer('permessage-deflate', ('server_no_context_takeover', None), ('client_no_context_takeover', None),
                       ('server_max_window_bits', '10'), ('client_max_window_bits', '14'))],
     deflate='permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=12'))
V('server_max_window_bits=8 is granted as 8 (zlib deflates with 9, whose matches reach 250 bytes back)',
  request(extra=[('Sec-WebSocket-Extensions', 'permessage-deflate; server_max_window_bits=8')]),
  ok(extensions=[offer('permessage-deflate', ('server_max_window_bits', '8'))], deflate='permessage-deflate; server_max_window_bits=8'))
V('a quoted parameter value is unquoted (RFC 6455 §9.1)',
  request(extra=[('Sec-WebSocket-Extensions', 'permessage-deflate; client_max_window_bits="10"')]),
  ok(extensions=[offer('permessage-deflate', ('client_max_window_bits', '10'))],
     deflate='permessage-deflate; server_max_window_bits=12; client_max_window_bits=10'))
V('an invalid offer is declined and the next one taken; unknown extensions ignored',
  request(extra=[('Sec-WebSocket-Extensions', 'x-webkit-deflate-frame, permessage-deflate; server_max_window_bits=16'),
                 ('Sec-WebSocket-Extensions', 'permessage-deflate; client_no_context_takeover')]),
  ok(extensions=[offer('x-webkit-deflate-frame'), offer('permessage-deflate', ('server_max_window_bits', '16')),
                 offer('permessage-deflate', ('client_no_context_takeover', None))],
     deflate='permessage-deflate; client_no_context_takeover; server_max_window_bits=12'))
V('every offer invalid (unknown param, repeated param, value on a flag, bad bits): no compression',
  request(extra=[('Sec-WebSocket-Extensions', 'permessage-deflate; foo, permessage-deflate; client_no_context_takeover; client_no_context_takeover, '
                  'permessage-deflate; server_no_context_takeover=1, permessage-deflate; server_max_window_bits=08, '
                  'permessage-deflate; server_max_window_bits')]),
  ok(extensions=[offer('permessage-deflate', ('foo', None)),
                 offer('permessage-deflate', ('client_no_context_takeover', None), ('client_no_context_takeover', None)),
                 offer('permessage-deflate', ('server_no_context_takeover', '1')),
                 offer('permessage-deflate', ('server_max_window_bits', '08')),
                 offer('permessage-deflate', ('server_max_window_bits', None))], deflate=None))

I('POST instead of GET', request(method='POST'), refused(400))
I('HTTP/1.0', request(version='HTTP/1.0'), refused(400))
I('Connection without the upgrade token', request(drop=('Connection',), extra=[('Connection', 'keep-alive')]), refused(400))
I('no Connection header', request(drop=('Connection',)), refused(400))
I('Sec-WebSocket-Version 8: 426 naming 13', request(drop=('Sec-WebSocket-Version',), extra=[('Sec-WebSocket-Version', '8')]), UPGRADE_REQUIRED)
I('no Sec-WebSocket-Version: 426 naming 13', request(drop=('Sec-WebSocket-Version',)), UPGRADE_REQUIRED)
I('Sec-WebSocket-Version given twice', request(extra=[('Sec-WebSocket-Version', '13')]), refused(400))
I('no Sec-WebSocket-Key', request(drop=('Sec-WebSocket-Key',)), refused(400))
I('Sec-WebSocket-Key given twice', request(extra=[('Sec-WebSocket-Key', KEY)]), refused(400))
I('a key of 15 bytes', request(drop=('Sec-WebSocket-Key',), extra=[('Sec-WebSocket-Key', 'AAAAAAAAAAAAAAAAAAAA')]), refused(400))
I('a key of 17 bytes', request(drop=('Sec-WebSocket-Key',), extra=[('Sec-WebSocket-Key', 'AAAAAAAAAAAAAAAAAAAAAAA=')]), refused(400))
I('a key that is not base64', request(drop=('Sec-WebSocket-Key',), extra=[('Sec-WebSocket-Key', 'dGhlIHNhbXBsZSBub25jZQ!!')]), refused(400))
I('a subprotocol that is not a token', request(extra=[('Sec-WebSocket-Protocol', 'chat, "quoted"')]), refused(400))
I('Sec-WebSocket-Extensions breaking its grammar (a parameter without a name)',
  request(extra=[('Sec-WebSocket-Extensions', 'permessage-deflate; =1')]), refused(400))
I('Sec-WebSocket-Extensions with an unterminated quoted value',
  request(extra=[('Sec-WebSocket-Extensions', 'permessage-deflate; client_max_window_bits="10')]), refused(400))
I('Sec-WebSocket-Extensions with a quoted value that is not a token',
  request(extra=[('Sec-WebSocket-Extensions', 'permessage-deflate; client_max_window_bits="1 0"')]), refused(400))

write_all(ROOT, '.http', valid, invalid)
