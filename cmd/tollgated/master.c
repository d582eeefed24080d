/*
 * The master process: loads the configuration and the price maps, publishes
 * the compiled price table in shared memory, binds the listener, forks the
 * workers and the accountant, and keeps them running.  It never serves a
 * request.  Signal handlers only set flags; the loop acts on them:
 *   SIGHUP   reload: a new generation, or the old one kept if anything is invalid
 *   SIGTERM, SIGINT  drain the workers, then stop the accountant, exit 0
 *   SIGUSR1  reopen the log file, here and in every child
 *   SIGCHLD  respawn a child that died, with back-off
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <netdb.h>
#include <pwd.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include "buf.h"
#include "clock.h"
#include "log.h"
#include "metrics.h"
#include "pricefile.h"
#include "pricemap.h"
#include "shm.h"
#include "status.h"
#include "router.h"
#include "tollgated.h"
#include "window.h"

struct heritage heritage;

/* The roles the master runs, how many of each, and their entry points. */
enum role { ROLE_WORKER, ROLE_ACCOUNTANT, ROLE_SHIPPER };

static const struct role_spec {
	const char	*name;
	int		(*entry)(void);
} roles[] = {
	[ROLE_WORKER]	  = { "worker", worker_main },
	[ROLE_ACCOUNTANT] = { "accountant", accountant_main },
	[ROLE_SHIPPER]	  = { "shipper", shipper_main },	/* with a fleet ledger (PostgreSQL) */
};

#define MAX_CHILDREN 1024

struct child {
	pid_t		pid;		/* 0: slot free */
	enum role	role;
	uint32_t	index;
	uint64_t	generation;	/* config generation it serves */
	time_t		started;
	int		failures;	/* quick deaths in a row, for the back-off */
	time_t		respawn_at;	/* 0: alive or retired */
	int		retiring;	/* told to drain: not respawned */
};

static struct child children[MAX_CHILDREN];
static volatile sig_atomic_t got_hup, got_term, got_usr1, got_chld, got_alrm;
static uint64_t generation;
static struct shm *shm;
static uint64_t config_hash;
static int run_lock = -1;	/* the master's only: children close it */

static void
on_signal(int sig)
{
	switch (sig) {
	case SIGHUP:  got_hup = 1; break;
	case SIGTERM:
	case SIGINT:  got_term = 1; break;
	case SIGUSR1: got_usr1 = 1; break;
	case SIGCHLD: got_chld = 1; break;
	case SIGALRM: got_alrm = 1; break;
	}
}

static int
cpu_count(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n > 0 ? (int)n : 1;
}

/* FNV-1a of h and the bytes of file (none when it cannot be read). */
static uint64_t
hash_file(uint64_t h, const char *file)
{
	struct buf b = { 0 };
	size_t j;

	if (buf_read_file(&b, file) == 0)
		for (j = 0; j < b.len; j++)
			h = (h ^ (unsigned char)b.data[j]) * 1099511628211ULL;
	buf_release(&b);
	return h;
}

/*
 * Over every config file and the TLS certificate and key: tells whether
 * workers must be replaced (a renewed certificate is served by new ones).
 */
static uint64_t
hash_files(const struct config *c)
{
	uint64_t h = 1469598103934665603ULL;
	size_t i;

	for (i = 0; i < c->nfiles; i++)
		h = hash_file(h, c->files[i]);
	if (c->tollgate.tls_cert_file != NULL) {
		h = hash_file(h, c->tollgate.tls_cert_file);
		h = hash_file(h, c->tollgate.tls_key_file);
	}
	return h;
}

/* One warning line per line of text (config and price-map findings). */
static void
warn_lines(const char *text)
{
	while (text != NULL && *text) {
		size_t n = strcspn(text, "\n");

		if (n)
			log_warn("%.*s", (int)n, text);
		text += n + (text[n] == '\n');
	}
}

int
master_load(const struct options *o, struct config **cp, struct routes **rp,
    struct price_table **tp, SSL_CTX **tls, char *err, size_t errlen)
{
	struct config *c = NULL;
	struct routes *r = NULL;
	struct pricemap_builder *b = NULL;
	char *w;
	size_t i;

