/*
 * The live status file (see status.h): made and described by the master,
 * counted in by its children, read by tollctl.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"
#include "seqlock.h"
#include "status.h"

static void
path_of(const char *run_dir, char *out, size_t n)
{
	snprintf(out, n, "%s/%s", run_dir, STATUS_FILE);
}

struct status *
status_create(const char *run_dir, char *err, size_t errlen)
{
	char path[4200];
	struct status *st;
	int fd;

	path_of(run_dir, path, sizeof(path));
	/* a new inode: a dead gateway's state is gone, a live reader keeps its own */
	if (unlink(path) < 0 && errno != ENOENT) {
		snprintf(err, errlen, "cannot remove '%s': %s", path, strerror(errno));
		return NULL;
	}
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
	if (fd < 0 || fchmod(fd, 0640) < 0 || ftruncate(fd, sizeof(struct status)) < 0) {
		snprintf(err, errlen, "cannot create '%s': %s", path, strerror(errno));
		if (fd >= 0) {
			close(fd);
			unlink(path);
		}
		return NULL;
	}
	st = mmap(NULL, sizeof(*st), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (st == MAP_FAILED) {
		snprintf(err, errlen, "cannot map '%s': %s", path, strerror(errno));
		unlink(path);
		return NULL;
	}
	/* zeroed by ftruncate; the magic last, so a reader never takes a half-made file */
	st->h.version = STATUS_VERSION;
	st->h.size = sizeof(*st);
	st->h.nslots = STATUS_SLOTS;
	st->h.slot_size = sizeof(struct status_slot);
	st->h.master_pid = (int64_t)getpid();
	st->h.started_ns = clock_now_ns();
	__atomic_store_n(&st->h.magic, STATUS_MAGIC, __ATOMIC_RELEASE);
	return st;
}

void
status_remove(struct status *st, const char *run_dir)
{
	char path[4200];

	if (st == NULL)
		return;
	path_of(run_dir, path, sizeof(path));
	unlink(path);
	munmap(st, sizeof(*st));
}

void
status_set_generation(struct status *st, uint64_t generation, const char *timezone)
{
	seqlock_write_begin(&st->h.seq);
	st->h.generation = generation;
	st->h.generation_ns = clock_now_ns();
	snprintf(st->h.timezone, sizeof(st->h.timezone), "%s", timezone ? timezone : "");
	seqlock_write_end(&st->h.seq);
}

void
status_set_prices(struct status *st, uint64_t generation, int64_t published_ns, uint64_t load_us)
{
	seqlock_write_begin(&st->h.seq);
	st->h.prices_generation = generation;
	st->h.prices_ns = published_ns;
	st->h.prices_load_us = load_us;
	seqlock_write_end(&st->h.seq);
}

void
status_child_begin(struct status *st, size_t i, enum status_role role, uint32_t index,
    uint64_t generation)
{
	struct status_slot *s = &st->slot[i % STATUS_SLOTS];

	seqlock_write_begin(&s->seq);
	s->role = role;
	s->index = index;
	s->pid = 0;
	s->generation = generation;
	s->started_ns = clock_now_ns();
	s->state = STATUS_SERVING;
	s->connections = s->in_flight = s->requests = s->lag = 0;
	s->lag_ns = 0;
	seqlock_write_end(&s->seq);
}

void
status_child_pid(struct status *st, size_t i, int64_t pid)
{
	struct status_slot *s = &st->slot[i % STATUS_SLOTS];

	seqlock_write_begin(&s->seq);
	s->pid = pid;
	s->started_ns = clock_now_ns();
	seqlock_write_end(&s->seq);
}

void
status_child_gone(struct status *st, size_t i)
{
	struct status_slot *s = &st->slot[i % STATUS_SLOTS];

	seqlock_write_begin(&s->seq);
	s->role = STATUS_FREE;
	s->pid = 0;
	seqlock_write_end(&s->seq);
}

/* ---- reading --------------------------------------------------------------- */

int
status_open(const char *run_dir, const struct status **out, enum status_problem *why,
    char *err, size_t errlen)
{
	char path[4200];
	struct status_header h = { 0 };
	struct stat sb;
	const struct status *st;
	int fd;

	path_of(run_dir, path, sizeof(path));
	*why = STATUS_UNREADABLE;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		if (errno == ENOENT) {
			*why = STATUS_MISSING;
			snprintf(err, errlen, "tollgate is not running in '%s' (no %s there)", run_dir,
			    STATUS_FILE);
		} else
			snprintf(err, errlen, "cannot open '%s': %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &sb) < 0 || (size_t)sb.st_size < sizeof(struct status_header)) {
		*why = STATUS_INCOMPATIBLE;
		snprintf(err, errlen, "'%s' is not a tollgate status file (%lld bytes)", path,
		    (long long)sb.st_size);
		close(fd);
		return -1;
	}
	if (pread(fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h) || h.magic != STATUS_MAGIC ||
	    h.version != STATUS_VERSION || h.size != sizeof(struct status) ||
	    h.nslots != STATUS_SLOTS || h.slot_size != sizeof(struct status_slot) ||
	    (size_t)sb.st_size != sizeof(struct status)) {
		*why = STATUS_INCOMPATIBLE;
		if (h.magic != STATUS_MAGIC)
			snprintf(err, errlen, "'%s' is not a tollgate status file", path);
		else
			snprintf(err, errlen, "'%s' is from an incompatible tollgate (status layout "
			    "version %u; this tollctl reads version %u)", path, h.version,
			    STATUS_VERSION);
		close(fd);
		return -1;
	}
	st = mmap(NULL, sizeof(*st), PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (st == MAP_FAILED) {
		snprintf(err, errlen, "cannot map '%s': %s", path, strerror(errno));
		return -1;
	}
	/* the master gone without a clean stop: what the file says is no longer live */
	/*
	 * Past a pid_t, kill() would be asked of a truncated number: 0 or -1
	 * would signal groups of processes, and always succeed.
	 */
	if (h.master_pid <= 0 || h.master_pid > INT_MAX ||
	    (kill((pid_t)h.master_pid, 0) < 0 && errno == ESRCH)) {
		*why = STATUS_STALE;
		snprintf(err, errlen, "tollgate is not running in '%s' (its master, pid %lld, is gone)",
		    run_dir, (long long)h.master_pid);
		munmap((void *)st, sizeof(*st));
		return -1;
	}
	*out = st;
	return 0;
}

void
status_close(const struct status *st)
{
	if (st != NULL)
		munmap((void *)st, sizeof(*st));
}

void
status_read_header(const struct status *st, struct status_header *out)
{
	seqlock_read(&st->h.seq, out, &st->h, sizeof(*out));
	/* the file is outside input: the master terminates it, a damaged one may not */
	out->timezone[sizeof(out->timezone) - 1] = '\0';
}

int
status_read_slot(const struct status *st, size_t i, struct status_slot *out)
{
	if (i >= STATUS_SLOTS)
		return 1;
	seqlock_read(&st->slot[i].seq, out, &st->slot[i], sizeof(*out));
	return out->role == STATUS_FREE || out->pid <= 0;
}
