'use strict';
// Helpers shared by js_client.js and js_server.js (interop tests, owner: shs).
const crypto = require('crypto');
const net = require('net');
const pull = require('pull-stream');
const toPull = require('stream-to-pull-stream');
const shs = require('secret-handshake');

exports.hex = (b) => Buffer.from(b).toString('hex');

exports.pattern = (n, mul) => {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * mul + 1) & 0xff;
  return b;
};

exports.randomBytes = (n) => crypto.randomBytes(n);

let failures = 0;
exports.check = (ok, what) => {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`);
  if (!ok) failures++;
};
exports.failures = () => failures;

// Every test stops by itself.
exports.watchdog = (ms) => {
  setTimeout(() => {
    console.log(`FAIL watchdog: gave up after ${ms} ms`);
    process.exit(1);
  }, ms).unref();
};

// A secret-handshake client over TCP. Resolves {err, secure, socket, received()}.
exports.shsConnect = (port, keys, appKey, serverPk) => new Promise((resolve) => {
  const socket = net.connect(port, '127.0.0.1');
  let received = 0;
  socket.on('data', (d) => { received += d.length; });
  socket.on('error', () => {});
  const duplex = toPull.duplex(socket);
  const client = shs.createClient(keys, appKey, 5000);
  const hs = client(serverPk, (err, secure) => resolve({err, secure, socket, received: () => received}));
  pull(duplex, hs, duplex);
});

// Sends msgs through a secure stream, ends it (goodbye), collects the echo.
exports.echoAll = (secure, msgs) => new Promise((resolve) => {
  pull(pull.values(msgs), secure.sink);
  pull(secure.source, pull.collect((err, bufs) => resolve({err, data: Buffer.concat(bufs || [])})));
});
