/*
 * The daemon: one libuv loop serving the control socket, graceful shutdown
 * on SIGINT/SIGTERM or a "stop" request.
 *
 * Per client: the 4-byte length is checked before anything is buffered
 * (a 4 GiB prefix costs nothing), a body buffer of at most
 * TJ_CTL_REQUEST_MAX_BYTES, at most TJ__QUEUE_MAX_BYTES of replies
 * queued, and TJ__FRAME_TIMEOUT_MS to finish a frame once begun; a client
 * over any of these is disconnected. At most TJ__CLIENTS_MAX clients. Requests are handled
 * synchronously on the loop thread, so every LMDB transaction begins and ends
 * inside one callback.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <sodium.h>
#include <uv.h>

#include "tj_alert.h"
#include "tj_config.h"
#include "tj_hook.h"
#include "tj_control.h"
#include "tj_ctl_server.h"
#include "tj_log.h"
#include "tj_node.h"
#include "tj_node_core.h"
#include "tj_peer.h"

#define TJ__CLIENTS_MAX 64
#define TJ__QUEUE_MAX_BYTES (TJ_CTL_REPLY_MAX_BYTES + 1024u * 1024u)
#define TJ__READ_BUF_BYTES (64u * 1024u)
#define TJ__BACKLOG 64
/* A client that starts a frame must finish it within this time (slow-send clients). */
#define TJ__FRAME_TIMEOUT_MS 10000u
#define TJ__SWEEP_MS 1000u
#define TJ__READER_CHECK_MS 60000u

struct tj__client;

struct tj__daemon {
	uv_loop_t loop;
	uv_pipe_t server;
	uv_signal_t sig_int;
	uv_signal_t sig_term;
	uv_timer_t sweep;
	struct tj_node *node;
	struct tj_peers *peers;                  /* the peer layer (tj_peer.h), NULL without a network */
	struct tj_hook *hook;                    /* T7 re-raises and the alert hook (tj_hook.h) */
	char listen[TJ_CONFIG_LISTEN_MAX];       /* where peers connect; "" = nowhere */
	struct tj__client *clients;
	size_t n_clients;
	bool stopping;
	uint64_t readers_checked_ms; /* loop time of the last tj_store_reader_check */
	bool server_init, sig_int_init, sig_term_init, sweep_init; /* handles to close */
	bool bound;                                    /* we created sock_path */
	char sock_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	/* One loop thread: reads are consumed before the next. Requests carry
	 * incident plaintext (names, narratives), so every read is wiped once
	 * consumed, and the whole struct before it is freed. */
	uint8_t rbuf[TJ__READ_BUF_BYTES];
};

struct tj__client {
	uv_pipe_t pipe; /* pipe.data = this client */
	struct tj__daemon *d;
	struct tj__client *prev, *next;
	bool closing;
	bool hangup;      /* close once the queued replies are written */
	uint64_t frame_start_ms; /* loop time the current frame began; 0 between frames */
	uint8_t hdr[4];
	size_t hdr_got;
	uint8_t *body;    /* NULL while reading a header */
	size_t body_len;
	size_t body_got;
	size_t queued;    /* reply bytes not yet written */
	unsigned pending; /* write requests in flight */
};

/* A write request owns its buffer and frees it in its callback. */
struct tj__wreq {
	uv_write_t req;
	struct tj__client *c;
	struct tj_ctl_reply reply;
};

static void tj__daemon_stop(struct tj__daemon *d);

static void tj__client_closed(uv_handle_t *h)
{
	struct tj__client *c = h->data;
	struct tj__daemon *d = c->d;

	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		d->clients = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	d->n_clients--;
	if (c->body != NULL) {
		sodium_memzero(c->body, c->body_len);
		free(c->body);
	}
	free(c);
}

static void tj__client_close(struct tj__client *c)
{
	if (c->closing)
		return;
	c->closing = true;
	uv_close((uv_handle_t *)&c->pipe, tj__client_closed);
}

