/* The alert runner: T7 re-raises and the alert hook program (tj_hook.h). */
#include "tj_hook.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>
#include <sodium.h>

#include "tj_alert.h"
#include "tj_ingest.h"
#include "tj_log.h"

#define TJ__SUBS_MAX 64
#define TJ__SKIP_PER_TICK 256 /* unsubscribed events passed over per tick */
#define TJ__RERAISE_CHECK_MS 60000u

struct tj_hook {
	uv_loop_t *loop;
	struct tj_node *node;
	uv_timer_t timer;
	uv_process_t proc;
	uv_pipe_t in; /* the program's standard input */
	uv_write_t wreq;
	char *json;     /* what the program is being given; owned */
	uint64_t event; /* the event being delivered */
	uint64_t started_ms, next_try_ms, backoff_ms, last_reraise_ms;
	int open_handles; /* handles not yet closed */
	bool running;     /* a program runs (proc is active) */
	bool in_open;     /* in is initialized and not closed yet */
	bool killed;      /* we killed it for running too long */
	bool closing;
};

/* The alert's JSON (ids, codes, states) is wiped before it goes back to the heap. */
static void tj__json_free(struct tj_hook *h)
{
	if (h->json != NULL) {
		sodium_memzero(h->json, strlen(h->json));
		free(h->json);
		h->json = NULL;
	}
}

static void tj__handle_closed(uv_handle_t *hd)
{
	struct tj_hook *h = hd->data;

	h->open_handles--;
	if (hd == (uv_handle_t *)&h->in)
		h->in_open = false;
}

static void tj__in_close(struct tj_hook *h)
{
	if (h->in_open && !uv_is_closing((uv_handle_t *)&h->in))
		uv_close((uv_handle_t *)&h->in, tj__handle_closed);
}

/* After a failure: log, keep the event, back off. */
static void tj__failed(struct tj_hook *h, const char *why, int64_t code)
{
	h->backoff_ms = h->backoff_ms == 0 ? TJ_HOOK_BACKOFF_MIN_MS : h->backoff_ms * 2;
	if (h->backoff_ms > TJ_HOOK_BACKOFF_MAX_MS)
		h->backoff_ms = TJ_HOOK_BACKOFF_MAX_MS;
	h->next_try_ms = uv_now(h->loop) + h->backoff_ms;
	TJ_LOG_W("hook", "alert hook %s (%lld) for event %llu; retrying in %llu s", why, (long long)code,
	         (unsigned long long)h->event, (unsigned long long)(h->backoff_ms / 1000u));
}

static void tj__exited(uv_process_t *p, int64_t status, int term_signal)
{
	struct tj_hook *h = p->data;
	int rc;

	h->running = false;
	uv_close((uv_handle_t *)p, tj__handle_closed);
	tj__in_close(h);
	tj__json_free(h);
	if (h->killed)
		tj__failed(h, "timed out and was killed", h->event);
	else if (term_signal != 0)
		tj__failed(h, "was killed by a signal", term_signal);
	else if (status != 0)
		tj__failed(h, "failed with exit status", status);
	else if ((rc = tj_alert_hook_advance(h->node, h->event)) != 0)
		tj__failed(h, "ran, but its cursor was not stored", rc);
	else {
		TJ_LOG_I("hook", "alert event %llu delivered", (unsigned long long)h->event);
		h->backoff_ms = 0;
		h->next_try_ms = 0;
	}
}

static void tj__written(uv_write_t *req, int status)
{
	struct tj_hook *h = req->data;

	if (status != 0 && !h->closing)
		TJ_LOG_W("hook", "could not write the alert to the hook: %s", uv_strerror(status));
	tj__in_close(h); /* end of input, whatever happened */
}

/* Spawns the program with the alert on its standard input. */
static int tj__spawn(struct tj_hook *h, const char *path)
{
	char *args[] = {(char *)path, NULL};
	uv_stdio_container_t stdio[3];
	uv_process_options_t o;
	uv_buf_t buf;
	int rc;

	if ((rc = uv_pipe_init(h->loop, &h->in, 0)) != 0)
		return rc;
	h->in.data = h;
	h->in_open = true;
	h->open_handles++;
	memset(&o, 0, sizeof(o));
	stdio[0].flags = UV_CREATE_PIPE | UV_READABLE_PIPE;
	stdio[0].data.stream = (uv_stream_t *)&h->in;
	stdio[1].flags = UV_IGNORE;
	stdio[2].flags = UV_IGNORE;
	o.file = path;
	o.args = args;
	o.exit_cb = tj__exited;
	o.stdio = stdio;
	o.stdio_count = 3;
	h->proc.data = h;
	h->killed = false;
	if ((rc = uv_spawn(h->loop, &h->proc, &o)) != 0) {
		/* libuv closes nothing for us: the process handle still needs its close. */
		uv_close((uv_handle_t *)&h->proc, tj__handle_closed);
		h->open_handles++;
		tj__in_close(h);
		return rc;
	}
	h->open_handles++;
	h->running = true;
	h->started_ms = uv_now(h->loop);
	buf = uv_buf_init(h->json, (unsigned)strlen(h->json));
	h->wreq.data = h;
	if ((rc = uv_write(&h->wreq, (uv_stream_t *)&h->in, &buf, 1, tj__written)) != 0)
		tj__in_close(h); /* the callback will not run; the program sees an empty input and fails */
	return 0;
}

