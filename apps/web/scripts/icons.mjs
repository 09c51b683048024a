#!/usr/bin/env node
// Draws the app's PNG icons (public/icon-192.png, icon-512.png) from the
// same shapes as public/icon.svg, with no image library: each pixel's
// coverage from the shapes' distance fields, written as an RGBA PNG.
// Run once after changing the icon; the PNGs are committed.
import { Buffer } from 'node:buffer';
import { writeFileSync } from 'node:fs';
import { URL } from 'node:url';
import { deflateSync } from 'node:zlib';

const BG = [0x2f, 0x5d, 0x50];
const INK = [0xf4, 0xef, 0xe6];
const DOT = [0xe0, 0xa4, 0x58];
// In the SVG's 64×64 units.
const STROKES = [
  [20, 16, 20, 48],
  [20, 33, 36, 16],
  [25, 28, 38, 48],
];

function segmentDistance(px, py, [ax, ay, bx, by]) {
  const dx = bx - ax;
  const dy = by - ay;
  const t = Math.max(0, Math.min(1, ((px - ax) * dx + (py - ay) * dy) / (dx * dx + dy * dy)));
  return Math.hypot(px - ax - t * dx, py - ay - t * dy);
}

function roundedRectDistance(px, py, size, r) {
  const qx = Math.abs(px - size / 2) - (size / 2 - r);
  const qy = Math.abs(py - size / 2) - (size / 2 - r);
  return Math.hypot(Math.max(qx, 0), Math.max(qy, 0)) + Math.min(Math.max(qx, qy), 0) - r;
}

function draw(px, maskable) {
  const rgba = Buffer.alloc(px * px * 4);
  const unit = 64 / px;
  const cover = (d) => Math.max(0, Math.min(1, 0.5 - d / unit));
  for (let y = 0; y < px; y++) {
    for (let x = 0; x < px; x++) {
      // A maskable icon fills its square (the platform crops it); its drawing stays in the middle 80 %.
      const sx = maskable ? 32 + ((x + 0.5) * unit - 32) / 0.8 : (x + 0.5) * unit;
      const sy = maskable ? 32 + ((y + 0.5) * unit - 32) / 0.8 : (y + 0.5) * unit;
      const bg = maskable ? 1 : cover(roundedRectDistance((x + 0.5) * unit, (y + 0.5) * unit, 64, 14));
      const ink = cover(Math.min(...STROKES.map((s) => segmentDistance(sx, sy, s))) - 3);
      const dot = cover(Math.hypot(sx - 46, sy - 46) - 5);
      const i = (y * px + x) * 4;
      for (let c = 0; c < 3; c++) rgba[i + c] = Math.round(BG[c] * (1 - ink - dot) + INK[c] * ink + DOT[c] * dot);
      rgba[i + 3] = Math.round(255 * bg);
    }
  }
  return rgba;
}

const CRC = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
const crc32 = (buf) => {
  let c = 0xffffffff;
  for (const b of buf) c = CRC[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
};
function chunk(type, data) {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
  return Buffer.concat([head, data, crc]);
}
function png(px, rgba) {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(px, 0);
  ihdr.writeUInt32BE(px, 4);
  ihdr.set([8, 6, 0, 0, 0], 8); // 8-bit RGBA
  const rows = Buffer.alloc(px * (px * 4 + 1));
  for (let y = 0; y < px; y++) rgba.copy(rows, y * (px * 4 + 1) + 1, y * px * 4, (y + 1) * px * 4);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(rows, { level: 9 })),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

const out = new URL('../public/', import.meta.url);
writeFileSync(new URL('icon-192.png', out), png(192, draw(192, false)));
writeFileSync(new URL('icon-512.png', out), png(512, draw(512, true)));