static void tj__write_done(uv_write_t *req, int status)
{
	struct tj__wreq *wr = req->data;
	struct tj__client *c = wr->c;

	c->queued -= wr->reply.len;
	c->pending--;
	tj_ctl_reply_free(&wr->reply);
	free(wr);
	if (c->closing)
		return;
	if (status < 0 || (c->pending == 0 && (c->hangup || c->d->stopping)))
		tj__client_close(c);
}

/* Queues a reply (taking it); disconnects a client that does not read its replies. */
static void tj__client_send(struct tj__client *c, struct tj_ctl_reply *reply)
{
	struct tj__wreq *wr;
	uv_buf_t b;
	int rc;

	if (c->queued + reply->len > TJ__QUEUE_MAX_BYTES) {
		TJ_LOG_W("ctl", "client does not read its replies (%zu bytes queued); disconnecting", c->queued);
		tj_ctl_reply_free(reply);
		tj__client_close(c);
		return;
	}
	wr = calloc(1, sizeof(*wr));
	if (wr == NULL) {
		tj_ctl_reply_free(reply);
		tj__client_close(c);
		return;
	}
	wr->c = c;
	wr->reply = *reply;
	wr->req.data = wr;
	b = uv_buf_init((char *)wr->reply.buf, (unsigned)wr->reply.len);
	rc = uv_write(&wr->req, (uv_stream_t *)&c->pipe, &b, 1, tj__write_done);
	if (rc != 0) {
		/* The callback will not run: free now. */
		tj_ctl_reply_free(&wr->reply);
		free(wr);
		tj__client_close(c);
		return;
	}
	c->queued += reply->len;
	c->pending++;
}

static void tj__client_error(struct tj__client *c, int err, const char *msg)
{
	struct tj_ctl_reply reply;

	c->hangup = true;
	uv_read_stop((uv_stream_t *)&c->pipe);
	if (tj_ctl_error_reply(err, msg, &reply) != 0) {
		tj__client_close(c);
		return;
	}
	tj__client_send(c, &reply);
}

/* A whole request body arrived. */
static void tj__client_request(struct tj__client *c)
{
	struct tj_ctl_flags flags = {0};
	struct tj_ctl_reply reply = {0};
	int rc = tj_ctl_handle(c->d->node, c->body, c->body_len, &reply, &flags);

	/* The request may carry an incident's plaintext: wipe it now. */
	sodium_memzero(c->body, c->body_len);
	free(c->body);
	c->body = NULL;
	c->body_len = c->body_got = 0;
	c->frame_start_ms = 0;
	if (rc != 0) {
		TJ_LOG_E("ctl", "request failed without a reply: %s", tj_errname(rc));
		tj__client_close(c);
		return;
	}
	if (flags.close) {
		c->hangup = true;
		uv_read_stop((uv_stream_t *)&c->pipe);
	}
	tj__client_send(c, &reply);
	if (flags.stop) {
		TJ_LOG_I("daemon", "stop requested over the control socket");
		tj__daemon_stop(c->d);
	}
}

/*
 * Consumes bytes: headers are checked before any body is buffered. Body
 * bytes are wiped from the read buffer as they are copied out, so that a
 * request's plaintext is in one place only (c->body) and gone before the
 * reply leaves.
 */
static void tj__client_feed(struct tj__client *c, uint8_t *p, size_t n)
{
	while (n > 0 && !c->closing && !c->hangup && !c->d->stopping) {
		size_t take;

		if (c->body == NULL) {
			if (c->hdr_got == 0)
				c->frame_start_ms = uv_now(&c->d->loop);
			take = n < 4 - c->hdr_got ? n : 4 - c->hdr_got;
			memcpy(c->hdr + c->hdr_got, p, take);
			c->hdr_got += take;
			p += take;
			n -= take;
			if (c->hdr_got < 4)
				break;
			c->hdr_got = 0;
			if (tj_ctl_frame_len(c->hdr, &c->body_len) != 0) {
				tj__client_error(c, TJ_ELIMIT, "frame length must be 1 to 262144 bytes");
				return;
			}
			c->body = malloc(c->body_len);
			if (c->body == NULL) {
				tj__client_close(c);
				return;
			}
			c->body_got = 0;
			continue;
		}
		take = n < c->body_len - c->body_got ? n : c->body_len - c->body_got;
		memcpy(c->body + c->body_got, p, take);
		sodium_memzero(p, take);
		c->body_got += take;
		p += take;
		n -= take;
		if (c->body_got == c->body_len)
			tj__client_request(c);
	}
}

