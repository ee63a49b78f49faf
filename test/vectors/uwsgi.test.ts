// uwsgi request packets (test/vectors/uwsgi/, made by generate.py there) through
// parseUwsgiHead, fed whole, line by line, byte by byte and in random splits.
// UWSGI_VECTOR_SEED replays the random splits of a failure.

import { parseUwsgiHead } from '../../src/protocols/uwsgi/packet.js';
import { gatewayHeadSuites } from './gateway-head.js';

gatewayHeadSuites('uwsgi', 'uwsgi', 'UWSGI_VECTOR_SEED', parseUwsgiHead);
