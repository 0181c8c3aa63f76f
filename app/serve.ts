// `npm run app`: serve dist/app on localhost (a secure context, so the page gets WebGPU and OPFS).
//   node dist/app/serve.js [port]      (default 8080; 0 picks a free port)
import { fileURLToPath } from 'node:url';
import { serveDirectory } from '../src/util/static-server.ts';
import { parsePort } from '../src/cli/options.ts';

try {
  const port = process.argv[2] === undefined ? 8080 : parsePort(process.argv[2]);
  const { url } = await serveDirectory(fileURLToPath(new URL('.', import.meta.url)), port);
  console.log(`glocal app: ${url}/  (Ctrl-C stops it; nothing you open there leaves this machine)`);
} catch (e) {
  console.error(`glocal app: ${(e as Error).message}`);
  process.exit(1);
}
