/*
 * The CLI's side of the control socket: connect with a bounded timeout, send
 * one request map, check and unpack the reply map, and turn the node's errors
 * into messages and exit codes.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "cli.h"
#include "tj_control.h"
#include "tj_keys.h"

/* Replies carry up to 1,000 incident summaries: wide, but still bounded. */
static const struct tj_mp_limits cli__reply_limits = {
    .max_depth = 8,
    .max_items = 1u << 20,
    .max_str = 1u << 20,
    .canonical = false,
};

static void cli__conn_reset(struct cli_conn *c)
{
	if (c->zone_live)
		msgpack_zone_destroy(&c->zone);
	c->zone_live = false;
	free(c->reply);
	c->reply = NULL;
	c->reply_len = 0;
}

void cli_conn_close(struct cli_conn *c)
{
	cli__conn_reset(c);
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	free(c->req);
	c->req = NULL;
}

int cli_connect_quiet(const char *datadir, struct cli_conn *c)
{
	struct timeval tv = {.tv_sec = CLI_IO_TIMEOUT_S, .tv_usec = 0};
	int rc;

	memset(c, 0, sizeof(*c));
	c->fd = -1;
	rc = tj_ctl_connect(datadir, &c->fd);
	if (rc != 0)
		return rc;
	/* A node that stops answering must not hang a script forever. */
	if (setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0 ||
	    setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) != 0) {
		rc = -errno;
		cli_conn_close(c);
		return rc;
	}
	c->req = malloc(TJ_CTL_REQUEST_MAX_BYTES);
	if (c->req == NULL) {
		cli_conn_close(c);
		return -ENOMEM;
	}
	return 0;
}

int cli_connect(const struct cli_ctx *ctx, struct cli_conn *c)
{
	int rc = cli_connect_quiet(ctx->datadir, c);

	if (rc == -ENOENT || rc == -ECONNREFUSED) {
		cli_err("no node is running in %s; start it with `tejido node start`", ctx->datadir);
		return CLI_NONODE;
	}
	if (rc != 0) {
		cli_err("cannot reach the node in %s: %s", ctx->datadir, tj_strerror(rc));
		return CLI_FAIL;
	}
	return CLI_OK;
}

const msgpack_object *cli_map_get(const msgpack_object *map, const char *key)
{
	size_t klen = strlen(key);
	uint32_t i;

	if (map == NULL || map->type != MSGPACK_OBJECT_MAP)
		return NULL;
	for (i = 0; i < map->via.map.size; i++) {
		const msgpack_object_kv *kv = &map->via.map.ptr[i];
		if (kv->key.type == MSGPACK_OBJECT_STR && kv->key.via.str.size == klen &&
		    memcmp(kv->key.via.str.ptr, key, klen) == 0)
			return &kv->val;
	}
	return NULL;
}

bool cli_obj_bin(const msgpack_object *o, size_t n, const uint8_t **p)
{
	if (o == NULL || o->type != MSGPACK_OBJECT_BIN || (n != 0 && o->via.bin.size != n))
		return false;
	*p = (const uint8_t *)o->via.bin.ptr;
	return true;
}

