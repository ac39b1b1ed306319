#!/usr/bin/env python3
"""Independent generator of tests/vectors/seal_kat.txt.

Re-implements, without Tejido's C code, what tj_record_seal() must produce when
the record key and nonce are fixed: the canonical msgpack envelope
(schema/tj_record.h), XChaCha20-Poly1305-IETF (HChaCha20 written out here, then
the `cryptography` package's ChaCha20-Poly1305), Ed25519 (RFC 8032, also from
`cryptography`) and BLAKE2b (hashlib). Run it only to add vectors: the checked-in
file is the reference, and the C test compares byte for byte.

    python3 tests/vectors/gen_seal_kat.py > tests/vectors/seal_kat.txt
"""
import hashlib
import struct

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives import serialization

# --- canonical msgpack (shortest forms only) ---------------------------------

def mp_uint(v):
    if v < 0x80:
        return bytes([v])
    if v <= 0xFF:
        return b"\xcc" + struct.pack(">B", v)
    if v <= 0xFFFF:
        return b"\xcd" + struct.pack(">H", v)
    if v <= 0xFFFFFFFF:
        return b"\xce" + struct.pack(">I", v)
    return b"\xcf" + struct.pack(">Q", v)

def mp_bin(b):
    n = len(b)
    if n <= 0xFF:
        return b"\xc4" + bytes([n]) + b
    if n <= 0xFFFF:
        return b"\xc5" + struct.pack(">H", n) + b
    return b"\xc6" + struct.pack(">I", n) + b

def mp_nil():
    return b"\xc0"

def mp_array(n):
    if n <= 15:
        return bytes([0x90 | n])
    if n <= 0xFFFF:
        return b"\xdc" + struct.pack(">H", n)
    return b"\xdd" + struct.pack(">I", n)

# --- XChaCha20-Poly1305-IETF ------------------------------------------------

def _rotl(v, c):
    return ((v << c) & 0xFFFFFFFF) | (v >> (32 - c))

def _qr(s, a, b, c, d):
    s[a] = (s[a] + s[b]) & 0xFFFFFFFF; s[d] = _rotl(s[d] ^ s[a], 16)
    s[c] = (s[c] + s[d]) & 0xFFFFFFFF; s[b] = _rotl(s[b] ^ s[c], 12)
    s[a] = (s[a] + s[b]) & 0xFFFFFFFF; s[d] = _rotl(s[d] ^ s[a], 8)
    s[c] = (s[c] + s[d]) & 0xFFFFFFFF; s[b] = _rotl(s[b] ^ s[c], 7)

def hchacha20(key, nonce16):
    s = list(struct.unpack("<4I", b"expand 32-byte k")) + list(struct.unpack("<8I", key)) \
        + list(struct.unpack("<4I", nonce16))
    for _ in range(10):
        _qr(s, 0, 4, 8, 12); _qr(s, 1, 5, 9, 13); _qr(s, 2, 6, 10, 14); _qr(s, 3, 7, 11, 15)
        _qr(s, 0, 5, 10, 15); _qr(s, 1, 6, 11, 12); _qr(s, 2, 7, 8, 13); _qr(s, 3, 4, 9, 14)
    return struct.pack("<8I", *(s[0:4] + s[12:16]))

def xchacha_encrypt(key, nonce24, msg, ad):
    sub = hchacha20(key, nonce24[:16])
    return ChaCha20Poly1305(sub).encrypt(b"\0" * 4 + nonce24[16:], msg, ad)

# draft-irtf-cfrg-xchacha-03 section 2.2.1: the HChaCha20 test vector.
assert hchacha20(bytes(range(32)),
                 bytes.fromhex("000000090000004a0000000031415927")).hex() == \
    "82413b4227b27bfed30e42508a877d73a0f9e4d58a74a853c12ec41326d3ecdc"

# --- Tejido -----------------------------------------------------------------

def b2b(data, key=b"", size=32):
    return hashlib.blake2b(data, key=key, digest_size=size).digest()

def sym_key_id(key):
    return b2b(b"tejido-sym-key-id-v1", key=key)

