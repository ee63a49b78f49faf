// warpipe as a library: the bundled Python app behind the three example
// middleware, in this program's own process.
//
//   node examples/embed.mjs                    (then: curl -i -H 'Authorization: Bearer s3cret' http://127.0.0.1:8000/)
//   HTTP=127.0.0.1:0 node examples/embed.mjs   (a port the system picks; the line printed says which)
//
// In a project of your own, `npm install` warpipe (docs/embedding.md says how) and import it the same way.
import { fileURLToPath } from 'node:url';
import { startGateway } from 'warpipe';
import { authGate } from './auth-gate.mjs';
import requestId from './request-id.mjs';
import { responseHeaders } from './response-headers.mjs';

const gateway = await startGateway({
  app: fileURLToPath(new URL('hello.py', import.meta.url)),
  http: process.env.HTTP ?? '127.0.0.1:8000',
  workers: 2,
  // outermost first: every answer gets an id and the headers, the 401s too
  middleware: [
    requestId,
    responseHeaders([['X-Content-Type-Options', 'nosniff']]),
    authGate({ tokens: { alice: 's3cret' }, open: ['/json'] }),
  ],
});
console.log(`serving examples/hello.py on ${gateway.url}`);

// The program owns its signals: close() drains as the warpipe command's SIGTERM does.
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    gateway.close().then(() => console.log('stopped'));
  });
}
