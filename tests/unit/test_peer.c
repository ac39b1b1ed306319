/*
 * The peer layer in one process (node/tj_peer.h): address parsing, the
 * peer_add / peer_list control ops and the address book, the lifecycle on a
 * libuv loop (listen on port 0, a stranger's garbage dropped, stop, the loop
 * closes cleanly). Several nodes talking to each other: tests/net/.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "tj_ctl_server.h"
#include "tj_node.h"
#include "tj_node_core.h"
#include "tj_peer.h"
#include "tj_peer_int.h"
#include "tj_node_testutil.h"

struct fx {
	char dir[64];
	struct tj_node *node;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct tj_init_opts opts = {.network_name = "Red de prueba"};
	struct tj_unlocked *u;

	assert_non_null(f);
	tt_tmpdir(f->dir);
	u = tt_unlocked(f->dir);
	assert_int_equal(tj_node_init(f->dir, u, &opts), 0);
	assert_int_equal(tj_node_open(f->dir, 64u << 20, u, &f->node), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	tj_node_close(f->node);
	tt_rmdir(f->dir);
	free(f);
	return 0;
}

static void test_parse_addr(void **state)
{
	static const char *const good[] = {"127.0.0.1:7654", "0.0.0.0:1", "[::1]:65535", "10.1.2.3:443"};
	static const char *const bad[] = {"localhost:80", "1.2.3.4", "1.2.3.4:", "1.2.3.4:65536", "1.2.3.4:0",
					  "[::1]80",      ":80",     "1.2.3.4:12a", "1.2.3.4:-1", "1.2.3:80",
					  "[]:80",        "::1:80x"};
	char host[TJ_PEER_HOST_MAX];
	uint16_t port = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_int_equal(tj_peer_parse_addr(good[i], false, host, &port), 0);
	assert_int_equal(tj_peer_parse_addr("[::1]:65535", false, host, &port), 0);
	assert_string_equal(host, "::1");
	assert_int_equal(port, 65535);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_not_equal(tj_peer_parse_addr(bad[i], false, host, &port), 0);
	/* Port 0 (pick one) only where the caller allows it: the listener. */
	assert_int_equal(tj_peer_parse_addr("127.0.0.1:0", true, host, &port), 0);
	assert_int_equal(port, 0);
}

/* --- control ops ------------------------------------------------------------ */

struct reply {
	struct tj_ctl_reply raw;
	msgpack_zone zone;
	msgpack_object obj;
};

static const msgpack_object *get(const msgpack_object *map, const char *key)
{
	assert_int_equal(map->type, MSGPACK_OBJECT_MAP);
	for (uint32_t i = 0; i < map->via.map.size; i++) {
		const msgpack_object_kv *kv = &map->via.map.ptr[i];
		if (kv->key.type == MSGPACK_OBJECT_STR && kv->key.via.str.size == strlen(key) &&
		    memcmp(kv->key.via.str.ptr, key, kv->key.via.str.size) == 0)
			return &kv->val;
	}
	return NULL;
}

static void call(struct tj_node *n, const uint8_t *req, size_t len, struct reply *r)
{
	struct tj_ctl_flags flags = {0};

	assert_int_equal(tj_ctl_handle(n, req, len, &r->raw, &flags), 0);
	assert_true(msgpack_zone_init(&r->zone, 4096));
	assert_int_equal(tj_mp_unpack(r->raw.buf + 4, r->raw.len - 4, &tj_mp_limits_default, &r->zone, &r->obj), 0);
}

static void reply_free(struct reply *r)
{
	msgpack_zone_destroy(&r->zone);
	tj_ctl_reply_free(&r->raw);
}

static bool ok_of(const struct reply *r)
{
	const msgpack_object *ok = get(&r->obj, "ok");

	assert_non_null(ok);
	return ok->via.boolean;
}

static int64_t err_of(const struct reply *r)
{
	const msgpack_object *e = get(&r->obj, "err");

	assert_non_null(e);
	return e->via.i64;
}

