/*
 * The shared-memory budget store (see budget.h): one shared mapping made by
 * the master before fork (of run_dir/tollgate.budgets, so tollctl can read
 * it; anonymous in tests), an open-addressing table of counters under one
 * process-shared robust mutex.  The lock is held for a
 * few hundred nanoseconds per request (a probe and two additions per
 * counter), so one lock for all counters costs less than finer ones would;
 * robust, so that a worker killed while holding it does not wedge the others.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "budget.h"
#include "log.h"

#define BUDGET_MAGIC		0x62756467u	/* "budg" */
#define BUDGET_VERSION		1u	/* of the layout below, which tollctl reads */
#define BUDGET_SLOTS_DEFAULT	65536

struct slot {
	uint64_t	hash;		/* 0: empty */
	char		id[BUDGET_ID_MAX];
	int		has_window;
	struct window	window;		/* as last admitted: a changed duration starts anew */
	int64_t		window_start, window_end;
	int64_t		spent, reserved;
	int64_t		max;		/* the limit last admitted against, for tollctl */
};

struct table {
	uint32_t	magic;
	uint32_t	version;
	uint64_t	size;		/* of the whole mapping */
	int64_t		owner;		/* the pid that made it */
	uint32_t	nslots;
	uint32_t	used;
	pthread_mutex_t	lock;
	struct slot	slots[];
};

struct shm_store {
	struct budget_store	 base;
	struct table		*t;
	size_t			 size;
	char			*path;	/* the file, unlinked by its maker's close; or NULL */
};

static uint64_t
hash_id(const char *id)
{
	uint64_t h = 14695981039346656037ULL;	/* FNV-1a */

	for (; *id; id++)
		h = (h ^ (unsigned char)*id) * 1099511628211ULL;
	return h | 1;
}

static void
lock(struct table *t)
{
	/* the owner died inside: the counters are whole (updates are single stores) */
	if (pthread_mutex_lock(&t->lock) == EOWNERDEAD)
		pthread_mutex_consistent(&t->lock);
}

static void
unlock(struct table *t)
{
	pthread_mutex_unlock(&t->lock);
}

/* The slot named id, made when create is set; NULL when absent or the table is full. */
static struct slot *
find(struct table *t, const char *id, int create)
{
	uint64_t h = hash_id(id);
	uint32_t i = (uint32_t)(h % t->nslots), probes;

	for (probes = 0; probes < t->nslots; probes++, i = (i + 1) % t->nslots) {
		struct slot *s = &t->slots[i];

		if (s->hash == 0) {
			/* keep a tenth free: probes stay short */
			if (!create || t->used >= t->nslots - t->nslots / 10)
				return NULL;
			s->hash = h;
			strncpy(s->id, id, sizeof(s->id) - 1);
			s->window_start = s->window_end = INT64_MIN;	/* rolled on first use */
			s->max = BUDGET_NONE;
			t->used++;
			return s;
		}
		if (s->hash == h && strncmp(s->id, id, sizeof(s->id) - 1) == 0)
			return s;
	}
	return NULL;
}

static int
same_window(const struct slot *s, const struct budget_limit *l)
{
	return s->has_window == l->has_window && (!l->has_window ||
	    (s->window.unit == l->window.unit && s->window.n == l->window.n));
}

/*
 * Starts the window holding now when the slot's has ended; takes l's duration
 * if given (a changed duration starts counting anew).  Reservations carry
 * over: the requests that hold them are in flight and settle in the window
 * they end in.
 */
static void
roll(struct slot *s, const struct budget_limit *l, int64_t now)
{
	int64_t start, end;
	int fresh = 0;

	if (l != NULL && !same_window(s, l)) {
		s->has_window = l->has_window;
		s->window = l->window;
		s->window_start = s->window_end = INT64_MIN;
		s->spent = 0;
		fresh = 1;
	}
	if (now >= s->window_start && now < s->window_end)
		return;
	if (s->has_window)
		window_bounds(&s->window, now, &start, &end);
	else {
		start = INT64_MIN;
		end = INT64_MAX;
	}
	if (!fresh && start < s->window_start)
		return;		/* the clock stepped back: keep counting where it was */
	if (start != s->window_start)
		s->spent = 0;
	s->window_start = start;
	s->window_end = end;
}

/* a + b, held at the ends of int64_t rather than wrapping */
static int64_t
sat_add(int64_t a, int64_t b)
{
	int64_t r;

	if (__builtin_add_overflow(a, b, &r))
		return b > 0 ? INT64_MAX : INT64_MIN;
	return r;
}

