/*
 * The shared-memory budget store: all-or-nothing admission against several
 * counters; settling replaces the reservation; a window that ends starts the
 * counter again and drops reservations made in it; a changed duration starts
 * anew; forked processes hammering one budget never pass it together; a
 * process that dies holding the lock does not wedge the others; the rebuild
 * counts only spend inside the current window; a store in a file (for
 * tollctl status) reads back through a read-only mapping and is made afresh.
 */
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "budget.h"
#include "tap.h"

#define NS	1000000000LL

static struct budget_limit
limit(const char *id, int64_t max, const char *dur)
{
	struct budget_limit l;
	char err[128];

	memset(&l, 0, sizeof(l));
	snprintf(l.id, sizeof(l.id), "%s", id);
	l.max = max;
	if (dur != NULL) {
		l.has_window = 1;
		if (window_parse(dur, &l.window, err, sizeof(err)) < 0)
			diag("%s", err);
	}
	return l;
}

static int64_t
spent(struct budget_store *s, const struct budget_limit *l, int64_t now)
{
	struct budget_reading r;

	if (s->ops->read(s, l->id, now, &r) != 0)
		return -1;
	return r.spent;
}

static void
test_admission(struct budget_store *s)
{
	struct budget_limit ls[2] = { limit("key:a", 100, NULL), limit("team:t", 150, NULL) };
	int64_t amt[2] = { 60, 60 }, act[2] = { 50, 50 }, now = 1000 * NS;
	struct budget_hold h1, h2, h3;
	struct budget_refusal why;
	struct budget_reading r;

	ok(s->ops->admit(s, ls, amt, 2, now, &h1, &why) == 0, "first request admitted");
	ok(s->ops->admit(s, ls, amt, 2, now, &h2, &why) == 1 && why.index == 0 && why.used == 60 &&
	    why.max == 100, "a second would pass the key budget: refused, naming it");
	ok(s->ops->read(s, ls[1].id, now, &r) == 0 && r.reserved == 60,
	    "refusal reserved nothing on the team either");
	s->ops->settle(s, &h1, act, now);
	ok(s->ops->read(s, ls[0].id, now, &r) == 0 && r.spent == 50 && r.reserved == 0,
	    "settled: spent 50, nothing reserved");
	amt[0] = 50;
	ok(s->ops->admit(s, ls, amt, 2, now, &h2, &why) == 0, "exactly up to the limit is admitted");
	amt[0] = 1;
	ok(s->ops->admit(s, ls, amt, 2, now, &h3, &why) == 1 && why.index == 0,
	    "one more picodollar is not");
	ls[0].max = BUDGET_NONE;
	ok(s->ops->admit(s, ls, amt, 2, now, &h3, &why) == 1 && why.index == 1 && why.used == 110,
	    "the team budget refuses on its own");
	ls[0] = limit("key:never", 1, NULL);
	is_int(s->ops->read(s, ls[0].id, now, &r), 1, "an unknown counter reads 1");
}

static void
test_windows(struct budget_store *s)
{
	struct budget_limit l = limit("user:w", 100, "30s");
	int64_t amt = 80, act = 70, t0 = 1800000000LL * NS;	/* a multiple of 30 s */
	struct budget_hold h, h2;
	struct budget_refusal why;

	ok(s->ops->admit(s, &l, &amt, 1, t0 + 5 * NS, &h, &why) == 0, "admitted in the first window");
	ok(s->ops->admit(s, &l, &amt, 1, t0 + 6 * NS, &h2, &why) == 1 && why.window_end == t0 + 30 * NS,
	    "refused, and told when the window ends");
	ok(s->ops->admit(s, &l, &amt, 1, t0 + 31 * NS, &h2, &why) == 1,
	    "in the next window the first request, still in flight, holds its reservation");
	s->ops->settle(s, &h, &act, t0 + 31 * NS);
	ok(s->ops->admit(s, &l, &amt, 1, t0 + 32 * NS, &h, &why) == 1,
	    "settled in the new window: its $70 counts there");
	act = 10;
	amt = 20;
	ok(s->ops->admit(s, &l, &amt, 1, t0 + 32 * NS, &h, &why) == 0, "a smaller one fits");
	s->ops->settle(s, &h, &act, t0 + 33 * NS);
	amt = 80;
	act = 70;
	ok(s->ops->admit(s, &l, &amt, 1, t0 + 61 * NS, &h, &why) == 0,
	    "the window after starts at 0");
	s->ops->settle(s, &h, &act, t0 + 70 * NS);
	is_int(spent(s, &l, t0 + 71 * NS), 70, "settled within its window");
	ok(s->ops->admit(s, &l, &amt, 1, t0 + 89 * NS, &h, &why) == 1, "refused near its end");
	amt = 20;
	ok(s->ops->admit(s, &l, &amt, 1, t0 + 89 * NS, &h, &why) == 0, "a smaller one fits");
	act = 25;
	s->ops->settle(s, &h, &act, t0 + 91 * NS);
	{
		struct budget_reading r;

		ok(s->ops->read(s, l.id, t0 + 91 * NS, &r) == 0 && r.spent == 25 && r.reserved == 0,
		    "settled after its window ended: counted in the new one, its reservation released");
		ok(s->ops->read(s, l.id, t0 + 80 * NS, &r) == 0 && r.spent == 25,
		    "a clock stepped back keeps counting where it was");
	}
	{
		int64_t huge = INT64_MAX;

		ok(s->ops->admit(s, &l, &huge, 1, t0 + 92 * NS, &h, &why) == 1,
		    "an amount past int64_t is refused, not wrapped");
	}
	l = limit("user:w", 100, "1h");
	s->ops->add(s, &l, 0, t0 + 62 * NS, t0 + 62 * NS);
	is_int(spent(s, &l, t0 + 62 * NS), 0, "a changed duration starts the counter anew");

	l = limit("team:rebuild", 100, "1d");
	s->ops->add(s, &l, 7, t0 - 90000 * NS, t0);
	s->ops->add(s, &l, 11, t0 - 10, t0);
	is_int(spent(s, &l, t0), 11, "the rebuild counts only spend inside the current window");
}