static void tj__alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct tj__client *c = h->data;

	(void)suggested;
	*buf = uv_buf_init((char *)c->d->rbuf, sizeof(c->d->rbuf));
}

static void tj__read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct tj__client *c = s->data;

	if (c->closing)
		return;
	if (nread < 0) {
		tj__client_close(c); /* EOF or error: either way this client is done */
		return;
	}
	tj__client_feed(c, (uint8_t *)buf->base, (size_t)nread);
	/* Bytes of a request half-read by a client we are hanging up on are dropped, and wiped. */
	sodium_memzero(buf->base, (size_t)nread);
}

static void tj__connection(uv_stream_t *server, int status)
{
	struct tj__daemon *d = server->data;
	struct tj__client *c;
	int rc;

	if (d->stopping)
		return;
	if (status < 0) {
		TJ_LOG_W("ctl", "accept: %s", uv_strerror(status));
		return;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return;
	c->d = d;
	if ((rc = uv_pipe_init(&d->loop, &c->pipe, 0)) != 0) {
		free(c); /* not a handle yet: nothing to close */
		return;
	}
	c->pipe.data = c;
	c->next = d->clients;
	if (d->clients != NULL)
		d->clients->prev = c;
	d->clients = c;
	d->n_clients++;
	if ((rc = uv_accept(server, (uv_stream_t *)&c->pipe)) != 0) {
		tj__client_close(c);
		return;
	}
	if (d->n_clients > TJ__CLIENTS_MAX) {
		TJ_LOG_W("ctl", "more than %d control clients; refusing one", TJ__CLIENTS_MAX);
		tj__client_close(c);
		return;
	}
	if ((rc = uv_read_start((uv_stream_t *)&c->pipe, tj__alloc, tj__read)) != 0)
		tj__client_close(c);
}

static void tj__handle_closed(uv_handle_t *h)
{
	(void)h; /* embedded in the daemon, which outlives the loop */
}

/* Stop accepting, close every handle; clients with replies in flight close after them. */
static void tj__daemon_stop(struct tj__daemon *d)
{
	struct tj__client *c, *next;

	if (d->stopping)
		return;
	d->stopping = true;
	tj_peers_stop(d->peers);
	tj_hook_stop(d->hook);
	if (d->server_init)
		uv_close((uv_handle_t *)&d->server, tj__handle_closed);
	if (d->sig_int_init)
		uv_close((uv_handle_t *)&d->sig_int, tj__handle_closed);
	if (d->sig_term_init)
		uv_close((uv_handle_t *)&d->sig_term, tj__handle_closed);
	if (d->sweep_init)
		uv_close((uv_handle_t *)&d->sweep, tj__handle_closed);
	for (c = d->clients; c != NULL; c = next) {
		next = c->next;
		if (c->pending == 0) {
			tj__client_close(c);
		} else if (!c->closing) {
			c->hangup = true;
			uv_read_stop((uv_stream_t *)&c->pipe);
		}
	}
}

static void tj__signal(uv_signal_t *h, int signum)
{
	struct tj__daemon *d = h->data;

	if (d->stopping)
		return;
	TJ_LOG_I("daemon", "signal %d: shutting down", signum);
	tj__daemon_stop(d);
}

/* Drops clients stuck in the middle of a frame: a half-sent request holds a slot and a buffer. */
static void tj__sweep(uv_timer_t *t)
{
	struct tj__daemon *d = t->data;
	uint64_t now = uv_now(&d->loop);

	if (d->stopping)
		return;
	/* Closing only marks clients; the list changes in close callbacks, after this loop. */
	for (struct tj__client *c = d->clients; c != NULL; c = c->next) {
		if (c->closing || c->frame_start_ms == 0 || now - c->frame_start_ms <= TJ__FRAME_TIMEOUT_MS)
			continue;
		TJ_LOG_W("ctl", "client sent half a request for %u s; disconnecting", TJ__FRAME_TIMEOUT_MS / 1000u);
		tj__client_close(c);
	}
	/* Every minute: reader slots of dead processes would keep the store from reusing pages. */
	if (d->node != NULL && now - d->readers_checked_ms >= TJ__READER_CHECK_MS) {
		int dead = 0;
		d->readers_checked_ms = now;
		if (tj_store_reader_check(d->node->store, &dead) != 0)
			TJ_LOG_W("store", "could not check the reader table");
		else if (dead > 0)
			TJ_LOG_W("store",
			         "cleared %d reader slot(s) left by a dead process that had opened the store",
			         dead);
	}
}

static int tj__sweeper(struct tj__daemon *d)
{
	int rc;

	if ((rc = uv_timer_init(&d->loop, &d->sweep)) != 0)
		return rc;
	d->sweep_init = true;
	d->sweep.data = d;
	return uv_timer_start(&d->sweep, tj__sweep, TJ__SWEEP_MS, TJ__SWEEP_MS);
}

/* A socket file left by a dead node is removed; a live node's is not touched. */
static int tj__clear_stale_socket(const char *datadir, const char *path)
{
	struct stat st;
	int fd = -1;
	int rc;

	if (lstat(path, &st) != 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode))
		return -EEXIST;
	rc = tj_ctl_connect(datadir, &fd);
	if (rc == 0) {
		close(fd);
		return -EADDRINUSE;
	}
	if (rc != -ECONNREFUSED)
		return rc;
	return unlink(path) == 0 ? 0 : -errno;
}

