// The contract documents every error the worker can answer: each code in an `ApiError::new(STATUS, "CODE", ...)` of
// worker/src, and each code cart-core's edit errors map to (`EditError::code`), is listed in openapi.yaml's Error
// response. Static: it reads the sources, so a new code cannot ship undocumented.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const sources = (dir) => readdirSync(dir).flatMap((f) => {
  const path = join(dir, f);
  return statSync(path).isDirectory() ? sources(path) : path.endsWith('.rs') ? [readFileSync(path, 'utf8')] : [];
});

test('every error code the worker or the core\'s edits can answer is documented in openapi.yaml', () => {
  const codes = new Set();
  for (const text of sources(join(root, 'worker/src'))) {
    for (const [, code] of text.matchAll(/ApiError::new\(\s*\d+,\s*"([A-Z][A-Z0-9_]+)"/g)) codes.add(code);
  }
  const ops = readFileSync(join(root, 'core/src/ops.rs'), 'utf8');
  for (const [, variant, code] of ops.matchAll(/EditError::(\w+)(?:\s*\{[^}]*\}|\([^)]*\))?\s*=>\s*"([A-Z][A-Z0-9_]+)"/g)) {
    // A damaged document is the worker's INTERNAL (worker/src/error.rs), not an answer of its own.
    if (variant === 'Document') {
      assert.match(readFileSync(join(root, 'worker/src/error.rs'), 'utf8'), /EditError::Document\(e\) => return ApiError::internal/);
      continue;
    }
    codes.add(code);
  }
  for (const code of ['INVALID_SKU', 'CART_FULL', 'LINE_NOT_FOUND', 'UPGRADE_REQUIRED']) assert.ok(codes.has(code), `read ${code} from core`);
  assert.ok(codes.size >= 30, `found the codes (${codes.size})`);
  const contract = readFileSync(join(root, 'openapi.yaml'), 'utf8');
  const missing = [...codes].filter((code) => !new RegExp(`\\b${code}\\b`).test(contract));
  assert.deepEqual(missing, [], 'codes missing from openapi.yaml');
});