bool cli_obj_uint(const msgpack_object *o, uint64_t *v)
{
	if (o == NULL || o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
		return false;
	*v = o->via.u64;
	return true;
}

bool cli_obj_str(const msgpack_object *o, const char **s, uint32_t *len)
{
	if (o == NULL || o->type != MSGPACK_OBJECT_STR)
		return false;
	*s = o->via.str.ptr;
	*len = o->via.str.size;
	return true;
}

static int cli__node_error(const msgpack_object *obj, int *node_err, const char **msg, uint32_t *msg_len)
{
	const msgpack_object *err = cli_map_get(obj, "err");

	*node_err = TJ_EPROTO;
	if (err != NULL && err->type == MSGPACK_OBJECT_NEGATIVE_INTEGER && err->via.i64 >= INT32_MIN)
		*node_err = (int)err->via.i64;
	if (!cli_obj_str(cli_map_get(obj, "msg"), msg, msg_len)) {
		*msg = "";
		*msg_len = 0;
	}
	return TJ_EPROTO;
}

int cli_call(struct cli_conn *c, size_t req_len, int *node_err, const char **msg, uint32_t *msg_len)
{
	const msgpack_object *ok;
	int rc;

	*node_err = 0;
	cli__conn_reset(c);
	rc = tj_ctl_call(c->fd, c->req, req_len, &c->reply, &c->reply_len);
	if (rc == -EAGAIN || rc == -EWOULDBLOCK)
		return -ETIMEDOUT;
	if (rc != 0)
		return rc;
	if (!msgpack_zone_init(&c->zone, 4096))
		return -ENOMEM;
	c->zone_live = true;
	rc = tj_mp_unpack(c->reply, c->reply_len, &cli__reply_limits, &c->zone, &c->obj);
	if (rc != 0)
		return rc;
	if (c->obj.type != MSGPACK_OBJECT_MAP)
		return TJ_EPROTO;
	ok = cli_map_get(&c->obj, "ok");
	if (ok == NULL || ok->type != MSGPACK_OBJECT_BOOLEAN)
		return TJ_EPROTO;
	if (!ok->via.boolean)
		return cli__node_error(&c->obj, node_err, msg, msg_len);
	return 0;
}

int cli_exit_for_node(int node_err)
{
	switch (node_err) {
	case TJ_ESCHEMA:
	case TJ_EMALFORMED:
	case TJ_EFUTURE:
		return CLI_INVALID;
	case TJ_ENOTFOUND:
		return CLI_NOTFOUND;
	default:
		return CLI_FAIL;
	}
}

int cli_call_or_report(struct cli_conn *c, size_t req_len, const char *what)
{
	const char *msg = NULL;
	uint32_t msg_len = 0;
	int node_err = 0;
	int rc = cli_call(c, req_len, &node_err, &msg, &msg_len);

	if (rc == 0)
		return CLI_OK;
	if (node_err != 0) {
		cli_err("%s: %.*s (%s)", what, (int)msg_len, msg, tj_errname(node_err));
		return cli_exit_for_node(node_err);
	}
	if (rc == -ETIMEDOUT)
		cli_err("%s: the node did not answer within %d s; see its log", what, CLI_IO_TIMEOUT_S);
	else if (rc == TJ_ETRUNC || rc == -ECONNRESET || rc == -EPIPE)
		cli_err("%s: the node closed the connection; it may have stopped (see node.log)%s", what,
		        strncmp(what, "add", 3) == 0
		            ? ".\nWhat was being added may or may not be stored: check "
		              "`tejido list` before adding it again"
		            : "");
	else
		cli_err("%s: %s", what, tj_strerror(rc));
	return CLI_FAIL;
}

/* A reply value as JSON, for --json output of status and peers: bins as hex. */
cJSON *cli_obj_to_json(const msgpack_object *o, unsigned depth)
{
	cJSON *j = NULL;
	uint32_t i;

	if (depth > 8)
		return cJSON_CreateNull();
	switch (o->type) {
	case MSGPACK_OBJECT_NIL:
		return cJSON_CreateNull();
	case MSGPACK_OBJECT_BOOLEAN:
		return cJSON_CreateBool(o->via.boolean);
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		return cJSON_CreateNumber((double)o->via.u64);
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		return cJSON_CreateNumber((double)o->via.i64);
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64:
		return cJSON_CreateNumber(o->via.f64);
	case MSGPACK_OBJECT_STR: {
		char *s = strndup(o->via.str.ptr, o->via.str.size);
		j = s != NULL ? cJSON_CreateString(s) : NULL;
		free(s);
		return j;
	}
	case MSGPACK_OBJECT_BIN: {
		char *hex = malloc((size_t)o->via.bin.size * 2 + 1);
		if (hex != NULL)
			tj_hex((const uint8_t *)o->via.bin.ptr, o->via.bin.size, hex);
		j = hex != NULL ? cJSON_CreateString(hex) : NULL;
		free(hex);
		return j;
	}
	case MSGPACK_OBJECT_ARRAY:
		j = cJSON_CreateArray();
		for (i = 0; j != NULL && i < o->via.array.size; i++)
			cJSON_AddItemToArray(j, cli_obj_to_json(&o->via.array.ptr[i], depth + 1));
		return j;
	case MSGPACK_OBJECT_MAP:
		j = cJSON_CreateObject();
		for (i = 0; j != NULL && i < o->via.map.size; i++) {
			const msgpack_object_kv *kv = &o->via.map.ptr[i];
			char *k;
			if (kv->key.type != MSGPACK_OBJECT_STR ||
			    (k = strndup(kv->key.via.str.ptr, kv->key.via.str.size)) == NULL)
				continue;
			if (strcmp(k, "ok") != 0)
				cJSON_AddItemToObject(j, k, cli_obj_to_json(&kv->val, depth + 1));
			free(k);
		}
		return j;
	default:
		return cJSON_CreateNull();
	}
}

/* One reply value for people: "text", 12, true, a hex prefix for keys and ids. */
void cli_obj_print(const msgpack_object *o)
{
	char hex[65];

	switch (o->type) {
	case MSGPACK_OBJECT_NIL:
		printf("-");
		break;
	case MSGPACK_OBJECT_BOOLEAN:
		printf("%s", o->via.boolean ? "yes" : "no");
		break;
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		printf("%llu", (unsigned long long)o->via.u64);
		break;
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		printf("%lld", (long long)o->via.i64);
		break;
	case MSGPACK_OBJECT_STR:
		printf("%.*s", (int)o->via.str.size, o->via.str.ptr);
		break;
	case MSGPACK_OBJECT_BIN:
		tj_hex((const uint8_t *)o->via.bin.ptr, o->via.bin.size < 32 ? o->via.bin.size : 32, hex);
		printf("%s", hex);
		break;
	default:
		printf("...");
		break;
	}
}

void cli_note_backlog(struct cli_conn *c, const struct cli_ctx *ctx)
{
	const msgpack_object *peers;
	struct tj_mp_writer w;
	uint64_t backlog = 0;
	const char *msg = NULL;
	uint32_t msg_len = 0;
	size_t len = 0;
	int node_err = 0;

	tj_mp_writer_init(&w, c->req, TJ_CTL_REQUEST_MAX_BYTES);
	tj_mp_put_map(&w, 1);
	tj_mp_put_cstr(&w, "op");
	tj_mp_put_cstr(&w, "status");
	if (tj_mp_writer_finish(&w, &len) != 0 || cli_call(c, len, &node_err, &msg, &msg_len) != 0)
		return; /* a notice only: the command's own result stands */
	peers = cli_map_get(&c->obj, "peers");
	if (!cli_obj_uint(cli_map_get(peers, "indexing_backlog"), &backlog) || backlog == 0)
		return;
	if (ctx->lang == TJ_LANG_ES)
		fprintf(stderr,
		        "nota: %llu registros recibidos de otros nodos aún se están indexando y evaluando; "
		        "el resultado puede estar incompleto (`tejido node status`: indexing_backlog)\n",
		        (unsigned long long)backlog);
	else
		fprintf(stderr,
		        "note: %llu records received from peers are still being indexed and evaluated; "
		        "this result may be incomplete (`tejido node status`: indexing_backlog)\n",
		        (unsigned long long)backlog);
}