static int tj__listen(struct tj__daemon *d, const char *datadir)
{
	mode_t old;
	int n, rc;

	n = snprintf(d->sock_path, sizeof(d->sock_path), "%s/%s", datadir, TJ_CTL_SOCKET_NAME);
	if (n < 0 || (size_t)n >= sizeof(d->sock_path))
		return -ENAMETOOLONG;
	if ((rc = tj__clear_stale_socket(datadir, d->sock_path)) != 0) {
		if (rc == -EADDRINUSE)
			TJ_LOG_E("daemon", "another node is already running on this data directory");
		return rc;
	}
	if ((rc = uv_pipe_init(&d->loop, &d->server, 0)) != 0)
		return rc;
	d->server_init = true;
	d->server.data = d;
	/* umask closes the window between bind and chmod in which others could connect. */
	old = umask(0177);
	rc = uv_pipe_bind(&d->server, d->sock_path);
	umask(old);
	d->bound = rc == 0;
	if (rc == 0 && chmod(d->sock_path, 0600) != 0)
		rc = -errno;
	if (rc == 0)
		rc = uv_listen((uv_stream_t *)&d->server, TJ__BACKLOG, tj__connection);
	return rc;
}

static int tj__signals(struct tj__daemon *d)
{
	int rc;

	if ((rc = uv_signal_init(&d->loop, &d->sig_int)) != 0)
		return rc;
	d->sig_int_init = true;
	if ((rc = uv_signal_init(&d->loop, &d->sig_term)) != 0)
		return rc;
	d->sig_term_init = true;
	d->sig_int.data = d;
	d->sig_term.data = d;
	if ((rc = uv_signal_start(&d->sig_int, tj__signal, SIGINT)) != 0 ||
	    (rc = uv_signal_start(&d->sig_term, tj__signal, SIGTERM)) != 0)
		return rc;
	return 0;
}

static void tj__ready(int fd)
{
	const char byte = 'R';
	ssize_t w;

	if (fd < 0)
		return;
	do {
		w = write(fd, &byte, 1);
	} while (w < 0 && errno == EINTR);
	if (w != 1)
		TJ_LOG_W("daemon", "could not signal readiness: %s", strerror(errno));
}