	*cp = NULL;
	*rp = NULL;
	*tp = NULL;
	*tls = NULL;
	if (config_load(o->config_path, &c, err, errlen) < 0)
		return -1;
	warn_lines(c->warnings);
	if (o->ledger_dir) {
		free(c->tollgate.ledger_path);
		c->tollgate.ledger_path = strdup(o->ledger_dir);
	}
	if (o->run_dir) {
		free(c->tollgate.run_dir);
		c->tollgate.run_dir = strdup(o->run_dir);
	}
	if (o->ui_dir) {
		free(c->tollgate.ui_dir);
		c->tollgate.ui_dir = strdup(o->ui_dir);
	}
	if (routes_build(c, &r, err, errlen) < 0)
		goto fail;
	warn_lines(r->warnings);
	if (o->strict && (c->warnings != NULL || r->warnings != NULL)) {
		snprintf(err, errlen, "'%s' has warnings (above), and --strict makes them errors",
		    o->config_path);
		goto fail;
	}
	if (c->tollgate.tls_cert_file != NULL &&
	    (*tls = tls_server_new(&c->tollgate, err, errlen)) == NULL)
		goto fail;
	if ((b = pricemap_builder_new()) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	for (i = 0; i < c->tollgate.nprice_files; i++)
		if (pricemap_load_file(b, c->tollgate.price_files[i], err, errlen) < 0) {
			if (!c->tollgate.price_files_named &&
			    access(c->tollgate.price_files[i], F_OK) < 0)
				pricefile_missing(err, errlen, "tollgate.price_files: [FILE] in the config");
			goto fail;
		}
	if (routes_add_prices(r, b) < 0 || (*tp = pricemap_compile(b)) == NULL) {
		snprintf(err, errlen, "out of memory compiling prices");
		goto fail;
	}
	warn_lines(pricemap_warnings(b));
	if ((w = routes_price_warnings(r, *tp)) != NULL) {
		warn_lines(w);
		free(w);
	}
	routes_use_modes(r, *tp);
	log_info("%zu models, %zu deployments (%zu left out), %zu priced models from %zu price file%s",
	    r->nmodels, r->ndeps, r->nleft_out, pricemap_count(b), c->tollgate.nprice_files,
	    c->tollgate.nprice_files == 1 ? "" : "s");
	pricemap_builder_free(b);
	*cp = c;
	*rp = r;
	return 0;
fail:
	SSL_CTX_free(*tls);
	*tls = NULL;
	free(*tp);
	*tp = NULL;
	pricemap_builder_free(b);
	routes_free(r);
	config_free(c);
	return -1;
}

/* A listening socket on host:portnum (what: the setting, for messages); the fd, or -1. */
static int
bind_address(const char *host, int portnum, const char *what, char *err, size_t errlen)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
		.ai_flags = AI_PASSIVE | AI_NUMERICSERV }, *res, *ai;
	char port[16];
	int fd = -1, one = 1, rc;

	snprintf(port, sizeof(port), "%d", portnum);
	if ((rc = getaddrinfo(host, port, &hints, &res)) != 0) {
		snprintf(err, errlen, "cannot resolve %s address '%s': %s", what, host,
		    gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		if ((fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0)
			continue;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 1024) == 0)
			break;
		close(fd);
		fd = -1;
	}
	if (fd < 0)
		snprintf(err, errlen, "cannot listen on %s:%s (%s): %s", host, port, what,
		    strerror(errno));
	freeaddrinfo(res);
	return fd;
}

static int
bind_listener(const struct config *c, char *err, size_t errlen)
{
	return bind_address(c->tollgate.listen, c->tollgate.port, "listen", err, errlen);
}

/* The port fd is bound to: tollgate.port 0 takes any free one, and the log says which. */
static int
bound_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return -1;
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

/* The address of tollgate.metrics_listen: a port alone is on listen's address. */
static const char *
metrics_host(const struct config *c)
{
	return c->tollgate.metrics_listen ? c->tollgate.metrics_listen : c->tollgate.listen;
}