#define PROCS	8
#define TRIES	2000

static void
test_race(struct budget_store *s)
{
	struct budget_limit l = limit("key:race", 1000000, NULL);
	struct budget_reading r;
	int i, status, clean = 1;

	for (i = 0; i < PROCS; i++) {
		pid_t pid = fork();

		if (pid == 0) {
			int64_t amt = 1000, act;
			struct budget_hold h;
			struct budget_refusal why;
			int k;

			for (k = 0; k < TRIES; k++) {
				if (s->ops->admit(s, &l, &amt, 1, 5 * NS, &h, &why) != 0)
					continue;
				act = 1 + (k * 7 + i) % 1000;	/* at most what was reserved */
				s->ops->settle(s, &h, &act, 5 * NS);
			}
			_exit(0);
		}
	}
	for (i = 0; i < PROCS; i++)
		if (wait(&status) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
			clean = 0;
	ok(clean, "%d processes ran %d admissions each", PROCS, TRIES);
	ok(s->ops->read(s, l.id, 5 * NS, &r) == 0 && r.reserved == 0 && r.spent <= l.max &&
	    r.spent > l.max - 1000, "together they spent up to the budget and not past it (%lld of %lld)",
	    (long long)r.spent, (long long)l.max);
}

static void
test_dead_owner(struct budget_store *s)
{
	struct budget_limit l = limit("key:dead", 10, NULL);
	int64_t amt = 1;
	struct budget_hold h;
	struct budget_refusal why;
	pid_t pid;

	/* a child that dies inside admit is simulated by one killed while it loops on it */
	pid = fork();
	if (pid == 0) {
		struct budget_limit big = limit("key:spin", BUDGET_NONE, NULL);

		for (;;)
			if (s->ops->admit(s, &big, &amt, 1, 1, &h, &why) == 0)
				s->ops->settle(s, &h, &amt, 1);
	}
	usleep(20000);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	ok(s->ops->admit(s, &l, &amt, 1, 1, &h, &why) == 0, "a process killed mid-use does not wedge the lock");
}

/* What tollctl status reads: the counters in the store's file, found by id. */
struct found {
	const char		*id;
	struct budget_counter	 c;
	int			 n, total;
};

static int
find_counter(void *arg, const struct budget_counter *c)
{
	struct found *f = arg;

	f->total++;
	if (strcmp(c->id, f->id) == 0) {
		f->c = *c;
		f->n++;
	}
	return 0;
}

/*
 * A slot whose window no config can give (2^62 seconds: its length in
 * nanoseconds wraps to 0, and tollctl status divided by it) is passed over,
 * the others still read.  The slot is found by its id; what follows the id
 * in it (has_window, then the window) is laid out as in this struct.
 */
static void
test_damaged_window(const char *path)
{
	struct {
		char		id[BUDGET_ID_MAX];
		int		has_window;
		struct window	window;
	} tail;
	struct found fd = { .id = "t|research|1mo" };
	struct budget_file *f;
	char err[256], *data;
	int64_t owner;
	long size, at;
	FILE *fp;

	if ((fp = fopen(path, "r+")) == NULL || fseek(fp, 0, SEEK_END) < 0 || (size = ftell(fp)) < 0 ||
	    (data = malloc((size_t)size)) == NULL) {
		ok(0, "cannot read back '%s'", path);
		return;
	}
	rewind(fp);
	if (fread(data, 1, (size_t)size, fp) != (size_t)size)
		size = 0;
	for (at = 0; at + (long)sizeof(tail) <= size; at += 8)
		if (strcmp(data + at, fd.id) == 0)
			break;
	free(data);
	if (!ok(at + (long)sizeof(tail) <= size, "the counter's slot is found in the file")) {
		fclose(fp);
		return;
	}
	memset(&tail, 0, sizeof(tail));
	snprintf(tail.id, sizeof(tail.id), "%s", fd.id);
	tail.has_window = 1;
	tail.window.unit = WINDOW_SECONDS;
	tail.window.n = (int64_t)1 << 62;
	fseek(fp, at, SEEK_SET);
	fwrite(&tail, sizeof(tail), 1, fp);
	fclose(fp);
	budget_file_open(path, &f, &owner, err, sizeof(err));
	budget_file_each(f, find_counter, &fd);
	ok(fd.n == 0 && fd.total == 1,
	    "a slot with a window window_parse() cannot make is passed over, the other read "
	    "(%d of %d)", fd.n, fd.total);
	budget_file_close(f);
}

static void
test_file(void)
{
	char dir[] = "/tmp/t_budget.XXXXXX", path[128], err[256];
	struct budget_limit ls[2] = { limit("t|research|1mo", 500, "1mo"), limit("k|key:0011", BUDGET_NONE, NULL) };
	int64_t amt[2] = { 70, 70 }, act[2] = { 40, 40 }, now = 1000 * NS, owner = 0;
	struct budget_store *s, *again;
	struct budget_file *f;
	struct budget_hold h1, h2;
	struct budget_refusal why;
	struct found fd = { .id = "t|research|1mo" };
	struct stat sb;
	FILE *fp;

	if (mkdtemp(dir) == NULL) {
		ok(0, "mkdtemp");
		return;
	}
	snprintf(path, sizeof(path), "%s/%s", dir, BUDGET_FILE);
	ok(budget_shm_create(256, path, &s, err, sizeof(err)) == 0, "a store in a file: %s", err);
	ok(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0640, "mode 0640");
	s->ops->admit(s, ls, amt, 2, now, &h1, &why);
	s->ops->settle(s, &h1, act, now);
	s->ops->admit(s, ls, amt, 2, now, &h2, &why);
	ok(budget_file_open(path, &f, &owner, err, sizeof(err)) == 0 && owner == getpid(),
	    "tollctl maps it read-only, and learns who made it: %s", err);
	budget_file_each(f, find_counter, &fd);
	ok(fd.n == 1 && fd.total == 2, "both counters, once each (%d of %d)", fd.n, fd.total);
	ok(fd.c.spent == 40 && fd.c.reserved == 70 && fd.c.max == 500 && fd.c.has_window &&
	    fd.c.window.unit == WINDOW_MONTHS && fd.c.window_end > now,
	    "spent, reserved, limit and window as the workers left them");
	s->ops->settle(s, &h2, act, now);
	fd.n = fd.total = 0;
	budget_file_each(f, find_counter, &fd);
	ok(fd.c.spent == 80 && fd.c.reserved == 0, "a settle shows through the mapping at once");
	fd.id = "k|key:0011";
	budget_file_each(f, find_counter, &fd);
	ok(fd.c.max == BUDGET_NONE && fd.c.spent == 80, "a counter without a limit says so");
	budget_file_close(f);
	test_damaged_window(path);

	/* a new start: a new file, the old counters not carried over */
	ok(budget_shm_create(256, path, &again, err, sizeof(err)) == 0, "made again over the old one");
	budget_file_open(path, &f, &owner, err, sizeof(err));
	fd.n = fd.total = 0;
	budget_file_each(f, find_counter, &fd);
	ok(fd.total == 0, "and empty: stale counters are never shown as live");
	budget_file_close(f);
	ok(s->ops->read(s, ls[0].id, now, &(struct budget_reading){ 0 }) == 0,
	    "the old mapping still has its own");
	again->ops->close(again);
	ok(access(path, F_OK) < 0, "its maker's close removes the file");
	s->ops->close(s);

	if ((fp = fopen(path, "w")) != NULL) {
		fputs("not a budget store", fp);
		fclose(fp);
	}
	ok(budget_file_open(path, &f, &owner, err, sizeof(err)) < 0 &&
	    strstr(err, "not a budget store") != NULL, "a foreign file is refused: %s", err);
	unlink(path);
	ok(budget_file_open(path, &f, &owner, err, sizeof(err)) < 0 && strstr(err, path) != NULL,
	    "a missing one names the file");
	rmdir(dir);
}

int
main(void)
{
	struct budget_store *s;
	char err[256];

	if (budget_shm_create(1024, NULL, &s, err, sizeof(err)) < 0)
		return printf("Bail out! %s\n", err), 1;
	test_admission(s);
	test_windows(s);
	test_race(s);
	test_dead_owner(s);
	test_file();
	{
		struct budget_store *tiny;
		struct budget_limit l;
		int64_t amt = 1;
		struct budget_hold h;
		struct budget_refusal why;
		int i, rc = 0;

		budget_shm_create(10, NULL, &tiny, err, sizeof(err));
		for (i = 0; i < 20 && rc == 0; i++) {
			l = limit("x", 5, NULL);
			snprintf(l.id, sizeof(l.id), "key:%d", i);
			rc = tiny->ops->admit(tiny, &l, &amt, 1, 1, &h, &why);
		}
		ok(rc == -1 && i == 10, "a full store says so (-1) instead of probing for ever (%d)", i);
		tiny->ops->close(tiny);
	}
	s->ops->close(s);
	return done_testing();
}
