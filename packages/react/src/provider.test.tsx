import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderToString } from 'react-dom/server';
import { ErrorCode, KithError, type Vault } from '@kith/core';
import { KithProvider, useQuery, useVault } from './index.js';

function Name() {
  return <i>{useVault().deviceId}</i>;
}

function Titles() {
  const q = useQuery('notes');
  return <i>{q.loading ? 'loading' : 'loaded'}</i>;
}

test('useVault outside a KithProvider throws KITH_BAD_INPUT saying what is missing', () => {
  assert.throws(
    () => renderToString(<Name />),
    (e: unknown) => KithError.is(e, ErrorCode.BadInput) && /KithProvider/.test(e.message),
  );
});

test('inside a KithProvider the hooks read its vault; a server render shows the loading state without subscribing', () => {
  let listened = 0;
  const vault = { deviceId: 'd1', on: () => (listened++, () => {}), list: () => new Promise(() => {}) } as unknown as Vault;
  const html = renderToString(
    <KithProvider vault={vault}>
      <Name />
      <Titles />
    </KithProvider>,
  );
  assert.equal(html, '<i>d1</i><i>loading</i>');
  assert.equal(listened, 0);
});