/* tollgate.metrics_listen's socket, shared by the workers like the main one; -1: none. */
static int
bind_metrics(const struct config *c, char *err, size_t errlen)
{
	if (c->tollgate.metrics_port == 0)
		return -1;
	return bind_address(metrics_host(c), c->tollgate.metrics_port, "metrics_listen", err,
	    errlen);
}

/*
 * Holds run_dir/tollgate.lock for the master's life.  A second gateway on
 * the same run directory would put its price table in the first's shared
 * header and replace its status and budget files (and the first's clean stop
 * would unlink the second's): it is refused.  flock(): the kernel lets go when
 * the master dies, and children close their copy at fork, so that a master
 * started while a killed one's workers still drain is not refused.
 */
static int
lock_run_dir(const char *run_dir, char *err, size_t errlen)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/tollgate.lock", run_dir);
	/* the first thing made in it: shm_create() would make it too, after the lock */
	if (mkdir(run_dir, 0750) < 0 && errno != EEXIST) {
		log_into(err, errlen, "cannot create run directory '%s': %s", run_dir, strerror(errno));
		return -1;
	}
	if ((run_lock = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0640)) < 0) {
		log_into(err, errlen, "cannot open '%s': %s", path, strerror(errno));
		return -1;
	}
	if (flock(run_lock, LOCK_EX | LOCK_NB) < 0) {
		if (errno == EWOULDBLOCK)
			log_into(err, errlen, "another tollgated runs with run_dir '%s' (it holds '%s'): "
			    "give each gateway its own run_dir", run_dir, path);
		else
			log_into(err, errlen, "cannot lock '%s': %s", path, strerror(errno));
		close(run_lock);
		run_lock = -1;
		return -1;
	}
	return 0;
}

static void
set_heritage(struct config *c, struct routes *r, int fd, SSL_CTX *tls, int metrics_fd)
{
	heritage.listen_fd = fd;
	heritage.tls = tls;
	heritage.metrics_fd = metrics_fd;
	heritage.config = c;
	heritage.routes = r;
	snprintf(heritage.run_dir, sizeof(heritage.run_dir), "%s", c->tollgate.run_dir);
	snprintf(heritage.ledger_dir, sizeof(heritage.ledger_dir), "%s", c->tollgate.ledger_path);
	heritage.config_generation = generation;
}

static struct child *
free_slot(void)
{
	int i;

	for (i = 0; i < MAX_CHILDREN; i++)
		if (children[i].pid == 0 && children[i].respawn_at == 0)
			return &children[i];
	return NULL;
}

static int
spawn(struct child *ch)
{
	char name[16];
	sigset_t none;
	pid_t pid;

	status_child_begin(heritage.status, (size_t)(ch - children),
	    ch->role == ROLE_WORKER ? STATUS_WORKER : ch->role == ROLE_ACCOUNTANT ?
	    STATUS_ACCOUNTANT : STATUS_SHIPPER, ch->index, ch->generation);
	pid = fork();
	if (pid < 0) {
		log_error("cannot fork a %s: %s", roles[ch->role].name, strerror(errno));
		status_child_gone(heritage.status, (size_t)(ch - children));
		return -1;
	}
	if (pid == 0) {
		/* the child: default signal dispositions, nothing blocked */
		heritage.slot = (uint32_t)(ch - children);
		if (run_lock >= 0)
			close(run_lock);	/* the run directory is the master's to hold */
		signal(SIGCHLD, SIG_DFL);
		signal(SIGALRM, SIG_DFL);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		heritage.index = ch->index;
		/* ps and tests tell the roles apart by name: "tg-worker", "tg-accountant" */
		snprintf(name, sizeof(name), "tg-%s", roles[ch->role].name);
		prctl(PR_SET_NAME, name, 0, 0, 0);
		/* a master killed outright takes its children down too, gracefully */
		prctl(PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0);
		if (getppid() != heritage.master_pid)
			_exit(0);
		_exit(roles[ch->role].entry());
	}
	ch->pid = pid;
	status_child_pid(heritage.status, (size_t)(ch - children), pid);
	ch->started = time(NULL);
	ch->respawn_at = 0;
	return 0;
}

