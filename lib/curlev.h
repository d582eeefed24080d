/*
 * libcurl's multi interface on a libevent loop, the way curl's hiperfifo
 * example does it: curl says which sockets to watch (a socket callback) and
 * when to wake it (a timer callback); each event hands the socket back to
 * curl_multi_socket_action(), then calls the owner's completion point, which
 * reads curl_multi_info_read() for the transfers that ended.  Used by the
 * workers (upstream requests) and by the accountant's outbox.
 */
#ifndef TOLLGATE_CURLEV_H
#define TOLLGATE_CURLEV_H

#include <curl/curl.h>

struct event_base;
struct event;

struct curlev {
	CURLM			*multi;
	struct event_base	*base;
	struct event		*timer;		/* curl's own timeouts */
	void			(*done)(void *arg);	/* after curl ran: finish transfers */
	void			*arg;
};

/*
 * Makes c's multi handle and timer on base; done(arg) runs after every
 * socket or timer event.  0, or -1 (nothing to release).
 */
int curlev_init(struct curlev *c, struct event_base *base, void (*done)(void *), void *arg);

/* Frees the multi handle (remove the easy handles first) and the timer. */
void curlev_release(struct curlev *c);

#endif
