'use strict';
// Interop (2)+(3): the JavaScript secret-handshake + pull-box-stream client
// against bs_echo, our libuv server built from the C state machines.
// usage: node js_client.js PATH_TO_BS_ECHO
const net = require('net');
const {spawn} = require('child_process');
const pull = require('pull-stream');
const sodium = require('chloride');
const c = require('./js_common');

const DEADLINE_MS = 1500;
const echoPath = process.argv[2];
const appKey = c.randomBytes(32);
const serverSeed = c.randomBytes(32);
const serverKeys = sodium.crypto_sign_seed_keypair(serverSeed);
const alice = sodium.crypto_sign_seed_keypair(c.randomBytes(32));
const mallory = sodium.crypto_sign_seed_keypair(c.randomBytes(32));
const EXPECTED = ['goodbye', 'TJ_EDECRYPT', 'TJ_EDECRYPT', 'TJ_ENOTMEMBER', 'handshake deadline', 'cut'];

c.watchdog(90000);

function startServer() {
  return new Promise((resolve, reject) => {
    const child = spawn(echoPath, [c.hex(appKey), c.hex(serverSeed), c.hex(alice.publicKey),
      String(EXPECTED.length), String(DEADLINE_MS)]);
    let out = '';
    child.stderr_text = '';
    child.stderr.on('data', (d) => { child.stderr_text += d; process.stderr.write(d); });
    child.stdout.on('data', (d) => {
      out += d;
      const m = /PORT (\d+)\n/.exec(out);
      if (m) resolve({child, port: Number(m[1])});
    });
    child.on('exit', (code) => reject(new Error(`bs_echo exited early with ${code}`)));
  });
}

// Resolves with {bytes, ms} once the server closes the socket.
function rawUntilClose(port, toSend) {
  return new Promise((resolve) => {
    const t0 = Date.now();
    let bytes = 0;
    const s = net.connect(port, '127.0.0.1', () => { if (toSend) s.write(toSend); });
    s.on('data', (d) => { bytes += d.length; });
    s.on('error', () => {});
    s.on('close', () => resolve({bytes, ms: Date.now() - t0}));
  });
}

async function main() {
  const {child, port} = await startServer();
  child.removeAllListeners('exit');
  const serverExit = new Promise((resolve) => child.on('exit', (code) => resolve(code)));

  // 0: a member: handshake, frames both ways (one > 4 KiB), goodbye both ways.
  {
    const conn = await c.shsConnect(port, alice, appKey, serverKeys.publicKey);
    c.check(!conn.err, `handshake with the C server${conn.err ? ': ' + conn.err.message : ''}`);
    if (!conn.err) {
      c.check(conn.secure.remote.equals(serverKeys.publicKey), 'JS client authenticated the C server key');
      const msgs = [Buffer.from('hola, tejido'), c.pattern(10000, 7), c.pattern(4096, 3), Buffer.from([42])];
      const res = await c.echoAll(conn.secure, msgs);
      c.check(!res.err, `stream ended by the server's goodbye, not cut${res.err ? ': ' + res.err.message : ''}`);
      c.check(res.data.equals(Buffer.concat(msgs)), `echo of ${res.data.length} bytes matches (incl. a 10000-byte message)`);
    }
  }
  // 1: a stranger with another app key gets 0 bytes after msg1.
  {
    const eph = sodium.crypto_box_keypair();
    const msg1 = Buffer.concat([sodium.crypto_auth(eph.publicKey, c.randomBytes(32)), eph.publicKey]);
    const r = await rawUntilClose(port, msg1);
    c.check(r.bytes === 0, `wrong app key: server sent ${r.bytes} bytes after msg1 and closed`);
  }
  // 2: the secret-handshake client itself, configured with another app key.
  {
    const conn = await c.shsConnect(port, alice, c.randomBytes(32), serverKeys.publicKey);
    c.check(!!conn.err, 'wrong app key: the JS client handshake fails');
    await new Promise((resolve) => setTimeout(resolve, 200));
    c.check(conn.received() === 0, `wrong app key: the JS client received ${conn.received()} bytes after msg1`);
    conn.socket.destroy();
  }
  // 3: a valid handshake by a non-member: msg2 only, never msg4.
  {
    const conn = await c.shsConnect(port, mallory, appKey, serverKeys.publicKey);
    c.check(!!conn.err, 'non-member: the JS client handshake fails');
    await new Promise((resolve) => setTimeout(resolve, 200));
    c.check(conn.received() === 64, `non-member: received ${conn.received()} bytes (msg2 only, no msg4)`);
    conn.socket.destroy();
  }
  // 4: a silent client is dropped at the handshake deadline.
  {
    const r = await rawUntilClose(port, null);
    c.check(r.bytes === 0 && r.ms >= DEADLINE_MS - 100 && r.ms < DEADLINE_MS + 5000,
      `silent client dropped after ${r.ms} ms (deadline ${DEADLINE_MS} ms)`);
  }
  // 5: a member that hangs up without goodbye: the server must see a cut.
  {
    const conn = await c.shsConnect(port, alice, appKey, serverKeys.publicKey);
    c.check(!conn.err, 'second member handshake');
    if (!conn.err) {
      // One frame, then a source that never ends: no goodbye is ever sent.
      let sent = false;
      pull((abort, cb) => {
        if (abort) return cb(abort);
        if (!sent) { sent = true; cb(null, Buffer.from('then silence')); }
      }, conn.secure.sink);
      await new Promise((resolve) => pull(conn.secure.source, pull.drain(() => { resolve(); }, () => {})));
      conn.socket.end();
    }
  }
  const code = await serverExit;
  c.check(code === 0, `bs_echo exited with ${code}`);
  const results = [];
  for (const m of child.stderr_text.matchAll(/conn (\d+): (.*)\n/g)) results[Number(m[1])] = m[2];
  EXPECTED.forEach((want, i) => c.check(results[i] === want, `server saw conn ${i}: ${results[i]} (want ${want})`));
  process.exit(c.failures() === 0 ? 0 : 1);
}

main().catch((e) => { console.log(`FAIL ${e.stack}`); process.exit(1); });
