/*
 * The server role for shs1-test (npm): shs1testserver runs
 *   shs1_server <network_identifier hex> <server_longterm_sk hex> <server_longterm_pk hex>
 * and talks over stdin/stdout: msg1 in, msg2 out, msg3 in, then msg4 and the
 * outcome (encryption key, nonce, decryption key, nonce: 112 bytes) out.
 * Any misbehaviour by the client: exit 1 at once, writing nothing more.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "shs1_io.h"
#include "tj_keys.h"
#include "tj_shs.h"

static bool admit_all(void *ctx, const uint8_t client_pk[32])
{
	(void)ctx;
	(void)client_pk;
	return true;
}

/* Reads what the machine needs, steps it, writes its reply. */
static int exchange(struct tj_shs *h)
{
	uint8_t in[TJ_SHS_OUT_MAX_BYTES], out[TJ_SHS_OUT_MAX_BYTES];
	size_t need = tj_shs_need(h), out_len = 0;
	int rc;

	if (shs1_read_full(0, in, need) != 0)
		return -1;
	rc = tj_shs_step(h, in, need, out, sizeof(out), &out_len);
	if (rc != 0) {
		fprintf(stderr, "shs1_server: handshake failed: %s\n", tj_errname(rc));
		return -1;
	}
	return shs1_write_full(1, out, out_len);
}

int main(int argc, char **argv)
{
	uint8_t app[32], sk[64], pk[32], outcome[112];
	struct tj_identity *id = NULL;
	struct tj_shs *h = NULL;
	struct tj_shs_keys keys;
	int status = 1;

	if (argc != 4 || sodium_init() < 0 || tj_unhex(argv[1], app, 32) != 0 || tj_unhex(argv[2], sk, 64) != 0 ||
	    tj_unhex(argv[3], pk, 32) != 0) {
		fprintf(stderr, "usage: shs1_server APP_KEY_HEX SERVER_SK_HEX SERVER_PK_HEX\n");
		return 2;
	}
	if (tj_identity_from_sk(sk, &id) != 0 || memcmp(id->pk, pk, 32) != 0)
		goto out;
	if (tj_shs_server_new(app, id, admit_all, NULL, &h) != 0)
		goto out;
	if (exchange(h) != 0 || exchange(h) != 0)
		goto out;
	if (tj_shs_take_keys(h, &keys) != 0)
		goto out;
	memcpy(outcome, keys.enc_key, 32);
	memcpy(outcome + 32, keys.enc_nonce, 24);
	memcpy(outcome + 56, keys.dec_key, 32);
	memcpy(outcome + 88, keys.dec_nonce, 24);
	if (shs1_write_full(1, outcome, sizeof(outcome)) == 0)
		status = 0;
out:
	sodium_memzero(sk, sizeof(sk));
	sodium_memzero(&keys, sizeof(keys));
	sodium_memzero(outcome, sizeof(outcome));
	tj_shs_free(h);
	tj_identity_free(id);
	return status;
}
