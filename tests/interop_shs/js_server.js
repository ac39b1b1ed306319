'use strict';
// Interop (4): our C client (bs_client) against a JavaScript
// secret-handshake + pull-box-stream echo server.
// usage: node js_server.js PATH_TO_BS_CLIENT
const net = require('net');
const {spawn} = require('child_process');
const pull = require('pull-stream');
const toPull = require('stream-to-pull-stream');
const shs = require('secret-handshake');
const sodium = require('chloride');
const c = require('./js_common');

const clientPath = process.argv[2];
const appKey = c.randomBytes(32);
const serverKeys = sodium.crypto_sign_seed_keypair(c.randomBytes(32));
const clientSeed = c.randomBytes(32);
const clientKeys = sodium.crypto_sign_seed_keypair(clientSeed);

c.watchdog(60000);

let authed = null;
let hsErr = null;
const createServer = shs.createServer(serverKeys, (pk, cb) => cb(null, pk.equals(clientKeys.publicKey)), appKey, 5000);
const server = net.createServer((socket) => {
  socket.on('error', () => {});
  const duplex = toPull.duplex(socket);
  pull(duplex, createServer((err, secure) => {
    if (err) { hsErr = err; return; }
    authed = secure.remote;
    pull(secure.source, secure.sink); // echo; our goodbye ends it with theirs
  }), duplex);
});

function runClient(port, seed, extra) {
  return new Promise((resolve) => {
    const child = spawn(clientPath, [String(port), c.hex(appKey), c.hex(serverKeys.publicKey), c.hex(seed)].concat(extra),
      {stdio: ['ignore', 'inherit', 'inherit']});
    child.on('exit', (code) => resolve(code));
  });
}

server.listen(0, '127.0.0.1', async () => {
  const port = server.address().port;
  const code = await runClient(port, clientSeed, []);
  c.check(code === 0, `bs_client exited with ${code}`);
  c.check(hsErr === null, `JS server handshake${hsErr ? ': ' + hsErr.message : ''}`);
  c.check(authed !== null && authed.equals(clientKeys.publicKey), 'JS server authenticated the C client key');
  // A client key the JS server does not admit: our client must see no msg4.
  authed = null;
  const refused = await runClient(port, c.randomBytes(32), ['refused']);
  c.check(refused === 0, `unadmitted C client saw the refusal (exit ${refused})`);
  c.check(hsErr !== null && authed === null, 'JS server refused the unadmitted client');
  server.close();
  process.exit(c.failures() === 0 ? 0 : 1);
});