def kat_slot_nonce(rk, nonce, index):
    return b2b(b"tejido-kat-slot-nonce-v1" + nonce + bytes([index]), key=rk, size=24)

def seal(c):
    sk = Ed25519PrivateKey.from_private_bytes(c["seed"])
    author = sk.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    slots = []
    for typ, key in ((0, c["epoch_key"]), (1, c["circle_key"])):
        if key is None:
            continue
        sn = kat_slot_nonce(c["record_key"], c["nonce"], len(slots))
        slots.append((typ, sym_key_id(key), sn + xchacha_encrypt(key, sn, c["record_key"], b"")))
    h = mp_array(12) + mp_uint(1) + mp_bin(c["network_id"]) + mp_bin(author) + mp_uint(c["seq"])
    h += mp_nil() if c["prev"] is None else mp_bin(c["prev"])
    h += mp_uint(c["ts_ms"]) + mp_uint(c["kind"])
    h += mp_array(2) + mp_uint(c["aud_type"]) + (mp_nil() if c["aud_ref"] is None else mp_bin(c["aud_ref"]))
    h += mp_array(len(slots))
    for typ, ref, wrapped in slots:
        h += mp_array(3) + mp_uint(typ) + mp_bin(ref) + mp_bin(wrapped)
    h += mp_bin(c["nonce"])
    signed = h + mp_bin(xchacha_encrypt(c["record_key"], c["nonce"], c["body"], h))
    enc = signed + mp_bin(sk.sign(signed))
    return enc, b2b(signed), author

def seq_bytes(start, n):
    return bytes((start + 7 * i) & 0xFF for i in range(n))

EPOCH = seq_bytes(0x10, 32)
CIRCLE = seq_bytes(0x90, 32)
CASES = [
    dict(name="epoch-slot-incident", seed=seq_bytes(1, 32), network_id=seq_bytes(0x40, 32), seq=1,
         prev=None, ts_ms=1773446400000, kind=1, aud_type=0, aud_ref=sym_key_id(EPOCH),
         epoch_key=EPOCH, circle_key=None, record_key=seq_bytes(0xA0, 32), nonce=seq_bytes(0xC0, 24),
         body=b'{"acts":[{"type":"death_threat"}],"state":"20"}'),
    dict(name="epoch-and-circle-case", seed=seq_bytes(2, 32), network_id=seq_bytes(0x41, 32), seq=1 << 40,
         prev=seq_bytes(0x55, 32), ts_ms=1773446400123, kind=2, aud_type=1, aud_ref=sym_key_id(CIRCLE),
         epoch_key=EPOCH, circle_key=CIRCLE, record_key=seq_bytes(0xA1, 32), nonce=seq_bytes(0xC1, 24),
         body=seq_bytes(0x33, 300)),
    dict(name="no-slot-empty-body", seed=seq_bytes(3, 32), network_id=seq_bytes(0x42, 32), seq=0,
         prev=None, ts_ms=0, kind=4, aud_type=2, aud_ref=None,
         epoch_key=None, circle_key=None, record_key=seq_bytes(0xA2, 32), nonce=seq_bytes(0xC2, 24),
         body=b""),
]

def hx(v):
    return "nil" if v is None else v.hex()

def main():
    print("# Known-answer vectors for tj_record_seal (fixed record key, nonce and slot nonces).")
    print("# Generated by tests/vectors/gen_seal_kat.py, an independent implementation.")
    for c in CASES:
        enc, rid, author = seal(c)
        print()
        print("name =", c["name"])
        for k in ("seed", "network_id"):
            print(k, "=", hx(c[k]))
        print("seq =", c["seq"])
        print("prev =", hx(c["prev"]))
        print("ts_ms =", c["ts_ms"])
        print("kind =", c["kind"])
        print("aud_type =", c["aud_type"])
        for k in ("aud_ref", "epoch_key", "circle_key", "record_key", "nonce"):
            print(k, "=", hx(c[k]))
        print("body =", c["body"].hex() if c["body"] else "empty")
        print("author =", author.hex())
        print("encoding =", enc.hex())
        print("id =", rid.hex())

if __name__ == "__main__":
    main()
