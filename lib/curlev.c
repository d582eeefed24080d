/*
 * The libcurl multi + libevent glue (see curlev.h).
 */
#include <stdlib.h>

#include <event2/event.h>

#include "curlev.h"

/* What a socket curl watches carries: its event. */
struct sockinfo {
	struct event	*ev;
};

static void
on_socket_event(evutil_socket_t fd, short kind, void *arg)
{
	struct curlev *c = arg;
	int running, action = (kind & EV_READ ? CURL_CSELECT_IN : 0) |
	    (kind & EV_WRITE ? CURL_CSELECT_OUT : 0);

	curl_multi_socket_action(c->multi, fd, action, &running);
	c->done(c->arg);
}

static void
on_timer(evutil_socket_t fd, short kind, void *arg)
{
	struct curlev *c = arg;
	int running;

	(void)fd, (void)kind;
	curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	c->done(c->arg);
}

static int
socket_cb(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
	struct curlev *c = userp;
	struct sockinfo *si = socketp;
	short kind;

	(void)easy;
	if (what == CURL_POLL_REMOVE) {
		if (si != NULL) {
			if (si->ev != NULL)
				event_free(si->ev);
			free(si);
		}
		return 0;
	}
	kind = (short)((what & CURL_POLL_IN ? EV_READ : 0) | (what & CURL_POLL_OUT ? EV_WRITE : 0) |
	    EV_PERSIST);
	if (si == NULL) {
		if ((si = calloc(1, sizeof(*si))) == NULL)
			return -1;
		curl_multi_assign(c->multi, s, si);
	} else if (si->ev != NULL && event_get_events(si->ev) == kind)
		return 0;	/* what curl already waits for: nothing to tell epoll */
	else if (si->ev != NULL)
		event_free(si->ev);
	si->ev = event_new(c->base, s, kind, on_socket_event, c);
	return si->ev != NULL && event_add(si->ev, NULL) == 0 ? 0 : -1;
}

static int
timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
	struct curlev *c = userp;
	struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };

	(void)multi;
	if (timeout_ms < 0)
		evtimer_del(c->timer);
	else
		evtimer_add(c->timer, &tv);
	return 0;
}

int
curlev_init(struct curlev *c, struct event_base *base, void (*done)(void *), void *arg)
{
	c->base = base;
	c->done = done;
	c->arg = arg;
	if ((c->multi = curl_multi_init()) == NULL)
		return -1;
	if ((c->timer = evtimer_new(base, on_timer, c)) == NULL) {
		curl_multi_cleanup(c->multi);
		c->multi = NULL;
		return -1;
	}
	curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
	curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
	curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
	curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
	return 0;
}

void
curlev_release(struct curlev *c)
{
	if (c->multi != NULL)
		curl_multi_cleanup(c->multi);
	if (c->timer != NULL)
		event_free(c->timer);
	c->multi = NULL;
	c->timer = NULL;
}