/* The peer layer, for a node in a network (an identity alone has no peers yet). */
static int tj__peers(struct tj__daemon *d)
{
	struct tj_peers_opts po = {.listen = d->listen};
	int rc;

	if (!d->node->has_network) {
		TJ_LOG_I("daemon", "not in a network yet: no peer connections");
		return 0;
	}
	rc = tj_peers_start(&d->loop, d->node, &po, &d->peers);
	if (rc != 0)
		TJ_LOG_E("daemon", "cannot start the peer layer: %s", tj_strerror(rc));
	return rc;
}

/* Public key and network id as short prefixes: enough to tell nodes apart in a log. */
static void tj__log_opened(struct tj_node *n)
{
	char pk[TJ_LOG_HEX_CHARS], net[TJ_LOG_HEX_CHARS];
	struct tj_node_status st;

	if (tj_node_status(n, &st) != 0)
		st.store.records = 0;
	TJ_LOG_I("daemon", "node %s open: network %s, %llu records", tj_log_hex(n->u->id->pk, pk),
		 n->has_network ? tj_log_hex(n->network_id, net) : "(none yet)",
		 (unsigned long long)st.store.records);
}

/* Config and node; takes opts->unlocked whatever happens. */
static int tj__daemon_open(struct tj_daemon_opts *opts, struct tj_node **node, char listen[TJ_CONFIG_LISTEN_MAX])
{
	struct tj_unlocked *u = opts->unlocked;
	char err[TJ_CONFIG_ERR_MAX];
	struct tj_config cfg;
	size_t pending = 0;
	int rc;

	opts->unlocked = NULL;
	rc = tj_config_load(opts->datadir, &cfg, err);
	if (rc == 0 && opts->listen != NULL && opts->listen[0] != '\0' && strcmp(opts->listen, TJ_LISTEN_OFF) != 0 &&
	    tj_config_check_listen(opts->listen) != 0) {
		snprintf(err, sizeof(err), "--listen must be HOST:PORT (e.g. 0.0.0.0:7654) or off");
		rc = TJ_ECONFIG;
	}
	if (rc != 0) {
		TJ_LOG_E("daemon", "refusing to start: %s", err[0] != '\0' ? err : tj_strerror(rc));
		tj_unlocked_free(u);
		return rc;
	}
	tj_log_set_level(cfg.log_level);
	tj_alert_configure(&cfg.alerts);
	tj_peers_set_liveness(cfg.peer_ping_s * 1000u, cfg.peer_dead_s * 1000u);
	/* --listen, else the config file, else the caller's default; "off" means no listener. */
	if (opts->listen != NULL && opts->listen[0] != '\0')
		snprintf(cfg.listen, sizeof(cfg.listen), "%s", opts->listen);
	else if (cfg.listen[0] == '\0' && opts->listen_default != NULL)
		snprintf(cfg.listen, sizeof(cfg.listen), "%s", opts->listen_default);
	if (strcmp(cfg.listen, TJ_LISTEN_OFF) == 0)
		cfg.listen[0] = '\0';
	snprintf(listen, TJ_CONFIG_LISTEN_MAX, "%s", cfg.listen);
	rc = tj_node_open(opts->datadir, cfg.map_size_mb * 1024u * 1024u, u, node);
	if (rc != 0) {
		TJ_LOG_E("daemon", "cannot open the node: %s", tj_strerror(rc));
		return rc;
	}
	tj__log_opened(*node);
	/*
	 * Records stored before a stop and not evaluated yet: a node in a network
	 * leaves them to the peer layer's background pass (tj_peer_derive.c), which
	 * may have a whole catch-up to go through; a node alone evaluates them now.
	 */
	if ((*node)->has_network)
		rc = tj_alert_pending_prepare(*node);
	else if ((rc = tj_alert_pending_run(*node, &pending)) == 0 && pending > 0)
		TJ_LOG_I("daemon", "evaluated alerts for %zu records stored before a stop", pending);
	(void)rc; /* logged; the records stay marked and are evaluated later */
	return 0;
}

