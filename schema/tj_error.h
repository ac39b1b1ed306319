/*
 * Tejido error codes.
 *
 * A fallible function returns int: 0 on success, a negative code on failure.
 * -errno passes through unchanged (so libuv's codes need no mapping); Tejido's
 * own codes sit in one reserved band, [TJ_E_FIRST, TJ_E_LAST). tj_strerror()
 * names every code, including -errno values.
 */
#ifndef TJ_ERROR_H
#define TJ_ERROR_H

#define TJ_MUST_CHECK __attribute__((warn_unused_result))

enum tj_err {
	TJ_E_FIRST = -32100,
	TJ_EMALFORMED = TJ_E_FIRST, /* bytes are not a well-formed message */
	TJ_ENONCANON,               /* well-formed, but not the one canonical encoding */
	TJ_ELIMIT,                  /* exceeds a hard limit (size, depth, count) */
	TJ_ETRUNC,                  /* input ends too early */
	TJ_ENOSPC,                  /* output buffer too small */
	TJ_EBADSIG,                 /* signature does not verify */
	TJ_EDECRYPT,                /* ciphertext failed authentication */
	TJ_ENOKEY,                  /* no slot this node can open */
	TJ_EPASSPHRASE,             /* wrong passphrase */
	TJ_ESCHEMA,                 /* incident fails validation (see struct tj_verr) */
	TJ_EFUTURE,                 /* timestamp too far in the future */
	TJ_EEXIST,                  /* already stored */
	TJ_ENOTFOUND,               /* no such record, key or entry */
	TJ_EEQUIVOCATION,           /* two records with one (author, seq) */
	TJ_EFROZEN,                 /* author frozen after equivocation */
	TJ_ECHAIN,                  /* seq/prev do not follow the author's chain */
	TJ_ENETWORK,                /* record of another network */
	TJ_ENOTMEMBER,              /* author or peer is not a member */
	TJ_ESTORE,                  /* the LMDB store failed */
	TJ_ESTOREFULL,              /* the LMDB map is full */
	TJ_ERETRACTED,              /* record was retracted (tombstone) */
	TJ_EPROTO,                  /* peer or client violated the protocol */
	TJ_ECRYPTO,                 /* a primitive failed (e.g. a low-order point) */
	TJ_EKEYFILE,                /* key file is malformed or of an unknown version */
	TJ_EWIPED,                  /* keys were wiped on this node */
	TJ_ECONFIG,                 /* configuration file error */
	TJ_EUNSUPPORTED,            /* version or kind this build does not know */
	TJ_EBUSY,                   /* rate limit or queue limit reached */
	TJ_ESTATE,                  /* operation invalid in the current state */
	TJ_E_LAST
};

/* Returns a static, human-readable English description of err. Never NULL. */
const char *tj_strerror(int err);

/* Returns the symbolic name of err ("TJ_EBADSIG", "ENOENT"...). Never NULL. */
const char *tj_errname(int err);

#endif