static void
start_role(enum role role, uint32_t index)
{
	struct child *ch = free_slot();

	if (ch == NULL) {
		log_error("too many children");
		return;
	}
	memset(ch, 0, sizeof(*ch));
	ch->role = role;
	ch->index = index;
	ch->generation = generation;
	spawn(ch);
}

static void
start_workers(const struct config *c)
{
	int n = c->tollgate.workers > 0 ? c->tollgate.workers : cpu_count(), i;

	for (i = 0; i < n; i++)
		start_role(ROLE_WORKER, (uint32_t)i);
}

static int
count_alive(enum role role, int retiring_only)
{
	int i, n = 0;

	for (i = 0; i < MAX_CHILDREN; i++)
		if (children[i].pid > 0 && children[i].role == role &&
		    (!retiring_only || children[i].retiring))
			n++;
	return n;
}

static void
signal_children(int sig, int role_filter)
{
	int i;

	for (i = 0; i < MAX_CHILDREN; i++)
		if (children[i].pid > 0 && (role_filter < 0 || (int)children[i].role == role_filter))
			kill(children[i].pid, sig);
}

/* Reaps dead children; those still wanted are respawned, quickly failing ones with back-off. */
static void
reap(int shutting_down)
{
	int status, i;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
		for (i = 0; i < MAX_CHILDREN; i++) {
			struct child *ch = &children[i];
			int delay;

			if (ch->pid != pid)
				continue;
			ch->pid = 0;
			status_child_gone(heritage.status, (size_t)i);
			if (ch->retiring || shutting_down ||
			    (ch->role == ROLE_WORKER && ch->generation != generation)) {
				ch->respawn_at = 0;
				break;
			}
			if (ch->role == ROLE_ACCOUNTANT && WIFEXITED(status) &&
			    WEXITSTATUS(status) == ACCOUNTANT_EXIT_BEHIND) {
				/* it asked for it: see pace() in accountant.c */
				ch->respawn_at = time(NULL);
				break;
			}
			if (heritage.metrics != NULL && ch->role != ROLE_SHIPPER)
				metrics_add(ch->role == ROLE_WORKER ? &heritage.metrics->worker_restarts :
				    &heritage.metrics->accountant_restarts, 1);
			ch->failures = time(NULL) - ch->started < 5 ? ch->failures + 1 : 0;
			delay = ch->failures == 0 ? 0 : 1 << (ch->failures < 5 ? ch->failures : 5);
			if (WIFSIGNALED(status))
				log_error("%s %u (pid %ld) killed by signal %d; respawning in %d s",
				    roles[ch->role].name, ch->index, (long)pid, WTERMSIG(status), delay);
			else
				log_error("%s %u (pid %ld) exited with status %d; respawning in %d s",
				    roles[ch->role].name, ch->index, (long)pid, WEXITSTATUS(status), delay);
			ch->respawn_at = time(NULL) + delay;
			break;
		}
}

static void
respawn_due(void)
{
	time_t now = time(NULL);
	int i, pending = 0;

	for (i = 0; i < MAX_CHILDREN; i++) {
		struct child *ch = &children[i];

		if (ch->pid != 0 || ch->respawn_at == 0)
			continue;
		if (ch->respawn_at <= now)
			spawn(ch);
		else
			pending = 1;
	}
	if (pending)
		alarm(1);
}

/*
 * The accountant takes a new config (budgets, alerts, exports, retention) by
 * being replaced: the old one finishes its work and exits (SIGKILL after
 * 10 s), then one of the new generation starts.  One at a time, so that an
 * alert or a delivery is never made by two.  The shipper likewise (a new
 * DSN, or none: then none starts).
 */
