// Node 20 has no zstd in zlib; undici 8 (pulled in by @atproto/dev-env)
// binds zlib.createZstdDecompress at load time. Nothing here speaks zstd, so
// a stub that fails if ever used is enough. Harmless on Node >= 22.
const zlib = require('node:zlib')
if (!zlib.createZstdDecompress) {
  zlib.createZstdDecompress = () => {
    throw new Error('zstd is not supported on this Node version')
  }
}
// undici 8 also needs worker_threads.markAsUncloneable (Node >= 22.10); it
// only guards structured cloning of undici objects, which nothing does here.
const wt = require('node:worker_threads')
if (!wt.markAsUncloneable) wt.markAsUncloneable = () => {}
// Iterator helpers (`iter.filter`, `.map`, … — Node >= 22) from core-js,
// already in the tree as a dependency of the atproto packages.
if (typeof globalThis.Iterator === 'undefined' || !globalThis.Iterator.prototype.filter) {
  require('core-js/actual/iterator')
}
