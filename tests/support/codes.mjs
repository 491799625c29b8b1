// Every error code the worker can answer, read from the sources: each `ApiError::new(STATUS, "CODE", ...)` (and
// `Self::new` in error.rs) of worker/src, and each code cart-core's edit errors map to (`EditError::code`), except a
// damaged document, which the worker answers as INTERNAL.
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('../..', import.meta.url).pathname;
const sources = (dir) => readdirSync(dir).flatMap((f) => {
  const path = join(dir, f);
  return statSync(path).isDirectory() ? sources(path) : path.endsWith('.rs') ? [readFileSync(path, 'utf8')] : [];
});

/** The set of codes, checked to have found the ones it must (so a changed pattern cannot make it empty). */
export function errorCodes() {
  const codes = new Set();
  for (const text of sources(join(root, 'worker/src'))) {
    for (const [, code] of text.matchAll(/(?:ApiError|Self)::new\(\s*\d+,\s*"([A-Z][A-Z0-9_]+)"/g)) codes.add(code);
  }
  const ops = readFileSync(join(root, 'core/src/ops.rs'), 'utf8');
  for (const [, variant, code] of ops.matchAll(/EditError::(\w+)(?:\s*\{[^}]*\}|\([^)]*\))?\s*=>\s*"([A-Z][A-Z0-9_]+)"/g)) {
    if (variant === 'Document') {
      assert.match(readFileSync(join(root, 'worker/src/error.rs'), 'utf8'), /EditError::Document\(e\) => return ApiError::internal/);
      continue;
    }
    codes.add(code);
  }
  for (const code of ['INVALID_SKU', 'CART_FULL', 'LINE_NOT_FOUND', 'UPGRADE_REQUIRED', 'NOT_FOUND', 'INTERNAL']) {
    assert.ok(codes.has(code), `read ${code} from the sources`);
  }
  assert.ok(codes.size >= 30, `found the codes (${codes.size})`);
  return codes;
}

/** The text of a file of the repository. */
export const readRepoFile = (path) => readFileSync(join(root, path), 'utf8');