static void
restart_role(enum role role, int wanted)
{
	struct timespec ts = { 0, 50 * 1000 * 1000 };
	int64_t waited;
	int i;

	for (i = 0; i < MAX_CHILDREN; i++) {
		if (children[i].role == role && children[i].pid == 0)
			children[i].respawn_at = 0;	/* one waiting to be respawned: not any more */
		if (children[i].pid > 0 && children[i].role == role) {
			children[i].retiring = 1;
			status_set_state(&heritage.status->slot[i], STATUS_DRAINING);
			kill(children[i].pid, SIGTERM);
		}
	}
	for (waited = 0; count_alive(role, 0) > 0 && waited < 10000; waited += 50) {
		nanosleep(&ts, NULL);
		reap(0);
	}
	if (count_alive(role, 0) > 0) {
		log_error("the %s did not stop within 10 s: killing it", roles[role].name);
		signal_children(SIGKILL, (int)role);
		while (count_alive(role, 0) > 0) {
			nanosleep(&ts, NULL);
			reap(0);
		}
	}
	if (wanted)
		start_role(role, 0);
}

/* For /metrics and tollctl status: when the price table in use was made, and how long that took. */
static void
prices_loaded(int64_t started_ns)
{
	int64_t now = clock_now_ns();
	struct shm_header h;
	struct timespec wall;

	shm_read_header(shm, &h);
	status_set_prices(heritage.status, h.generation, h.published_ns,
	    (uint64_t)(now > started_ns ? (now - started_ns) / 1000 : 0));
	if (heritage.metrics == NULL)
		return;
	clock_gettime(CLOCK_REALTIME, &wall);
	__atomic_store_n(&heritage.metrics->prices_loaded_unix_ns,
	    (uint64_t)wall.tv_sec * 1000000000 + (uint64_t)wall.tv_nsec, __ATOMIC_RELAXED);
	__atomic_store_n(&heritage.metrics->prices_load_us,
	    (uint64_t)(now > started_ns ? (now - started_ns) / 1000 : 0), __ATOMIC_RELAXED);
}

static void
reload(const struct options *o)
{
	struct config *c, *old = heritage.config;
	struct routes *r, *oldr = heritage.routes;
	struct price_table *t;
	SSL_CTX *tls, *oldtls = heritage.tls;
	char err[1024];
	uint64_t h, gen;
	int fd = heritage.listen_fd, mfd = heritage.metrics_fd, i;

	int64_t load_started = clock_now_ns();

	log_info("reloading '%s'", o->config_path);
	if (master_load(o, &c, &r, &t, &tls, err, sizeof(err)) < 0) {
		log_error("reload failed, keeping generation %llu: %s",
		    (unsigned long long)generation, err);
		return;
	}
	if ((gen = shm_publish_prices(shm, t, err, sizeof(err))) == 0) {
		log_error("reload failed, keeping generation %llu: %s",
		    (unsigned long long)generation, err);
		free(t);
		SSL_CTX_free(tls);
		routes_free(r);
		config_free(c);
		return;
	}
	free(t);
	prices_loaded(load_started);
	log_info("price table generation %llu published", (unsigned long long)gen);
	h = hash_files(c);
	if (h == config_hash) {
		/* prices only: the workers pick the new table up on their next request */
		SSL_CTX_free(tls);
		routes_free(r);
		config_free(c);
		return;
	}
	if ((c->tollgate.user == NULL) != (old->tollgate.user == NULL) ||
	    (c->tollgate.user != NULL && strcmp(c->tollgate.user, old->tollgate.user) != 0))
		log_warn("reload: a change of tollgate.user takes effect at the next start");
	if (strcmp(c->tollgate.listen, old->tollgate.listen) != 0 ||
	    c->tollgate.port != old->tollgate.port) {
		if ((fd = bind_listener(c, err, sizeof(err))) < 0) {
			log_error("reload: %s; keeping the old listener", err);
			fd = heritage.listen_fd;
		}
	}
	if (c->tollgate.metrics_port != old->tollgate.metrics_port ||
	    strcmp(metrics_host(c), metrics_host(old)) != 0) {
		if ((mfd = bind_metrics(c, err, sizeof(err))) < 0 && c->tollgate.metrics_port != 0) {
			log_error("reload: %s; keeping the old metrics listener", err);
			mfd = heritage.metrics_fd;
		}
	}
	/* a new generation of workers; the old ones drain and exit */
	for (i = 0; i < MAX_CHILDREN; i++)
		if (children[i].pid > 0 && children[i].role == ROLE_WORKER) {
			children[i].retiring = 1;
			status_set_state(&heritage.status->slot[i], STATUS_DRAINING);
			kill(children[i].pid, SIGTERM);
		}
	if (window_set_timezone(c->tollgate.budget_timezone, err, sizeof(err)) < 0 ||
	    counters_rebuild(c, 1, err, sizeof(err)) < 0)
		log_error("reload: budgets added by the new config count from now: %s", err);
	generation++;
	config_hash = h;
	status_set_generation(heritage.status, generation, c->tollgate.budget_timezone);
	router_assign(heritage.status->dep, r, generation);	/* before the workers see r */
	if (fd != heritage.listen_fd)
		close(heritage.listen_fd);
	if (mfd != heritage.metrics_fd && heritage.metrics_fd >= 0)
		close(heritage.metrics_fd);
	set_heritage(c, r, fd, tls, mfd);
	start_workers(c);
	restart_role(ROLE_ACCOUNTANT, 1);
	restart_role(ROLE_SHIPPER, c->tollgate.postgres_dsn != NULL);
	SSL_CTX_free(oldtls);
	routes_free(oldr);
	config_free(old);
	log_info("configuration generation %llu running", (unsigned long long)generation);
}

