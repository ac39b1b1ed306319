#!/usr/bin/env node
// Negentropy v1 interoperability: nostr-tools (NIP-77) against Tejido's C
// implementation (tj_neg_driver, one hex message per line on stdin/stdout).
//
//   node interop.mjs --driver PATH --npm-dir DIR --work-dir DIR [--only NAME]
//
// For each seeded scenario (two random sets with differences on both sides):
//   1. nostr-tools as INITIATOR against our RESPONDER: the initiator's have /
//      need lists must equal the true set differences.
//   2. OUR initiator against nostr-tools' RESPONDER. nostr-tools' responder
//      does not answer an IdList with its own (the reference does), so the
//      difference inside such ranges is learned by the responder (its onhave /
//      onneed callbacks), not by us: we check that our have / need are subsets
//      of the true differences and that, together with what the responder
//      reported, they are exactly the true differences.
// Every message, both ways, must respect the frame limit.
// Exit status: 0 pass, 1 failure, 77 skip (nostr-tools not installed).

import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { pathToFileURL } from 'node:url'

const EXIT_SKIP = 77
const MAX_ROUND_TRIPS = 20000
const TS_BASE = 1_700_000_000 // nostr-tools decodes varints with 32-bit ops: keep ts < 2^31

function parseArgs (argv) {
  const o = {}
  for (let i = 2; i < argv.length; i += 2) {
    if (!argv[i].startsWith('--') || i + 1 >= argv.length) throw new Error(`bad argument ${argv[i]}`)
    o[argv[i].slice(2)] = argv[i + 1]
  }
  for (const k of ['driver', 'npm-dir', 'work-dir']) {
    if (!o[k]) throw new Error(`missing --${k}`)
  }
  return o
}

// mulberry32: small, seeded, deterministic
function prng (seed) {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6D2B79F5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return (t ^ (t >>> 14)) >>> 0
  }
}

function randomId (rnd) {
  const b = Buffer.alloc(32)
  for (let i = 0; i < 32; i += 4) b.writeUInt32LE(rnd(), i)
  return b.toString('hex')
}

// About four items per second, so many bounds need id prefixes.
function makeSets ({ seed, common, onlyA, onlyB, spread }) {
  const rnd = prng(seed)
  const span = Math.floor(common / 4) + 1
  const item = (lo, sp) => ({ ts: lo + (rnd() % sp), id: randomId(rnd) })
  const shared = Array.from({ length: common }, () => item(TS_BASE, span))
  const lo = spread === 'recent' ? TS_BASE + span : TS_BASE
  const dspan = spread === 'recent' ? Math.floor((onlyA + onlyB) / 4) + 1 : span
  const a = shared.concat(Array.from({ length: onlyA }, () => item(lo, dspan)))
  const b = shared.concat(Array.from({ length: onlyB }, () => item(lo, dspan)))
  return { a, b }
}

function minus (x, y) {
  const ys = new Set(y.map((it) => it.id))
  return new Set(x.filter((it) => !ys.has(it.id)).map((it) => it.id))
}

function writeItems (file, items) {
  writeFileSync(file, items.map((it) => `${it.ts} ${it.id}\n`).join(''))
}

class Driver {
  constructor (exe, role, itemsFile, frame) {
    this.role = role
    this.proc = spawn(exe, [role, itemsFile, String(frame)], { stdio: ['pipe', 'pipe', 'inherit'] })
    this.lines = []
    this.waiters = []
    this.closed = false
    const rl = createInterface({ input: this.proc.stdout, crlfDelay: Infinity })
    rl.on('line', (l) => {
      if (this.waiters.length) this.waiters.shift().resolve(l)
      else this.lines.push(l)
    })
    rl.on('close', () => {
      this.closed = true
      for (const w of this.waiters.splice(0)) w.reject(new Error(`tj_neg_driver ${role} closed its output`))
    })
    this.exited = new Promise((resolve) => this.proc.on('exit', (code, signal) => resolve({ code, signal })))
  }

  async next () {
    let l
    if (this.lines.length) l = this.lines.shift()
    else if (this.closed) throw new Error(`tj_neg_driver ${this.role} closed its output`)
    else l = await new Promise((resolve, reject) => this.waiters.push({ resolve, reject }))
    if (l.startsWith('error ')) throw new Error(`tj_neg_driver ${this.role}: ${l}`)
    return l
  }

  async request (msg) {
    this.proc.stdin.write(msg + '\n')
    return this.next()
  }

  async close () {
    this.proc.stdin.end()
    const r = await this.exited
    if (r.code !== 0) throw new Error(`tj_neg_driver ${this.role} exited with ${r.code ?? r.signal}`)
  }
}

class Failure extends Error {}

function check (cond, what) {
  if (!cond) throw new Failure(what)
}

