// The contract documents every error the worker can answer: each code the sources can answer
// (tests/support/codes.mjs) is listed in openapi.yaml's Error response. Static: it reads the sources, so a new code
// cannot ship undocumented. (tests/shipped/errors.shipped.mjs provokes each one from the shipped build.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { errorCodes, readRepoFile } from './support/codes.mjs';

test('every error code the worker or the core\'s edits can answer is documented in openapi.yaml', () => {
  const contract = readRepoFile('openapi.yaml');
  const missing = [...errorCodes()].filter((code) => !new RegExp(`\\b${code}\\b`).test(contract));
  assert.deepEqual(missing, [], 'codes missing from openapi.yaml');
});
