import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { PushedListing } from './pushed-listing.js';
import { PushedObjects } from './pushed-objects.js';

/** What happens to `heads/` as the client sees it, against what the relay holds. */
type Op =
  | { kind: 'pushed'; key: string; etag: string } // another client's write, with its bytes
  | { kind: 'bare'; key: string } // another's write or delete told without bytes
  | { kind: 'own'; key: string; etag: string; answered: boolean } // this client's write (not told), its etag answered or not (an older relay)
  | { kind: 'racing'; key: string; etag: string } // two writes of this client overlapping (answers in either order)
  | { kind: 'gap' } // reconnect or new watch request: the push stamp moves
  | { kind: 'list' }; // a listing from the relay, with nothing told during it

const key = fc.constantFrom('heads/a', 'heads/b', 'heads/c');
const etag = fc.string({ minLength: 1, maxLength: 3 });
const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('pushed' as const), key, etag }),
  fc.record({ kind: fc.constant('bare' as const), key }),
  fc.record({ kind: fc.constant('own' as const), key, etag, answered: fc.boolean() }),
  fc.record({ kind: fc.constant('racing' as const), key, etag }),
  fc.constant({ kind: 'gap' as const }),
  fc.constant({ kind: 'list' as const }),
);

describe('pushed view of heads/ (client)', () => {
  test('whenever it answers, it answers what the relay would list, in key order', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 40 }), (ops) => {
        const relay = new Map<string, string>(); // key → etag, as stored
        const view = new PushedListing('heads/', 60_000);
        let stamp = 0;
        const listing = () => [...relay].sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, e]) => ({ key: k, size: 1, etag: e, body: Uint8Array.of(1) }));
        for (const o of ops) {
          if (o.kind === 'pushed') {
            relay.set(o.key, o.etag);
            view.changed(o.key, { etag: o.etag, body: Uint8Array.of(1) });
          } else if (o.kind === 'bare') {
            relay.delete(o.key);
            view.changed(o.key, undefined);
          } else if (o.kind === 'own') {
            const done = view.writing(o.key);
            relay.set(o.key, o.etag);
            done(o.answered ? { etag: o.etag, body: Uint8Array.of(1) } : undefined);
          } else if (o.kind === 'racing') {
            const first = view.writing(o.key);
            const second = view.writing(o.key);
            relay.set(o.key, o.etag); // the second landed last
            second({ etag: o.etag, body: Uint8Array.of(1) });
            first({ etag: `${o.etag}-first`, body: Uint8Array.of(1) });
          } else if (o.kind === 'gap') stamp++;
          else view.seed(view.mark(stamp), stamp, listing(), 0);
          const answer = view.answer(stamp, 1);
          if (answer) assert.deepEqual(answer, listing());
        }
      }),
    );
  });

  test('a listing during which a change was told, or whose push stamp moved, seeds nothing; nor does one past its trust', () => {
    const view = new PushedListing('heads/', 1000);
    const item = { key: 'heads/a', size: 1, etag: 'e1' };
    let mark = view.mark(0);
    view.changed('heads/a', { etag: 'e2', body: Uint8Array.of(2) });
    view.seed(mark, 0, [item], 0);
    assert.equal(view.answer(0, 1), undefined, 'told during the listing');
    mark = view.mark(0);
    view.seed(mark, 1, [item], 0);
    assert.equal(view.answer(1, 1), undefined, 'the stamp moved');
    assert.equal(view.mark(undefined), undefined, 'no bodies: no mark');
    view.seed(view.mark(0), 0, [item], 0);
    assert.deepEqual(view.answer(0, 999), [item]);
    assert.equal(view.answer(0, 1000), undefined, 'past its trust');
  });
});

describe('pushed segments (client)', () => {
  test('bytes answer one read, within their time and the memory bound, oldest dropped first; a notice without bytes drops them', () => {
    const kept = new PushedObjects('segments/', 100, 10);
    kept.changed('heads/a', Uint8Array.of(1), 0);
    assert.equal(kept.take('heads/a', 0), undefined, 'other prefixes are not kept');
    kept.changed('segments/a', new Uint8Array(4), 0);
    kept.changed('segments/b', new Uint8Array(4), 1);
    kept.changed('segments/c', new Uint8Array(4), 2);
    assert.equal(kept.take('segments/a', 3), undefined, 'over 10 bytes: the oldest went');
    assert.equal(kept.take('segments/b', 3)?.length, 4);
    assert.equal(kept.take('segments/b', 3), undefined, 'once');
    kept.changed('segments/d', Uint8Array.of(1), 3);
    kept.changed('segments/d', undefined, 4);
    assert.equal(kept.take('segments/d', 5), undefined, 'deleted');
    assert.equal(kept.take('segments/c', 102), undefined, 'expired');
    kept.changed('segments/e', new Uint8Array(11), 0);
    assert.equal(kept.take('segments/e', 0), undefined, 'larger than the bound');
  });
});
