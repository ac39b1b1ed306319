/*
 * The node as a whole, as tools/ sees it: creating a node's data directory,
 * and running the daemon.
 *
 * Data directory layout (mode 0700):
 *   DIR/key          the key file (crypto/tj_keyfile.h)
 *   DIR/store/       the LMDB environment (records, indexes, the sealed keyring)
 *   DIR/control.sock the control socket (mode 0600)
 *   DIR/tejido.conf  the INI configuration (optional)
 *   DIR/node.log     the log when daemonized (no plaintext, names or keys)
 */
#ifndef TJ_NODE_H
#define TJ_NODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tj_error.h"
#include "tj_keyfile.h"

/* The peer port a node started from the CLI listens on unless told otherwise. */
#define TJ_LISTEN_DEFAULT "0.0.0.0:7654"
/* A listen value that means: accept no peer connections (we still dial out). */
#define TJ_LISTEN_OFF "off"

struct tj_init_opts {
	const char *network_name; /* NULL = "Tejido" */
	uint32_t stewards_threshold; /* 0 = 1 */
	bool no_network;  /* an identity only, joining a network later */
};

/*
 * Creates the store of a new node in datadir (which holds the key file
 * already): the genesis record of a single-node network, the network key and
 * the first epoch key, sealed in the keyring with u's storage key.
 */
TJ_MUST_CHECK int tj_node_init(const char *datadir, const struct tj_unlocked *u, const struct tj_init_opts *opts);

struct tj_daemon_opts {
	const char *datadir;
	struct tj_unlocked *unlocked; /* takes ownership */
	const char *listen;           /* "HOST:PORT", "off", or NULL for the config's */
	const char *listen_default;   /* used when neither listen nor the config sets one; NULL = "off" */
	int ready_fd;                 /* one byte is written once the control socket listens; -1 = none */
};

/* Runs the node until SIGINT, SIGTERM or a "stop" request. Returns 0 on a clean stop. */
TJ_MUST_CHECK int tj_daemon_run(struct tj_daemon_opts *opts);

#endif