static int
shm_admit(struct budget_store *bs, const struct budget_limit *limits, const int64_t *amount,
    size_t n, int64_t now, struct budget_hold *hold, struct budget_refusal *why)
{
	struct table *t = ((struct shm_store *)bs)->t;
	struct slot *s[BUDGET_HOLD_MAX];
	int64_t used, want;
	size_t i, j;

	if (n > BUDGET_HOLD_MAX)
		return -1;
	lock(t);
	for (i = 0; i < n; i++) {
		if ((s[i] = find(t, limits[i].id, 1)) == NULL) {
			unlock(t);
			return -1;
		}
		roll(s[i], &limits[i], now);
		/* an amount past int64_t (a client's absurd max_tokens) is over any limit */
		if (limits[i].max != BUDGET_NONE &&
		    (__builtin_add_overflow(s[i]->spent, s[i]->reserved, &used) ||
		    __builtin_add_overflow(used, amount[i], &want) || want > limits[i].max)) {
			why->index = i;
			why->used = sat_add(s[i]->spent, s[i]->reserved);
			why->max = limits[i].max;
			why->window_end = s[i]->window_end;
			unlock(t);
			return 1;
		}
	}
	/* a counter named twice is checked once per name: its sum must fit too */
	for (i = 0; i < n; i++)
		for (j = i + 1; j < n; j++)
			if (s[i] == s[j] && limits[i].max != BUDGET_NONE &&
			    sat_add(sat_add(sat_add(s[i]->spent, s[i]->reserved), amount[i]),
			    amount[j]) > limits[i].max) {
				why->index = i;
				why->used = sat_add(s[i]->spent, s[i]->reserved);
				why->max = limits[i].max;
				why->window_end = s[i]->window_end;
				unlock(t);
				return 1;
			}
	hold->n = n;
	for (i = 0; i < n; i++) {
		s[i]->max = limits[i].max;
		s[i]->reserved = sat_add(s[i]->reserved, amount[i]);
		hold->slot[i] = (uint32_t)(s[i] - t->slots);
		hold->amount[i] = amount[i];
	}
	unlock(t);
	return 0;
}

static void
shm_settle(struct budget_store *bs, const struct budget_hold *hold, const int64_t *actual,
    int64_t now)
{
	struct table *t = ((struct shm_store *)bs)->t;
	size_t i;

	lock(t);
	for (i = 0; i < hold->n; i++) {
		struct slot *s = &t->slots[hold->slot[i] % t->nslots];

		s->reserved = sat_add(s->reserved, -hold->amount[i]);
		roll(s, NULL, now);
		s->spent = sat_add(s->spent, actual[i]);
	}
	unlock(t);
}

static int
shm_add(struct budget_store *bs, const struct budget_limit *l, int64_t amount, int64_t at,
    int64_t now)
{
	struct table *t = ((struct shm_store *)bs)->t;
	struct slot *s;

	lock(t);
	if ((s = find(t, l->id, 1)) != NULL) {
		roll(s, l, now);
		s->max = l->max;
		if (at >= s->window_start && at < s->window_end)
			s->spent = sat_add(s->spent, amount);
	}
	unlock(t);
	return s != NULL ? 0 : -1;
}

static int
shm_read(struct budget_store *bs, const char *id, int64_t now, struct budget_reading *out)
{
	struct table *t = ((struct shm_store *)bs)->t;
	struct slot *s;

	lock(t);
	if ((s = find(t, id, 0)) != NULL) {
		roll(s, NULL, now);
		out->spent = s->spent;
		out->reserved = s->reserved;
		out->window_start = s->window_start;
		out->window_end = s->window_end;
	}
	unlock(t);
	return s != NULL ? 0 : 1;
}

static void
shm_close(struct budget_store *bs)
{
	struct shm_store *st = (struct shm_store *)bs;

	if (st == NULL)
		return;
	if (st->path != NULL && st->t->owner == (int64_t)getpid())
		unlink(st->path);
	munmap(st->t, st->size);
	free(st->path);
	free(st);
}

static const struct budget_store_ops shm_ops = {
	shm_admit, shm_settle, shm_add, shm_read, shm_close,
};

/* A fresh file of size bytes, mapped; MAP_FAILED with err. */
static void *
map_new_file(const char *path, size_t size, char *err, size_t errlen)
{
	void *p;
	int fd;

	/* a new inode: an earlier gateway's counters are gone, whoever still maps them */
	if (unlink(path) < 0 && errno != ENOENT) {
		log_into(err, errlen, "cannot remove '%s': %s", path, strerror(errno));
		return MAP_FAILED;
	}
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
	if (fd < 0 || fchmod(fd, 0640) < 0 || ftruncate(fd, (off_t)size) < 0) {
		log_into(err, errlen, "cannot create '%s': %s", path, strerror(errno));
		if (fd >= 0) {
			close(fd);
			unlink(path);
		}
		return MAP_FAILED;
	}
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (p == MAP_FAILED) {
		log_into(err, errlen, "cannot map %zu bytes of '%s': %s", size, path, strerror(errno));
		unlink(path);
	}
	return p;
}