function checkSetEqual (got, want, what) {
  const g = new Set(got)
  const missing = [...want].filter((id) => !g.has(id))
  const extra = [...g].filter((id) => !want.has(id))
  check(missing.length === 0 && extra.length === 0,
    `${what}: ${missing.length} missing (e.g. ${missing[0]}), ${extra.length} extra (e.g. ${extra[0]})`)
}

function checkSubset (got, want, what) {
  const extra = got.filter((id) => !want.has(id))
  check(extra.length === 0, `${what}: ${extra.length} ids not in the true difference (e.g. ${extra[0]})`)
}

function ntStorage (nip77, items) {
  const s = new nip77.NegentropyStorageVector()
  for (const it of items) s.insert(it.ts, it.id)
  s.seal()
  return s
}

function checkFrame (hex, frame, what) {
  check(hex.length / 2 <= frame, `${what}: message of ${hex.length / 2} bytes exceeds the frame limit ${frame}`)
}

// Our responder's answer to a fingerprint-only first message (|a| >= 32) must
// be byte-identical to nostr-tools' (same splitting, same encoding). When the
// frame fills up, both end with (infinity, Fingerprint, fp) and only that last
// fingerprint may differ: ours covers the whole range it closes (see
// tj_negentropy.c), nostr-tools' only the items after the range it was on.
function sameFirstReply (nip77, sc, sets, first, ours) {
  if (sets.a.length < 32) return
  const theirs = new nip77.Negentropy(ntStorage(nip77, sets.b), sc.frame).reconcile(first) ?? '61'
  if (ours === theirs) return
  const closing = (m) => m.length > 38 && m.slice(-38, -32) === '000001'
  check(closing(ours) && closing(theirs) && ours.slice(0, -32) === theirs.slice(0, -32),
    `reply to the first message differs from nostr-tools': ${ours.slice(0, 80)}... vs ${theirs.slice(0, 80)}...`)
}

// 1. nostr-tools initiator (set a) -> our responder (set b)
async function theirInitiator (nip77, o, sc, sets, files) {
  const drv = new Driver(o.driver, 'responder', files.b, sc.frame)
  const neg = new nip77.Negentropy(ntStorage(nip77, sets.a), sc.frame)
  const have = []
  const need = []
  const st = { rounds: 0, up: 0, down: 0 }
  try {
    let msg = neg.initiate()
    const first = msg
    while (msg !== null) {
      check(st.rounds < MAX_ROUND_TRIPS, 'too many round trips')
      checkFrame(msg, sc.frame, 'nostr-tools initiator')
      st.up += msg.length / 2
      const reply = await drv.request(msg)
      checkFrame(reply, sc.frame, 'tejido responder')
      st.down += reply.length / 2
      st.rounds++
      if (st.rounds === 1) sameFirstReply(nip77, sc, sets, first, reply)
      msg = neg.reconcile(reply, (id) => have.push(id), (id) => need.push(id))
    }
  } finally {
    await drv.close()
  }
  checkSetEqual(have, minus(sets.a, sets.b), 'nostr-tools initiator "have"')
  checkSetEqual(need, minus(sets.b, sets.a), 'nostr-tools initiator "need"')
  return { ...st, detail: `have ${new Set(have).size}, need ${new Set(need).size}` }
}

// 2. our initiator (set a) -> nostr-tools responder (set b)
async function ourInitiator (nip77, o, sc, sets, files) {
  const drv = new Driver(o.driver, 'initiator', files.a, sc.frame)
  const neg = new nip77.Negentropy(ntStorage(nip77, sets.b), sc.frame)
  const theirHave = []
  const theirNeed = []
  const ours = { have: [], need: [] }
  const st = { rounds: 0, up: 0, down: 0 }
  try {
    let msg = await drv.next()
    // both implement the same deterministic splitting: the first message is byte-identical
    const theirFirst = new nip77.Negentropy(ntStorage(nip77, sets.a), sc.frame).initiate()
    check(msg === theirFirst, `first message differs from nostr-tools' initiate(): ${msg.slice(0, 80)}... vs ${theirFirst.slice(0, 80)}...`)
    while (msg !== 'done') {
      check(st.rounds < MAX_ROUND_TRIPS, 'too many round trips')
      checkFrame(msg, sc.frame, 'tejido initiator')
      st.up += msg.length / 2
      // nostr-tools returns null where the reference answers the bare version byte
      const reply = neg.reconcile(msg, (id) => theirHave.push(id), (id) => theirNeed.push(id)) ?? '61'
      checkFrame(reply, sc.frame, 'nostr-tools responder')
      st.down += reply.length / 2
      st.rounds++
      msg = await drv.request(reply)
    }
    for (let l = await drv.next(); l !== 'end'; l = await drv.next()) {
      const [kind, id] = l.split(' ')
      check((kind === 'have' || kind === 'need') && /^[0-9a-f]{64}$/.test(id), `bad driver line ${l}`)
      ours[kind].push(id)
    }
  } finally {
    await drv.close()
  }
  const wantHave = minus(sets.a, sets.b)
  const wantNeed = minus(sets.b, sets.a)
  checkSubset(ours.have, wantHave, 'tejido initiator "have"')
  checkSubset(ours.need, wantNeed, 'tejido initiator "need"')
  checkSetEqual(ours.have.concat(theirNeed), wantHave, 'tejido "have" + nostr-tools responder "need"')
  checkSetEqual(ours.need.concat(theirHave), wantNeed, 'tejido "need" + nostr-tools responder "have"')
  return {
    ...st,
    detail: `initiator learned have ${ours.have.length}/${wantHave.size}, need ${ours.need.length}/${wantNeed.size}`
  }
}

