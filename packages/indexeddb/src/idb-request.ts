/**
 * @module idb-request
 * IndexedDB's requests as promises. A request's success event runs while
 * its transaction is still active, so the caller's next request, placed
 * from the promise reaction, keeps the transaction alive.
 */

/** Settles with the request's result, or its error. */
export function request<T>(r: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error ?? new DOMException('the request failed', 'UnknownError'));
  });
}