/* peer_add with address, key and name (NULL to leave one out). */
static void peer_add(struct tj_node *n, const char *addr, const uint8_t *pk, const char *name, struct reply *r)
{
	uint8_t req[256];
	struct tj_mp_writer w;
	size_t len = 0;

	tj_mp_writer_init(&w, req, sizeof(req));
	tj_mp_put_map(&w, 1 + (addr != NULL) + (pk != NULL) + (name != NULL));
	tj_mp_put_cstr(&w, "op");
	tj_mp_put_cstr(&w, "peer_add");
	if (addr != NULL) {
		tj_mp_put_cstr(&w, "address");
		tj_mp_put_cstr(&w, addr);
	}
	if (pk != NULL) {
		tj_mp_put_cstr(&w, "public_key");
		tj_mp_put_bin(&w, pk, 32);
	}
	if (name != NULL) {
		tj_mp_put_cstr(&w, "name");
		tj_mp_put_cstr(&w, name);
	}
	assert_int_equal(tj_mp_writer_finish(&w, &len), 0);
	call(n, req, len, r);
}

static const msgpack_object *peer_list(struct tj_node *n, struct reply *r)
{
	static const uint8_t req[] = {0x81, 0xa2, 'o', 'p', 0xa9, 'p', 'e', 'e', 'r', '_', 'l', 'i', 's', 't'};
	const msgpack_object *peers;

	call(n, req, sizeof(req), r);
	assert_true(ok_of(r));
	peers = get(&r->obj, "peers");
	assert_non_null(peers);
	assert_int_equal(peers->type, MSGPACK_OBJECT_ARRAY);
	return peers;
}

static void fresh_pk(uint8_t pk[32])
{
	struct tj_identity *id = NULL;

	assert_int_equal(tj_identity_generate(&id), 0);
	memcpy(pk, id->pk, 32);
	tj_identity_free(id);
}

static void test_ctl_add_list(void **state)
{
	struct fx *f = *state;
	const msgpack_object *peers, *p;
	uint8_t pk[32], pk2[32], bad[32];
	struct reply r;

	fresh_pk(pk);
	fresh_pk(pk2);
	peer_add(f->node, "127.0.0.1:7654", pk, "Centro Prodh", &r);
	assert_true(ok_of(&r));
	reply_free(&r);
	peer_add(f->node, "[::1]:7655", pk2, NULL, &r);
	assert_true(ok_of(&r));
	reply_free(&r);
	/* The same key again: its address is replaced, not duplicated. */
	peer_add(f->node, "10.0.0.9:7000", pk, "Centro Prodh", &r);
	assert_true(ok_of(&r));
	reply_free(&r);
	peers = peer_list(f->node, &r);
	assert_int_equal(peers->via.array.size, 2);
	p = &peers->via.array.ptr[0];
	assert_int_equal(get(p, "address")->via.str.size, strlen("10.0.0.9:7000"));
	assert_memory_equal(get(p, "address")->via.str.ptr, "10.0.0.9:7000", strlen("10.0.0.9:7000"));
	assert_memory_equal(get(p, "public_key")->via.bin.ptr, pk, 32);
	assert_false(get(p, "connected")->via.boolean);
	assert_int_equal(get(p, "last_sync")->type, MSGPACK_OBJECT_NIL);
	reply_free(&r);
	/* Refusals: a name for a host, no port, no key, a key that is no point, our own key. */
	peer_add(f->node, "example.org:7654", pk, NULL, &r);
	assert_false(ok_of(&r));
	assert_int_equal(err_of(&r), TJ_EMALFORMED);
	reply_free(&r);
	peer_add(f->node, "127.0.0.1", pk, NULL, &r);
	assert_false(ok_of(&r));
	reply_free(&r);
	peer_add(f->node, "127.0.0.1:1", NULL, NULL, &r);
	assert_false(ok_of(&r));
	reply_free(&r);
	memset(bad, 0xff, sizeof(bad));
	peer_add(f->node, "127.0.0.1:1", bad, NULL, &r);
	assert_false(ok_of(&r));
	assert_int_equal(err_of(&r), TJ_ECRYPTO);
	reply_free(&r);
	peer_add(f->node, "127.0.0.1:1", f->node->u->id->pk, NULL, &r);
	assert_false(ok_of(&r));
	assert_int_equal(err_of(&r), TJ_EEXIST);
	reply_free(&r);
	peers = peer_list(f->node, &r);
	assert_int_equal(peers->via.array.size, 2);
	reply_free(&r);
}