// nostr-tools hashes every range item by item (O(n) per message), so the
// 4096-byte frames, which take hundreds of round trips, stay at n <= 10,000
// or recent differences to keep the whole test near a minute.
const SCENARIOS = [
  { name: 'both-empty', seed: 1, common: 0, onlyA: 0, onlyB: 0, spread: 'scattered', frame: 4096 },
  { name: 'one-empty', seed: 2, common: 0, onlyA: 0, onlyB: 300, spread: 'scattered', frame: 4096 },
  { name: 'other-empty', seed: 10, common: 0, onlyA: 300, onlyB: 0, spread: 'scattered', frame: 4096 },
  { name: 'one-side', seed: 11, common: 5000, onlyA: 200, onlyB: 0, spread: 'scattered', frame: 4096 },
  { name: 'small', seed: 3, common: 1000, onlyA: 50, onlyB: 50, spread: 'scattered', frame: 4096 },
  { name: '10k', seed: 4, common: 9000, onlyA: 500, onlyB: 500, spread: 'scattered', frame: 4096 },
  { name: '10k-recent', seed: 5, common: 9800, onlyA: 100, onlyB: 100, spread: 'recent', frame: 60000 },
  { name: '100k-d1000', seed: 6, common: 99000, onlyA: 500, onlyB: 500, spread: 'scattered', frame: 60000 },
  { name: '100k-d10000', seed: 8, common: 90000, onlyA: 5000, onlyB: 5000, spread: 'scattered', frame: 60000 },
  { name: '100k-recent', seed: 9, common: 99000, onlyA: 500, onlyB: 500, spread: 'recent', frame: 4096 }
]

async function main () {
  const o = parseArgs(process.argv)
  const nip77File = path.join(o['npm-dir'], 'node_modules', 'nostr-tools', 'lib', 'esm', 'nip77.js')
  if (!existsSync(nip77File)) {
    console.log(`SKIP: nostr-tools is not installed in ${o['npm-dir']} (npm install failed?)`)
    process.exit(EXIT_SKIP)
  }
  const nip77 = await import(pathToFileURL(nip77File).href)
  mkdirSync(o['work-dir'], { recursive: true })
  let failures = 0
  for (const sc of SCENARIOS) {
    if (o.only && o.only !== sc.name) continue
    const sets = makeSets(sc)
    const files = { a: path.join(o['work-dir'], `${sc.name}-${sc.seed}-a.txt`), b: path.join(o['work-dir'], `${sc.name}-${sc.seed}-b.txt`) }
    writeItems(files.a, sets.a)
    writeItems(files.b, sets.b)
    const label = `n=${sets.a.length + sets.b.length - sc.common} (|a|=${sets.a.length}, |b|=${sets.b.length}) ` +
      `d=${sc.onlyA + sc.onlyB} ${sc.spread} frame=${sc.frame}`
    for (const [dir, fn] of [['nostr-tools initiator -> tejido responder', theirInitiator],
      ['tejido initiator -> nostr-tools responder', ourInitiator]]) {
      const t0 = Date.now()
      try {
        const r = await fn(nip77, o, sc, sets, files)
        console.log(`ok   ${dir}: ${label}: ${r.rounds} round trips, ${r.up} bytes initiator->responder, ` +
          `${r.down} bytes responder->initiator; ${r.detail}; ${Date.now() - t0} ms`)
      } catch (e) {
        failures++
        console.log(`FAIL ${dir}: ${label}: ${e instanceof Failure ? e.message : e.stack}`)
      }
    }
  }
  console.log(failures ? `${failures} failure(s)` : 'all negentropy interop checks passed')
  process.exitCode = failures ? 1 : 0
}

main().catch((e) => {
  console.log(`FAIL: ${e.stack}`)
  process.exitCode = 1
})