/*
 * A running node holds its keys and, while it handles a request, plaintext.
 * Not dumpable: the kernel writes no core file (a pipe handler such as
 * systemd-coredump or apport gets the core whatever RLIMIT_CORE says, and
 * stores it on disk), and no other process of the same user may ptrace this
 * one or read /proc/PID/mem (gdb, gcore, malware in the session); root still
 * can. TJ_TEST_DUMPABLE=1 keeps the process dumpable for the evidence tests
 * when they do not run as root (tests/evidence/ev_seizure.c), and says so in
 * the log.
 */
static void tj__no_dumps(void)
{
	const char *keep = getenv("TJ_TEST_DUMPABLE");

	if (keep != NULL && strcmp(keep, "1") == 0) {
		TJ_LOG_W("daemon",
		         "TJ_TEST_DUMPABLE=1: this node's memory can be dumped and read by its user "
		         "(for tests only)");
		(void)prctl(PR_SET_DUMPABLE, 1L, 0L, 0L, 0L); /* a parent may have dropped it */
		return;
	}
	if (prctl(PR_SET_DUMPABLE, 0L, 0L, 0L, 0L) != 0)
		TJ_LOG_W("daemon", "cannot refuse core dumps and memory reads: %s", strerror(errno));
	else if (prctl(PR_GET_DUMPABLE, 0L, 0L, 0L, 0L) != 0)
		TJ_LOG_W("daemon", "still dumpable after PR_SET_DUMPABLE 0");
	else
		TJ_LOG_I("daemon",
		         "not dumpable: no core file, no memory reads by other processes of this user");
}

int tj_daemon_run(struct tj_daemon_opts *opts)
{
	struct tj__daemon *d = NULL;
	bool loop_ok = false;
	int rc;

	if (opts == NULL || opts->datadir == NULL) {
		if (opts != NULL) {
			tj_unlocked_free(opts->unlocked);
			opts->unlocked = NULL;
		}
		return -EINVAL;
	}
	d = calloc(1, sizeof(*d));
	if (d == NULL) {
		tj_unlocked_free(opts->unlocked);
		opts->unlocked = NULL;
		return -ENOMEM;
	}
	tj__no_dumps();
	/* A client that hangs up mid-reply must not kill the node. */
	signal(SIGPIPE, SIG_IGN);
	if ((rc = tj__daemon_open(opts, &d->node, d->listen)) != 0)
		goto out;
	if ((rc = uv_loop_init(&d->loop)) != 0)
		goto out;
	loop_ok = true;
	if ((rc = tj__signals(d)) != 0 || (rc = tj__sweeper(d)) != 0 || (rc = tj__listen(d, opts->datadir)) != 0) {
		TJ_LOG_E("daemon", "cannot listen on the control socket: %s", tj_strerror(rc));
		tj__daemon_stop(d);
		uv_run(&d->loop, UV_RUN_DEFAULT); /* runs the close callbacks */
		goto out;
	}
	TJ_LOG_I("daemon", "listening on the control socket");
	if ((rc = tj__peers(d)) != 0) {
		tj__daemon_stop(d);
		uv_run(&d->loop, UV_RUN_DEFAULT);
		goto out;
	}
	if ((rc = tj_hook_start(&d->loop, d->node, &d->hook)) != 0) {
		TJ_LOG_E("daemon", "cannot start the alert timer: %s", tj_strerror(rc));
		tj__daemon_stop(d);
		uv_run(&d->loop, UV_RUN_DEFAULT);
		goto out;
	}
	tj__ready(opts->ready_fd);
	uv_run(&d->loop, UV_RUN_DEFAULT);
	TJ_LOG_I("daemon", "stopped");
out:
	if (loop_ok) {
		int crc = uv_loop_close(&d->loop);
		if (crc != 0) {
			TJ_LOG_E("daemon", "loop did not close cleanly: %s", uv_strerror(crc));
			rc = rc != 0 ? rc : TJ_ESTATE;
		}
		if (d->bound)
			unlink(d->sock_path);
	}
	tj_peers_free(d->peers);
	tj_hook_free(d->hook);
	tj_node_close(d->node);
	sodium_memzero(d, sizeof(*d));
	free(d);
	return rc;
}
