/*
 * The live status file: made afresh (mode 0640, a new inode), what the
 * master and a child write reads back, a reader never sees a slot half
 * rewritten, and a reader refuses a missing file, one whose master is gone,
 * and one of another layout version.
 */
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "status.h"
#include "tap.h"

static char dir[] = "/tmp/t_status.XXXXXX";
static char path[256];

static void
test_roundtrip(void)
{
	const struct status *r;
	struct status *st;
	struct status_header h;
	struct status_slot s;
	enum status_problem why;
	struct stat sb;
	char err[512];

	st = status_create(dir, err, sizeof(err));
	if (!ok(st != NULL, "status_create: %s", st ? "made" : err))
		exit(1);
	ok(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0640 &&
	    (size_t)sb.st_size == sizeof(struct status), "the file is 0640 and of the layout's size");
	status_set_generation(st, 3, "Europe/Berlin");
	status_set_prices(st, 7, 1700000000000000000LL, 1234);
	status_child_begin(st, 5, STATUS_WORKER, 1, 3);
	ok(status_open(dir, &r, &why, err, sizeof(err)) == 0, "a reader opens it: %s", err);
	ok(status_read_slot(r, 5, &s) == 1, "a slot not forked yet reads as free");
	status_child_pid(st, 5, 4242);
	status_count(&st->slot[5].connections, 1);
	status_count(&st->slot[5].connections, 1);
	status_count(&st->slot[5].in_flight, 1);
	status_count(&st->slot[5].connections, -1);
	status_count(&st->slot[5].requests, 9);
	status_set_state(&st->slot[5], STATUS_DRAINING);
	status_read_header(r, &h);
	ok(h.generation == 3 && strcmp(h.timezone, "Europe/Berlin") == 0 &&
	    h.prices_generation == 7 && h.prices_ns == 1700000000000000000LL &&
	    h.prices_load_us == 1234 && h.master_pid == getpid(), "the header reads back");
	ok(status_read_slot(r, 5, &s) == 0 && s.role == STATUS_WORKER && s.index == 1 &&
	    s.pid == 4242 && s.generation == 3 && s.state == STATUS_DRAINING,
	    "the child's identity and state read back");
	ok(s.connections == 1 && s.in_flight == 1 && s.requests == 9, "and its counters");
	status_child_begin(st, 5, STATUS_ACCOUNTANT, 0, 4);
	status_child_pid(st, 5, 4243);
	status_read_slot(r, 5, &s);
	ok(s.role == STATUS_ACCOUNTANT && s.connections == 0 && s.requests == 0 &&
	    s.state == STATUS_SERVING, "a slot given to a new child starts from zero");
	status_set_lag(&st->slot[5], 12, 99);
	status_read_slot(r, 5, &s);
	ok(s.lag == 12 && s.lag_ns == 99, "the accountant's lag");
	status_child_gone(st, 5);
	ok(status_read_slot(r, 5, &s) == 1, "a reaped child's slot is free");
	ok(status_read_slot(r, STATUS_SLOTS, &s) == 1, "past the table: nothing");

	/* a new start: a new inode, so the old reader keeps the old state */
	{
		struct status *again = status_create(dir, err, sizeof(err));
		const struct status *r2;

		status_read_header(r, &h);
		ok(again != NULL && h.generation == 3, "a restart leaves the old mapping alone");
		ok(status_open(dir, &r2, &why, err, sizeof(err)) == 0, "the new file opens");
		status_read_header(r2, &h);
		ok(h.generation == 0 && h.prices_generation == 0, "and holds nothing of the old state");
		status_close(r2);
		status_remove(again, dir);
	}
	status_close(r);
	ok(status_open(dir, &r, &why, err, sizeof(err)) < 0 && why == STATUS_MISSING &&
	    strstr(err, "not running") && strstr(err, dir), "removed: not running, naming the directory");
	munmap(st, sizeof(*st));
}