static void test_book_full(void **state)
{
	struct fx *f = *state;
	uint8_t pk[32];
	struct reply r;

	for (unsigned i = 0; i < TJ_PEER_BOOK_MAX; i++) {
		fresh_pk(pk);
		peer_add(f->node, "127.0.0.1:9", pk, NULL, &r);
		assert_true(ok_of(&r));
		reply_free(&r);
	}
	fresh_pk(pk);
	peer_add(f->node, "127.0.0.1:9", pk, NULL, &r);
	assert_false(ok_of(&r));
	assert_int_equal(err_of(&r), TJ_ELIMIT);
	reply_free(&r);
}

/* --- the layer on a loop ---------------------------------------------------- */

static void run_until(uv_loop_t *loop, int fd, bool *closed)
{
	uint8_t b[64];

	/* Bounded: 2,000 turns of at most 5 ms each. */
	for (int i = 0; i < 2000 && !*closed; i++) {
		uv_run(loop, UV_RUN_NOWAIT);
		ssize_t r = recv(fd, b, sizeof(b), MSG_DONTWAIT);
		if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
			*closed = true;
		else
			usleep(5000);
	}
}

static void test_lifecycle(void **state)
{
	struct fx *f = *state;
	struct tj_peers_opts o = {.listen = "127.0.0.1:0"};
	struct tj_peers *P = NULL;
	struct sockaddr_in sa = {.sin_family = AF_INET};
	uint8_t junk[200], buf[512];
	struct tj_mp_writer w;
	const char *addr;
	uv_loop_t loop;
	bool closed = false;
	size_t len = 0;
	int fd;

	assert_int_equal(uv_loop_init(&loop), 0);
	assert_int_equal(tj_peers_start(&loop, f->node, &o, &P), 0);
	assert_ptr_equal(tj_peers_active(), P);
	addr = tj_peers_listen_addr(P);
	assert_true(strncmp(addr, "127.0.0.1:", 10) == 0);
	sa.sin_port = htons((uint16_t)atoi(addr + 10));
	assert_int_not_equal(sa.sin_port, 0);
	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	/* A second instance in the process is refused. */
	{
		struct tj_peers *Q = NULL;
		assert_int_equal(tj_peers_start(&loop, f->node, &o, &Q), TJ_ESTATE);
		assert_null(Q);
	}
	/* status shows the layer. */
	tj_mp_writer_init(&w, buf, sizeof(buf));
	tj_peers_put_status(&w);
	assert_int_equal(tj_mp_writer_finish(&w, &len), 0);
	assert_int_equal(buf[0], 0x86); /* a map of six */
	/* A stranger's garbage: closed without a byte in answer. */
	fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	randombytes_buf(junk, sizeof(junk));
	assert_int_equal(send(fd, junk, sizeof(junk), MSG_NOSIGNAL), (ssize_t)sizeof(junk));
	run_until(&loop, fd, &closed);
	assert_true(closed);
	close(fd);
	tj_peers_stop(P);
	assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
	tj_peers_free(P);
	assert_null(tj_peers_active());
	assert_int_equal(uv_loop_close(&loop), 0);
}

/* One connection dialed by x, one by y: does the node `self` keep the one x dialed? */
static bool keeps_x_dialed(const uint8_t x[32], const uint8_t y[32], bool self_is_x, bool x_first)
{
	struct tj__conn by_x, by_y;
	const uint8_t *self = self_is_x ? x : y, *other = self_is_x ? y : x;

	memset(&by_x, 0, sizeof(by_x));
	memset(&by_y, 0, sizeof(by_y));
	by_x.outbound = self_is_x;
	by_y.outbound = !self_is_x;
	by_x.serial = 1;
	by_y.serial = 2;
	memcpy(by_x.peer_pk, other, 32);
	memcpy(by_y.peer_pk, other, 32);
	return x_first ? tj__conn_keep_first(&by_x, &by_y, self) : !tj__conn_keep_first(&by_y, &by_x, self);
}

