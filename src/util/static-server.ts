// A minimal static file server for dist/ on localhost (browser tests, benchmarks, the app). localhost is a secure
// context, so WebGPU is available; COOP/COEP make SharedArrayBuffer usable for wasm peers. node:http is imported at
// run time (a computed specifier), so that the test suites, which are also bundled for browsers, can import it.
// No request can stop the server: a path that does not decode or leaves the folder is answered 400.
import type { Server } from 'node:http';
import { nodeFs } from '../io/files.ts';

const TYPES: Record<string, string> = {
  '.html': 'text/html',
  '.js': 'text/javascript',
  '.mjs': 'text/javascript',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.css': 'text/css',
  '.png': 'image/png',
  '.onnx': 'application/octet-stream',
};
const HTTP_MODULE = 'node:http';

/** The file a request path names inside the served folder, or null when it does not decode or would leave it. */
export function servedPath(requestUrl: string): string | null {
  let path: string;
  try {
    path = decodeURIComponent(new URL(requestUrl, 'http://x').pathname);
  } catch {
    return null; // '/%' and other malformed escapes (decodeURIComponent throws URIError)
  }
  if (path.split(/[/\\]/).includes('..') || path.includes('\0')) return null;
  return path.endsWith('/') ? `${path}index.html` : path;
}

/** Serve `root` on 127.0.0.1:`port` (0: any free port); a port in use or not allowed is an Error in words. */
export async function serveDirectory(root: string, port = 0): Promise<{ server: Server; url: string }> {
  const { createServer } = (await import(/* @vite-ignore */ HTTP_MODULE)) as typeof import('node:http');
  const fs = await nodeFs();
  const server = createServer(async (req, res) => {
    const path = servedPath(req.url ?? '/');
    if (path === null) {
      res.writeHead(400).end('bad request');
      return;
    }
    try {
      const body = await fs.readFile(`${root}/${path}`);
      res.writeHead(200, {
        'content-type': TYPES[path.slice(path.lastIndexOf('.'))] ?? 'application/octet-stream',
        'cross-origin-opener-policy': 'same-origin',
        'cross-origin-embedder-policy': 'require-corp',
      });
      res.end(body);
    } catch {
      res.writeHead(404).end('not found');
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => reject(new Error(listenProblem(port, e))));
    server.listen(port, '127.0.0.1', resolve);
  });
  const addr = server.address();
  return { server, url: `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : port}` };
}

function listenProblem(port: number, e: NodeJS.ErrnoException): string {
  if (e.code === 'EADDRINUSE')
    return `port ${port} on 127.0.0.1 is already in use; stop what holds it, or choose another port (0 picks a free one)`;
  if (e.code === 'EACCES')
    return `port ${port} on 127.0.0.1 is not allowed for this user (ports below 1024 need privileges); choose another`;
  return `cannot listen on 127.0.0.1:${port} (${e.code ?? e.message})`;
}