static void
test_refusals(void)
{
	const struct status *r;
	struct status *st;
	enum status_problem why;
	char err[512];
	pid_t dead;

	st = status_create(dir, err, sizeof(err));
	if ((dead = fork()) == 0)
		_exit(0);
	waitpid(dead, NULL, 0);
	st->h.master_pid = dead;
	ok(status_open(dir, &r, &why, err, sizeof(err)) < 0 && why == STATUS_STALE &&
	    strstr(err, "not running") && strstr(err, "is gone"),
	    "a master that is gone: stale, not running (%s)", err);
	st->h.master_pid = getpid();
	st->h.version = STATUS_VERSION + 1;
	ok(status_open(dir, &r, &why, err, sizeof(err)) < 0 && why == STATUS_INCOMPATIBLE &&
	    strstr(err, "incompatible"), "another layout version: incompatible (%s)", err);
	st->h.version = STATUS_VERSION;
	st->h.magic = 0;
	ok(status_open(dir, &r, &why, err, sizeof(err)) < 0 && why == STATUS_INCOMPATIBLE &&
	    strstr(err, "not a tollgate status file"), "no magic: not a status file");
	st->h.magic = STATUS_MAGIC;
	/* (pid_t)2^32 is 0 and (pid_t)(2^32 - 1) is -1: kill() of either succeeds, for a group */
	st->h.master_pid = (int64_t)1 << 32;
	ok(status_open(dir, &r, &why, err, sizeof(err)) < 0 && why == STATUS_STALE,
	    "a master pid past pid_t is no live master (%s)", err);
	st->h.master_pid = ((int64_t)1 << 32) - 1;
	ok(status_open(dir, &r, &why, err, sizeof(err)) < 0 && why == STATUS_STALE,
	    "nor is one that truncates to -1 (%s)", err);
	st->h.master_pid = getpid();
	ok(status_open(dir, &r, &why, err, sizeof(err)) == 0, "and whole again, it opens");
	{
		struct status_header h;

		/* a damaged file: the zone's bytes fill the field, with no end */
		memset(st->h.timezone, 'A', sizeof(st->h.timezone));
		status_read_header(r, &h);
		ok(memchr(h.timezone, '\0', sizeof(h.timezone)) != NULL &&
		    strlen(h.timezone) == sizeof(h.timezone) - 1,
		    "a time zone with no terminating NUL in the file reads terminated");
	}
	status_close(r);
	ok(truncate(path, 100) == 0 &&
	    status_open(dir, &r, &why, err, sizeof(err)) < 0 && why == STATUS_INCOMPATIBLE,
	    "a short file is refused");
	status_remove(st, dir);
}

/* A writer rewrites a slot over and over, its generation always index * 10. */
static void
test_torn(void)
{
	const struct status *r;
	struct status *st;
	struct status_slot s;
	enum status_problem why;
	char err[512];
	int i, torn = 0, seen = 0;
	pid_t pid;

	st = status_create(dir, err, sizeof(err));
	status_open(dir, &r, &why, err, sizeof(err));
	if ((pid = fork()) == 0) {
		uint32_t n;

		for (n = 1;; n++) {
			status_child_begin(st, 9, STATUS_WORKER, n, (uint64_t)n * 10);
			status_child_pid(st, 9, n);
		}
	}
	/* until the writer has begun (it may not be scheduled at once), then a while */
	while (status_read_slot(r, 9, &s) != 0)
		;
	for (i = 0; i < 2000000 && seen < 100000; i++)
		if (status_read_slot(r, 9, &s) == 0) {
			seen++;
			if (s.generation != (uint64_t)s.index * 10 || s.pid != (int64_t)s.index)
				torn++;
		}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	ok(seen > 0 && torn == 0, "a reader never sees a slot half rewritten (%d read, %d torn)",
	    seen, torn);
	status_close(r);
	status_remove(st, dir);
}

int
main(void)
{
	if (mkdtemp(dir) == NULL)
		return printf("Bail out! mkdtemp\n"), 1;
	snprintf(path, sizeof(path), "%s/%s", dir, STATUS_FILE);
	test_roundtrip();
	test_refusals();
	test_torn();
	rmdir(dir);
	return done_testing();
}
