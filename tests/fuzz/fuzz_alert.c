/*
 * Alert inputs from outside: acknowledgement bodies (a peer's record,
 * decrypted), the alert, query and stats control requests (node NULL: only
 * the argument checks run), and the comma lists the CLI passes on.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tj_alert.h"
#include "tj_alert_ctl.h"
#include "tj_mp.h"
#include "tj_query.h"
#include "tj_stats.h"

static void tj__fuzz_ctl(const uint8_t *data, size_t size)
{
	static const struct tj_mp_limits lim = {
	    .max_depth = 4, .max_items = 4096, .max_str = 65536, .canonical = false};
	int (*const ops[])(struct tj_node *, const uint8_t *, size_t, struct tj_ctl_reply *) = {
	    tj_alert_ctl_list, tj_alert_ctl_respond, tj_alert_ctl_subscribe, tj_query_ctl, tj_stats_ctl};
	size_t used = 0;

	if (tj_mp_check(data, size, &lim, true, &used) != 0 || size == 0 || (data[0] & 0xf0) != 0x80)
		return; /* the control server only hands over checked maps */
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		struct tj_ctl_reply out = {0};
		if (ops[i](NULL, data, size, &out) == 0 && out.buf == NULL)
			abort(); /* every op answers */
		tj_ctl_reply_free(&out);
	}
}

static void tj__fuzz_lists(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1), bad[TJ_CODE_MAX], bad16[16], bad24[24];
	struct tj_query_term term;
	struct tj_stats_query q;
	struct tj_code_set set;
	uint8_t mask;

	if (s == NULL)
		return;
	memcpy(s, data, size);
	s[size] = '\0';
	/* Whatever they accept is well formed. */
	if (tj_triggers_parse(s, &mask, bad16) == 0 && (mask == 0 || (mask & 1u) != 0))
		abort();
	if (tj_alert_states_parse(s, &set, bad) == 0)
		for (uint32_t i = 0; i < set.n; i++)
			if (tj_inegi_state(set.v[i]) == NULL)
				abort();
	if (tj_query_term_parse("act", s, &term, bad) == 0)
		for (uint32_t i = 0; i < term.n_codes; i++)
			if (tj_vocab_lookup("act_type", term.codes[i]) == NULL)
				abort();
	memset(&q, 0, sizeof(q));
	if (tj_stats_dims_parse(s, &q, bad24) == 0 && (q.n_dims == 0 || !tj_stats_dim_valid(q.dims[0])))
		abort();
	free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t id[32], buf[128];
	char code[TJ_CODE_MAX];
	size_t len = 0;

	if (tj_alert_ack_body_decode(data, size, id, code) == 0) {
		/* What decodes re-encodes to the same bytes (one encoding per body). */
		if (tj_alert_ack_body_encode(id, code, buf, sizeof(buf), &len) != 0 || len != size ||
		    memcmp(buf, data, size) != 0)
			abort();
	}
	tj__fuzz_ctl(data, size);
	if (size < 512)
		tj__fuzz_lists(data, size);
	return 0;
}