int
budget_shm_create(size_t nslots, const char *path, struct budget_store **out, char *err,
    size_t errlen)
{
	pthread_mutexattr_t a;
	struct shm_store *st;

	if (nslots == 0)
		nslots = BUDGET_SLOTS_DEFAULT;
	if ((st = calloc(1, sizeof(*st))) == NULL) {
		log_into(err, errlen, "cannot create the budget counters: out of memory");
		return -1;
	}
	st->base.ops = &shm_ops;
	st->size = sizeof(struct table) + nslots * sizeof(struct slot);
	if (path != NULL) {
		if ((st->path = strdup(path)) == NULL) {
			log_into(err, errlen, "cannot create the budget counters: out of memory");
			free(st);
			return -1;
		}
		st->t = map_new_file(path, st->size, err, errlen);
	} else {
		st->t = mmap(NULL, st->size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
		    -1, 0);
		if (st->t == MAP_FAILED)
			log_into(err, errlen, "cannot map %zu bytes of budget counters: %s", st->size,
			    strerror(errno));
	}
	if (st->t == MAP_FAILED) {
		free(st->path);
		free(st);
		return -1;
	}
	st->t->version = BUDGET_VERSION;
	st->t->size = st->size;
	st->t->owner = (int64_t)getpid();
	st->t->nslots = (uint32_t)nslots;
	pthread_mutexattr_init(&a);
	pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
	pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
	pthread_mutex_init(&st->t->lock, &a);
	pthread_mutexattr_destroy(&a);
	/* last, so a reader never takes a half-made table */
	__atomic_store_n(&st->t->magic, BUDGET_MAGIC, __ATOMIC_RELEASE);
	*out = &st->base;
	return 0;
}

/* ---- reading the file --------------------------------------------------------- */

struct budget_file {
	const struct table	*t;
	size_t			 size;
	uint32_t		 nslots;	/* as checked against size at open */
};

int
budget_file_open(const char *path, struct budget_file **out, int64_t *owner, char *err,
    size_t errlen)
{
	struct budget_file *f;
	struct table head;
	struct stat sb;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		log_into(err, errlen, "cannot open '%s': %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &sb) < 0 || pread(fd, &head, sizeof(head), 0) != (ssize_t)sizeof(head) ||
	    head.magic != BUDGET_MAGIC || head.version != BUDGET_VERSION ||
	    head.size != (uint64_t)sb.st_size ||
	    head.size != sizeof(struct table) + (uint64_t)head.nslots * sizeof(struct slot)) {
		log_into(err, errlen, "'%s' is not a budget store this tollctl can read "
		    "(layout version %u expected)", path, BUDGET_VERSION);
		close(fd);
		return -1;
	}
	if ((f = calloc(1, sizeof(*f))) == NULL) {
		log_into(err, errlen, "out of memory");
		close(fd);
		return -1;
	}
	f->size = (size_t)sb.st_size;
	f->nslots = head.nslots;
	f->t = mmap(NULL, f->size, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (f->t == MAP_FAILED) {
		log_into(err, errlen, "cannot map '%s': %s", path, strerror(errno));
		free(f);
		return -1;
	}
	*owner = head.owner;
	*out = f;
	return 0;
}

int
budget_file_each(const struct budget_file *f,
    int (*cb)(void *arg, const struct budget_counter *c), void *arg)
{
	struct budget_counter c;
	struct slot a, b;
	uint32_t i;
	int tries, rc;

	/* the count checked at open: the mapping's own may have changed since */
	for (i = 0; i < f->nslots; i++) {
		if (__atomic_load_n(&f->t->slots[i].hash, __ATOMIC_ACQUIRE) == 0)
			continue;
		/* the writers hold a lock this reader does not take: copy until two agree
		   (budget.h says what that does not catch) */
		for (tries = 0; tries < 100; tries++) {
			memcpy(&a, &f->t->slots[i], sizeof(a));
			__atomic_thread_fence(__ATOMIC_ACQUIRE);
			memcpy(&b, &f->t->slots[i], sizeof(b));
			if (memcmp(&a, &b, sizeof(a)) == 0)
				break;
		}
		/* a file is outside input: a slot this build cannot have written is passed over */
		if ((a.has_window != 0 && a.has_window != 1) || (a.has_window && !window_valid(&a.window)))
			continue;
		memset(&c, 0, sizeof(c));
		memcpy(c.id, a.id, sizeof(c.id));
		c.id[sizeof(c.id) - 1] = '\0';
		c.has_window = a.has_window;
		c.window = a.window;
		c.max = a.max;
		c.spent = a.spent;
		c.reserved = a.reserved;
		c.window_start = a.window_start;
		c.window_end = a.window_end;
		if ((rc = cb(arg, &c)) != 0)
			return rc;
	}
	return 0;
}

void
budget_file_close(struct budget_file *f)
{
	if (f == NULL)
		return;
	munmap((void *)f->t, f->size);
	free(f);
}