/* The next event to deliver, skipping those no subscription wants. *a is filled when found. */
static int tj__next(struct tj_hook *h, struct tj_alert *a, uint64_t *seq)
{
	struct tj_subscription *subs = malloc(TJ__SUBS_MAX * sizeof(*subs));
	size_t n_subs = 0;
	uint64_t done = 0;
	int rc;

	if (subs == NULL)
		return -ENOMEM;
	if ((rc = tj_alert_hook_cursor(h->node, &done)) != 0)
		goto out;
	/* Subscriptions (membership may be decrypted) only once there is an event. */
	if ((rc = tj_alert_event(h->node, done + 1, a)) != 0 ||
	    (rc = tj_alert_subscriptions_effective(h->node, subs, TJ__SUBS_MAX, &n_subs)) != 0)
		goto out; /* TJ_ENOTFOUND: nothing new */
	for (int i = 0; i < TJ__SKIP_PER_TICK; i++) {
		if (i > 0 && (rc = tj_alert_event(h->node, done + 1, a)) != 0)
			break; /* TJ_ENOTFOUND: nothing new */
		if (tj_alert_subscribed(subs, n_subs, a)) {
			*seq = done + 1;
			break;
		}
		if ((rc = tj_alert_hook_advance(h->node, ++done)) != 0)
			break;
	}
out:
	free(subs);
	return rc;
}

static int tj__deliver(struct tj_hook *h, const char *path)
{
	struct tj_alert *a = malloc(sizeof(*a));
	cJSON *j = NULL;
	uint64_t seq = 0;
	int rc;

	if (a == NULL)
		return -ENOMEM;
	rc = tj__next(h, a, &seq);
	if (rc == 0 && seq > 0 && (j = tj_alert_to_json(a, TJ_LANG_EN)) != NULL) {
		cJSON_AddNumberToObject(j, "event", (double)seq);
		h->json = cJSON_PrintUnformatted(j);
		cJSON_Delete(j);
		h->event = seq;
		if (h->json == NULL)
			rc = -ENOMEM;
		else if ((rc = tj__spawn(h, path)) != 0) {
			tj__json_free(h);
			tj__failed(h, "could not be started", rc);
			rc = 0;
		}
	}
	free(a);
	return rc == TJ_ENOTFOUND ? 0 : rc;
}

static void tj__tick(uv_timer_t *t)
{
	struct tj_hook *h = t->data;
	const struct tj_alert_config *cfg = tj_alert_config_current();
	uint64_t now = uv_now(h->loop);
	size_t raised = 0;
	int rc;

	if (h->closing)
		return;
	if (now - h->last_reraise_ms >= TJ__RERAISE_CHECK_MS || h->last_reraise_ms == 0) {
		h->last_reraise_ms = now;
		if ((rc = tj_alert_reraise(h->node, tj_now_ms(), &raised)) != 0)
			TJ_LOG_W("hook", "could not re-raise ongoing alerts: %s", tj_strerror(rc));
		else if (raised > 0)
			TJ_LOG_I("hook", "re-raised %zu ongoing alert(s)", raised);
	}
	if (cfg->hook[0] == '\0')
		return;
	if (h->running) {
		if (!h->killed && now - h->started_ms > (uint64_t)cfg->hook_timeout_s * 1000u) {
			h->killed = true;
			(void)uv_process_kill(&h->proc, SIGKILL);
		}
		return;
	}
	if (h->in_open || now < h->next_try_ms)
		return; /* the last program's pipe is still closing, or backing off */
	if ((rc = tj__deliver(h, cfg->hook)) != 0)
		TJ_LOG_W("hook", "could not prepare an alert for the hook: %s", tj_strerror(rc));
}

int tj_hook_start(uv_loop_t *loop, struct tj_node *node, struct tj_hook **out)
{
	struct tj_hook *h = calloc(1, sizeof(*h));
	int rc;

	*out = NULL;
	if (h == NULL)
		return -ENOMEM;
	h->loop = loop;
	h->node = node;
	if ((rc = uv_timer_init(loop, &h->timer)) != 0) {
		free(h);
		return rc;
	}
	h->timer.data = h;
	h->open_handles = 1;
	if ((rc = uv_timer_start(&h->timer, tj__tick, TJ_HOOK_TICK_MS, TJ_HOOK_TICK_MS)) != 0) {
		tj_hook_stop(h);
		*out = h; /* freed by tj_hook_free after the loop ran the close */
		return rc;
	}
	if (tj_alert_config_current()->hook[0] != '\0')
		TJ_LOG_I("hook", "alert hook configured");
	*out = h;
	return 0;
}

void tj_hook_stop(struct tj_hook *h)
{
	if (h == NULL || h->closing)
		return;
	h->closing = true;
	uv_close((uv_handle_t *)&h->timer, tj__handle_closed);
	if (h->running) {
		/* Not delivered: the cursor stays, the next start delivers it again. */
		h->killed = true;
		(void)uv_process_kill(&h->proc, SIGKILL);
	}
	tj__in_close(h);
}

void tj_hook_free(struct tj_hook *h)
{
	if (h == NULL)
		return;
	if (h->open_handles != 0) {
		/* A handle still open would be freed under libuv's feet: leak instead. */
		TJ_LOG_E("hook", "%d handle(s) still open at exit; not freed", h->open_handles);
		return;
	}
	tj__json_free(h);
	free(h);
}
