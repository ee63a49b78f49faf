// SCGI request heads (test/vectors/scgi/, made by generate.py there) through
// parseScgiHead, fed whole, line by line, byte by byte and in random splits.
// SCGI_VECTOR_SEED replays the random splits of a failure.

import { parseScgiHead } from '../../src/protocols/scgi/netstring.js';
import { gatewayHeadSuites } from './gateway-head.js';

gatewayHeadSuites('scgi', 'scgi', 'SCGI_VECTOR_SEED', parseScgiHead);
