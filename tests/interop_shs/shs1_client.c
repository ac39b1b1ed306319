/*
 * The client role for shs1-test (npm): shs1testclient runs
 *   shs1_client <network_identifier hex> <server_longterm_pk hex>
 * and talks over stdin/stdout: msg1 out, msg2 in, msg3 out, msg4 in, then
 * the outcome (encryption key, nonce, decryption key, nonce: 112 bytes) out.
 * The client's long-term key is fresh. Any misbehaviour by the server:
 * exit 1 at once, writing nothing more.
 */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "shs1_io.h"
#include "tj_keys.h"
#include "tj_shs.h"

/* Steps the machine on what it needs from stdin (nothing at first), writes its reply. */
static int exchange(struct tj_shs *h)
{
	uint8_t in[TJ_SHS_OUT_MAX_BYTES], out[TJ_SHS_OUT_MAX_BYTES];
	size_t need = tj_shs_need(h), out_len = 0;
	int rc;

	if (need > 0 && shs1_read_full(0, in, need) != 0)
		return -1;
	rc = tj_shs_step(h, in, need, out, sizeof(out), &out_len);
	if (rc != 0) {
		fprintf(stderr, "shs1_client: handshake failed: %s\n", tj_errname(rc));
		return -1;
	}
	return shs1_write_full(1, out, out_len);
}

int main(int argc, char **argv)
{
	uint8_t app[32], server_pk[32], outcome[112];
	struct tj_identity *id = NULL;
	struct tj_shs *h = NULL;
	struct tj_shs_keys keys;
	int status = 1;

	if (argc != 3 || sodium_init() < 0 || tj_unhex(argv[1], app, 32) != 0 ||
	    tj_unhex(argv[2], server_pk, 32) != 0) {
		fprintf(stderr, "usage: shs1_client APP_KEY_HEX SERVER_PK_HEX\n");
		return 2;
	}
	memset(&keys, 0, sizeof(keys));
	if (tj_identity_generate(&id) != 0 || tj_shs_client_new(app, id, server_pk, &h) != 0)
		goto out;
	/* msg1 out; msg2 in, msg3 out; msg4 in */
	for (int i = 0; i < 3; i++)
		if (exchange(h) != 0)
			goto out;
	if (tj_shs_state(h) != TJ_SHS_DONE || tj_shs_take_keys(h, &keys) != 0)
		goto out;
	memcpy(outcome, keys.enc_key, 32);
	memcpy(outcome + 32, keys.enc_nonce, 24);
	memcpy(outcome + 56, keys.dec_key, 32);
	memcpy(outcome + 88, keys.dec_nonce, 24);
	if (shs1_write_full(1, outcome, sizeof(outcome)) == 0)
		status = 0;
out:
	sodium_memzero(&keys, sizeof(keys));
	sodium_memzero(outcome, sizeof(outcome));
	tj_shs_free(h);
	tj_identity_free(id);
	return status;
}
