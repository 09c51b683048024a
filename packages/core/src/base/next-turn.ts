/**
 * @module base/next-turn
 * Yielding to the event loop itself, not just to the microtask queue: a
 * long synchronous stretch split by `await nextTurn()` lets pending I/O
 * callbacks (fetches, file reads, WebCrypto jobs) advance in between,
 * where awaiting an already settled promise would not.
 */

type Immediate = (fn: () => void) => unknown;

type Port = MessagePort & { ref?: () => void; unref?: () => void };

let channel: { port: Port; send: MessagePort; waiting: (() => void)[] } | undefined;

/** Resolves on a later task of the event loop, after the I/O callbacks that were ready. */
export function nextTurn(): Promise<void> {
  const immediate = (globalThis as { setImmediate?: Immediate }).setImmediate;
  if (immediate) return new Promise((resolve) => void immediate(resolve));
  // Browsers: a message event is a task without setTimeout's clamping to 4 ms once nested.
  channel ??= openChannel();
  const c = channel;
  return new Promise((resolve) => {
    c.waiting.push(resolve);
    c.port.ref?.(); // where ports keep a process alive (Node, Deno): only while a turn is awaited
    c.send.postMessage(null);
  });
}

function openChannel(): { port: Port; send: MessagePort; waiting: (() => void)[] } {
  const { port1, port2 } = new MessageChannel();
  const waiting: (() => void)[] = [];
  const port = port1 as Port;
  port.onmessage = () => {
    waiting.shift()?.();
    if (waiting.length === 0) port.unref?.();
  };
  return { port, send: port2, waiting };
}