/*
 * Tells systemd (Type=notify) how the service is doing: "READY=1",
 * "RELOADING=1", "STOPPING=1".  The protocol is one datagram to the socket
 * named in $NOTIFY_SOCKET ('@': the abstract namespace); outside systemd
 * there is none and this does nothing.
 */
static void
notify_systemd(const char *state)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timespec now;
	char msg[128];
	size_t len;
	int fd, n;

	if (path == NULL || (path[0] != '/' && path[0] != '@') ||
	    (len = strlen(path)) >= sizeof(sa.sun_path))
		return;
	memcpy(sa.sun_path, path, len);
	if (sa.sun_path[0] == '@')
		sa.sun_path[0] = '\0';
	clock_gettime(CLOCK_MONOTONIC, &now);
	/* a reload's start carries the time, which systemd 253 and later ask for */
	n = snprintf(msg, sizeof(msg), "%s\nMONOTONIC_USEC=%llu\n", state,
	    (unsigned long long)now.tv_sec * 1000000 + (unsigned long long)now.tv_nsec / 1000);
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
		return;
	if (sendto(fd, msg, (size_t)n, MSG_NOSIGNAL, (struct sockaddr *)&sa,
	    (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len)) < 0)
		log_warn("cannot notify systemd at '%s': %s", path, strerror(errno));
	close(fd);
}

/*
 * dir, made if missing (with its parents) and then given to pw: a directory
 * that already exists is left as it is, so a misconfigured run_dir of /tmp,
 * say, never changes hands.  0, or -1 with err.
 */
static int
own_dir(const char *dir, const struct passwd *pw, const char *what, char *err, size_t errlen)
{
	char path[PATH_MAX], *p;
	struct stat st;

	if (stat(dir, &st) == 0)
		return 0;
	if (strlen(dir) >= sizeof(path)) {
		snprintf(err, errlen, "%s '%s': %s", what, dir, strerror(ENAMETOOLONG));
		return -1;
	}
	strcpy(path, dir);
	for (p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0755) < 0 && errno != EEXIST)
			goto fail;
		*p = '/';
	}
	if ((mkdir(path, 0750) < 0 && errno != EEXIST) || chown(path, pw->pw_uid, pw->pw_gid) < 0)
		goto fail;
	return 0;
fail:
	snprintf(err, errlen, "cannot make %s '%s': %s", what, path, strerror(errno));
	return -1;
}

/* The account packages make, taken when started as root and tollgate.user is unset. */
#define TOLLGATE_USER	"tollgate"