/* Both ends of a mutual dial keep the same connection: the one dialed by the lower key. */
static void test_duplicate_choice(void **state)
{
	struct tj__conn older, newer;
	uint8_t x[32], y[32], self[32];

	(void)state;
	for (int i = 0; i < 200; i++) {
		bool lower;
		randombytes_buf(x, 32);
		randombytes_buf(y, 32);
		if (i == 0)
			memcpy(y, x, 31); /* keys that differ in the last byte only */
		lower = memcmp(x, y, 32) < 0;
		for (int order = 0; order < 2; order++) {
			assert_true(keeps_x_dialed(x, y, true, order) == lower);
			assert_true(keeps_x_dialed(x, y, false, order) == lower);
		}
	}
	/* Two dialed the same way (a peer that restarted behind a dead path): the newer stays. */
	memset(&older, 0, sizeof(older));
	memset(&newer, 0, sizeof(newer));
	randombytes_buf(self, 32);
	older.serial = 5;
	newer.serial = 9;
	for (int out = 0; out < 2; out++) {
		older.outbound = newer.outbound = out;
		assert_true(tj__conn_keep_first(&newer, &older, self));
		assert_false(tj__conn_keep_first(&older, &newer, self));
	}
}

/* Redials after any run of failures come within TJ_PEER_BACKOFF_MAX_MS, and not all at once. */
static void test_backoff_bound(void **state)
{
	uint32_t rnds[] = {0, 1, 777, UINT32_MAX / 2, UINT32_MAX}, b;
	uint64_t now = 1000000, next, lo = UINT64_MAX;

	(void)state;
	for (size_t r = 0; r < sizeof(rnds) / sizeof(rnds[0]); r++) {
		b = TJ_PEER_BACKOFF_MIN_MS;
		for (int fail = 0; fail < 40; fail++) {
			next = tj__backoff_next(&b, now, rnds[r]);
			assert_true(next >= now + TJ_PEER_BACKOFF_MIN_MS / 4);
			assert_true(next <= now + TJ_PEER_BACKOFF_MAX_MS);
			assert_true(b <= TJ_PEER_BACKOFF_MAX_MS);
			if (fail == 39)
				lo = next < lo ? next : lo;
		}
	}
	/* At the cap the jitter spreads redials over its second half. */
	assert_true(lo >= now + TJ_PEER_BACKOFF_MAX_MS / 2);
	b = UINT32_MAX; /* a corrupt value is capped too */
	assert_true(tj__backoff_next(&b, now, UINT32_MAX) <= now + TJ_PEER_BACKOFF_MAX_MS);
}

static void test_start_needs_network(void **state)
{
	char dir[64];
	struct tj_init_opts opts = {.no_network = true};
	struct tj_peers_opts o = {.listen = NULL};
	struct tj_peers *P = NULL;
	struct tj_unlocked *u;
	struct tj_node *n = NULL;
	uv_loop_t loop;

	(void)state;
	tt_tmpdir(dir);
	u = tt_unlocked(dir);
	assert_int_equal(tj_node_init(dir, u, &opts), 0);
	assert_int_equal(tj_node_open(dir, 64u << 20, u, &n), 0);
	assert_int_equal(uv_loop_init(&loop), 0);
	assert_int_equal(tj_peers_start(&loop, n, &o, &P), TJ_ESTATE);
	assert_null(P);
	assert_int_equal(uv_loop_close(&loop), 0);
	tj_node_close(n);
	tt_rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_addr),
		cmocka_unit_test_setup_teardown(test_ctl_add_list, setup, teardown),
		cmocka_unit_test_setup_teardown(test_book_full, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lifecycle, setup, teardown),
		cmocka_unit_test(test_start_needs_network),
		cmocka_unit_test(test_duplicate_choice),
		cmocka_unit_test(test_backoff_bound),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
