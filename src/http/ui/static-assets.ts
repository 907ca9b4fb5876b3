import { createReadStream, existsSync, statSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.map': 'application/json',
  '.woff2': 'font/woff2',
};

/** Where scripts/setup.sh has Vite put the built page: dist/ui, next to dist/src. */
export const DEFAULT_ASSETS_DIR = path.resolve(__dirname, '../../../ui');

/**
 * The built page, as files under `root`. Vite names every asset by its
 * content hash, so those are cached for good; index.html never is, so a new
 * build is seen on the next load.
 */
export const serveAsset = (root: string, req: IncomingMessage, res: ServerResponse, rel: string): void => {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { allow: 'GET, HEAD' }).end();
    return;
  }
  const index = path.join(root, 'index.html');
  if (!existsSync(index)) {
    res.writeHead(503, { 'content-type': 'text/plain' }).end('the web console is not built: run scripts/setup.sh (npm run setup)\n');
    return;
  }
  let name: string;
  try {
    name = decodeURIComponent(rel);
  } catch {
    res.writeHead(400, { 'content-type': 'text/plain' }).end('bad path\n');
    return;
  }
  const file = name === '' || name === '/' ? index : path.join(root, path.normalize(name));
  const inside = file === index || file.startsWith(root + path.sep);
  let size = -1;
  try {
    const st = statSync(file);
    if (st.isFile()) size = st.size;
  } catch {
    // not there: 404 below
  }
  if (!inside || size < 0) {
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    return;
  }
  res.writeHead(200, {
    'content-type': TYPES[path.extname(file)] ?? 'application/octet-stream',
    'content-length': size,
    'cache-control': file.startsWith(path.join(root, 'assets') + path.sep) ? 'public, max-age=31536000, immutable' : 'no-cache',
    'x-content-type-options': 'nosniff',
  });
  if (req.method === 'HEAD') return void res.end();
  createReadStream(file).pipe(res);
};