/*
 * Started as root, the master gives up root once the listener is bound
 * (ports below 1024 need it), before it opens anything else: the log, the
 * shared memory, the ledger, and every child, are the user's.  0, or -1.
 */
static int
drop_privileges(const struct config *c, char *err, size_t errlen)
{
	const char *name = c->tollgate.user ? c->tollgate.user : TOLLGATE_USER;
	struct passwd *pw;

	if (geteuid() != 0)
		return 0;
	errno = 0;
	if ((pw = getpwnam(name)) == NULL && c->tollgate.user == NULL) {
		log_warn("running as root: there is no user '%s' and tollgate.user names none",
		    TOLLGATE_USER);
		return 0;
	}
	if (pw == NULL) {
		snprintf(err, errlen, "tollgate.user: no such user '%s'%s%s", name,
		    errno ? ": " : "", errno ? strerror(errno) : "");
		return -1;
	}
	if (pw->pw_uid == 0)
		return 0;
	if (own_dir(c->tollgate.run_dir, pw, "run_dir", err, errlen) < 0 ||
	    own_dir(c->tollgate.ledger_path, pw, "ledger_path", err, errlen) < 0)
		return -1;
	if (initgroups(pw->pw_name, pw->pw_gid) < 0 || setgid(pw->pw_gid) < 0 ||
	    setuid(pw->pw_uid) < 0) {
		snprintf(err, errlen, "cannot become user '%s': %s", name, strerror(errno));
		return -1;
	}
	if (setuid(0) == 0 || geteuid() == 0) {
		snprintf(err, errlen, "user '%s': root could be taken back; refusing to run", name);
		return -1;
	}
	/* a process that was root is not dumpable after setuid(): let workers' cores be */
	prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
	log_info("running as user '%s' (uid %ld)", name, (long)pw->pw_uid);
	return 0;
}

static void
shutdown_all(void)
{
	int64_t ms = heritage.config->tollgate.shutdown_timeout_ms + 2000;
	struct timespec ts = { 0, 50 * 1000 * 1000 };
	int64_t waited = 0;

	log_info("stopping: draining workers (up to %lld ms)", (long long)ms);
	signal_children(SIGTERM, ROLE_WORKER);
	while (count_alive(ROLE_WORKER, 0) > 0 && waited < ms) {
		nanosleep(&ts, NULL);
		waited += 50;
		reap(1);
	}
	if (count_alive(ROLE_WORKER, 0) > 0) {
		log_error("workers still running after the shutdown timeout: killing them");
		signal_children(SIGKILL, ROLE_WORKER);
	}
	/* the accountant last, so that its final sync covers every record */
	signal_children(SIGTERM, ROLE_ACCOUNTANT);
	signal_children(SIGTERM, ROLE_SHIPPER);
	for (waited = 0; (count_alive(ROLE_ACCOUNTANT, 0) > 0 || count_alive(ROLE_SHIPPER, 0) > 0) &&
	    waited < 10000; waited += 50) {
		nanosleep(&ts, NULL);
		reap(1);
	}
	signal_children(SIGKILL, -1);
	reap(1);
	log_info("stopped");
}

int
master_main(const struct options *o)
{
	struct config *c;
	struct routes *r;
	struct price_table *t;
	struct sigaction sa;
	SSL_CTX *tls;
	sigset_t block, old;
	char err[1024], budgets[2048];
	int64_t load_started = clock_now_ns();
	int fd, mfd = -1;

	log_set_prefix("master");
	if (master_load(o, &c, &r, &t, &tls, err, sizeof(err)) < 0)
		fatal("%s", err);
	/* both listeners before giving up root: either may be on a port below 1024 */
	if ((fd = bind_listener(c, err, sizeof(err))) < 0 ||
	    (c->tollgate.metrics_port != 0 && (mfd = bind_metrics(c, err, sizeof(err))) < 0) ||
	    drop_privileges(c, err, sizeof(err)) < 0)
		fatal("%s", err);
	if (c->tollgate.log_file != NULL && log_open(c->tollgate.log_file) < 0)
		fatal("cannot open log file '%s': %s", c->tollgate.log_file, strerror(errno));
	if (lock_run_dir(c->tollgate.run_dir, err, sizeof(err)) < 0 ||
	    shm_create(c->tollgate.run_dir, &shm, err, sizeof(err)) < 0)
		fatal("%s", err);
	if (shm_publish_prices(shm, t, err, sizeof(err)) == 0)
		fatal("%s", err);
	free(t);
	if (!o->foreground && daemon(1, c->tollgate.log_file != NULL) < 0)
		fatal("cannot become a daemon: %s", strerror(errno));
	curl_global_init(CURL_GLOBAL_DEFAULT);
	config_hash = hash_files(c);
	heritage.config_path = o->config_path;
	heritage.master_pid = getpid();
	shm_set_master_pid(shm, (uint64_t)heritage.master_pid);	/* after daemon() */
	set_heritage(c, r, fd, tls, mfd);
	/* after daemon(): the files name the pid that stays */
	if ((heritage.status = status_create(c->tollgate.run_dir, err, sizeof(err))) == NULL)
		fatal("%s", err);
	status_set_generation(heritage.status, generation, c->tollgate.budget_timezone);
	router_assign(heritage.status->dep, r, generation);
	snprintf(budgets, sizeof(budgets), "%s/%s", c->tollgate.run_dir, BUDGET_FILE);
	if (window_set_timezone(c->tollgate.budget_timezone, err, sizeof(err)) < 0 ||
	    budget_shm_create(0, budgets, &heritage.budgets, err, sizeof(err)) < 0)
		fatal("%s", err);
	if ((heritage.metrics = metrics_create()) == NULL)
		log_warn("cannot map the /metrics counters: %s (live metrics are off)", strerror(errno));
	prices_loaded(load_started);
	if (counters_rebuild(c, 0, err, sizeof(err)) < 0)
		fatal("cannot count the budgets' spend: %s", err);

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGCHLD, &sa, NULL);
	sigaction(SIGALRM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&block);
	sigaddset(&block, SIGHUP);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGUSR1);
	sigaddset(&block, SIGCHLD);
	sigaddset(&block, SIGALRM);
	sigprocmask(SIG_BLOCK, &block, &old);

	start_role(ROLE_ACCOUNTANT, 0);
	if (c->tollgate.postgres_dsn != NULL)
		start_role(ROLE_SHIPPER, 0);
	start_workers(c);
	log_info("listening on %s:%d%s, %d worker%s (pid %ld)", c->tollgate.listen,
	    bound_port(fd), tls != NULL ? " (TLS)" : "", count_alive(ROLE_WORKER, 0),
	    count_alive(ROLE_WORKER, 0) == 1 ? "" : "s", (long)getpid());
	if (mfd >= 0)
		log_info("/metrics and /health on %s:%d", metrics_host(c), c->tollgate.metrics_port);
	notify_systemd("READY=1");

	for (;;) {
		sigset_t wait = old;

		sigdelset(&wait, SIGHUP);
		sigdelset(&wait, SIGTERM);
		sigdelset(&wait, SIGINT);
		sigdelset(&wait, SIGUSR1);
		sigdelset(&wait, SIGCHLD);
		sigdelset(&wait, SIGALRM);
		if (!(got_hup || got_term || got_usr1 || got_chld || got_alrm))
			sigsuspend(&wait);
		if (got_term)
			break;
		if (got_chld) {
			got_chld = 0;
			reap(0);
			respawn_due();
		}
		if (got_alrm) {
			got_alrm = 0;
			respawn_due();
		}
		if (got_usr1) {
			got_usr1 = 0;
			log_reopen();
			signal_children(SIGUSR1, -1);
		}
		if (got_hup) {
			got_hup = 0;
			notify_systemd("RELOADING=1");
			reload(o);
			notify_systemd("READY=1");
		}
	}
	notify_systemd("STOPPING=1");
	shutdown_all();
	/* stopped cleanly: tollctl status says so, rather than showing the last state */
	status_remove(heritage.status, heritage.run_dir);
	heritage.budgets->ops->close(heritage.budgets);
	shm_detach(shm);
	return 0;
}
