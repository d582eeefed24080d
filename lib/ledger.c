/*
 * The LMDB ledger of spend records.  Workers append batches, the accountant
 * replays the spill file, syncs and clears dead readers, tollctl reads.
 *
 * A struct ledger belongs to the process that opened it and is used by one
 * thread: LMDB forbids using an environment across fork, so ledger_open() is
 * called after fork, in the process that uses the ledger, and every function
 * refuses a ledger inherited from a parent.  A process opens a directory
 * once (LMDB: closing a second handle on the same files drops the first
 * one's locks).  The environment is opened with MDB_NOTLS, so a read
 * transaction does not tie up a thread's reader slot.
 *
 * The map grows on MDB_MAP_FULL (doubling, up to LEDGER_GROW_LIMIT times the
 * size asked for at open).  Other processes with the environment open learn
 * of the larger map when their next transaction starts (MDB_MAP_RESIZED) and
 * adopt it.  Growing is only allowed with no transaction of this process
 * active, which holds because no function here returns with one open.
 *
 * When the ledger cannot take a batch, the batch goes to the spill file
 * dir/spill.msgpack, as entries of
 *	4 bytes	length N of the record, big endian
 *	16 bytes	the record's ledger key
 *	N bytes		the record, msgpack (record_encode)
 * appended under an exclusive flock(2) (several workers may spill at once)
 * and fsync'd.  ledger_replay_spill() writes them to the ledger with their
 * original keys and MDB_NOOVERWRITE before it empties the file, so a replay
 * interrupted between the two steps, and run again, adds nothing twice.
 */
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lmdb.h>

#include "buf.h"
#include "bytes.h"
#include "ledger.h"
#include "log.h"
#include "record.h"

#define KEY_LEN			16	/* end_ns (8), worker (4), sequence (4) */
#define SPILL_HEAD		(4 + KEY_LEN)
#define LEDGER_GROW_LIMIT	64	/* the map grows to 64 times the size asked for */
#define LEDGER_LAYOUT		1	/* meta "layout": the key and value format above */
#define LEDGER_MAX_DBS		16
#define KEYEXIST_TRIES		1000
#define SPILL_FILE		"spill.msgpack"
#define SPILL_BAD_FILE		"spill.msgpack.bad"

struct ledger {
	MDB_env		*env;
	MDB_dbi		 records;
	MDB_dbi		 meta;
	MDB_dbi		 journal;	/* commit order: 8-byte sequence -> record key */
	enum ledger_mode mode;
	uint32_t	 worker;
	pid_t		 pid;		/* the process that opened the environment */
	size_t		 max_map;	/* the map grows no further */
	int		 degraded;	/* the last append spilled or failed */
	struct buf	 scratch;	/* one encoded record */
	char		 dir[PATH_MAX];
	char		 spill[PATH_MAX];
	char		 spill_bad[PATH_MAX];
};

/* Keys' last four bytes: never reused by this process, whatever ledger it opens. */
static uint32_t sequence;

static void
put_be(unsigned char *p, uint64_t v, int n)
{
	while (n-- > 0) {
		p[n] = (unsigned char)v;
		v >>= 8;
	}
}

static uint32_t
get_be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void
make_key(unsigned char *key, const struct record *r, uint32_t worker)
{
	/* a clock before 1970 sorts first rather than last */
	put_be(key, r->end_ns > 0 ? (uint64_t)r->end_ns : 0, 8);
	put_be(key + 8, worker, 4);
	put_be(key + 12, sequence++, 4);
}

/*
 * getpid() without a system call on every commit: the pid is kept, and
 * forgotten in a child of fork().
 */
static pid_t known_pid;

static void
forget_pid(void)
{
	known_pid = 0;
}

static pid_t
ledger_pid(void)
{
	static int registered;

	if (!registered) {
		pthread_atfork(NULL, NULL, forget_pid);
		registered = 1;
	}
	if (known_pid == 0)
		known_pid = getpid();
	return known_pid;
}

static int
same_process(const struct ledger *l)
{
	return l->pid == ledger_pid();
}

/* mkdir -p, each directory it creates with mode. */
static int
make_dirs(const char *dir, mode_t mode)
{
	char path[PATH_MAX];
	char *p;

	snprintf(path, sizeof(path), "%s", dir);
	for (p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, mode) < 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(path, mode) < 0 && errno != EEXIST)
		return -1;
	return 0;
}

/* Begins a transaction, adopting a map another process has grown. */
static int
txn_begin(struct ledger *l, unsigned flags, MDB_txn **txn)
{
	int rc, tries;

	for (tries = 0; tries < 8; tries++) {
		rc = mdb_txn_begin(l->env, NULL, flags, txn);
		if (rc != MDB_MAP_RESIZED)
			return rc;
		if ((rc = mdb_env_set_mapsize(l->env, 0)) != 0)
			return rc;
	}
	return rc;
}

/* Opens the databases; for LEDGER_WRITE creates them and records the layout. */
static int
open_dbs(struct ledger *l, char *err, size_t errlen)
{
	const int write = l->mode == LEDGER_WRITE;
	MDB_val k = { 6, "layout" }, v;
	unsigned char layout[4];
	MDB_txn *txn;
	int rc;

	if ((rc = txn_begin(l, write ? 0 : MDB_RDONLY, &txn)) != 0)
		goto fail;
	if ((rc = mdb_dbi_open(txn, "records", write ? MDB_CREATE : 0, &l->records)) != 0 ||
	    (rc = mdb_dbi_open(txn, "meta", write ? MDB_CREATE : 0, &l->meta)) != 0 ||
	    (rc = mdb_dbi_open(txn, "journal", write ? MDB_CREATE : 0, &l->journal)) != 0) {
		mdb_txn_abort(txn);
		if (rc == MDB_NOTFOUND) {
			log_into(err, errlen, "cannot open ledger '%s': not a tollgate ledger", l->dir);
			return -1;
		}
		goto fail;
	}
	rc = mdb_get(txn, l->meta, &k, &v);
	if (rc == 0 && (v.mv_size != 4 || get_be32(v.mv_data) > LEDGER_LAYOUT)) {
		mdb_txn_abort(txn);
		log_into(err, errlen, "cannot open ledger '%s': written by a newer tollgate "
		    "(layout %u, this one reads %d)", l->dir,
		    v.mv_size == 4 ? get_be32(v.mv_data) : 0, LEDGER_LAYOUT);
		return -1;
	}
	if (rc == MDB_NOTFOUND && write) {
		put_be(layout, LEDGER_LAYOUT, 4);
		v.mv_size = sizeof(layout);
		v.mv_data = layout;
		rc = mdb_put(txn, l->meta, &k, &v, 0);
	} else if (rc == MDB_NOTFOUND)
		rc = 0;
	if (rc != 0) {
		mdb_txn_abort(txn);
		goto fail;
	}
	if ((rc = mdb_txn_commit(txn)) != 0)
		goto fail;
	return 0;
fail:
	log_into(err, errlen, "cannot open ledger '%s': %s", l->dir, mdb_strerror(rc));
	return -1;
}

int
ledger_open(const char *dir, enum ledger_mode mode, size_t map_size,
    uint32_t worker, struct ledger **out, char *err, size_t errlen)
{
	unsigned flags = MDB_NOSYNC | MDB_NOTLS;
	struct ledger *l;
	MDB_envinfo info;
	char path[PATH_MAX];
	struct stat st;
	int rc;

	*out = NULL;
	if (strlen(dir) + sizeof("/" SPILL_BAD_FILE) > PATH_MAX) {
		log_into(err, errlen, "cannot open ledger '%s': %s", dir, strerror(ENAMETOOLONG));
		return -1;
	}
	if (map_size > SIZE_MAX / LEDGER_GROW_LIMIT) {
		log_into(err, errlen, "cannot open ledger '%s': a map of %zu bytes is too large",
		    dir, map_size);
		return -1;
	}
	if ((l = calloc(1, sizeof(*l))) == NULL) {
		log_into(err, errlen, "cannot open ledger '%s': %s", dir, strerror(errno));
		return -1;
	}
	snprintf(l->dir, sizeof(l->dir), "%s", dir);
	snprintf(l->spill, sizeof(l->spill), "%s/%s", dir, SPILL_FILE);
	snprintf(l->spill_bad, sizeof(l->spill_bad), "%s/%s", dir, SPILL_BAD_FILE);
	l->mode = mode;
	l->worker = worker;
	l->pid = ledger_pid();

	if (mode == LEDGER_WRITE) {
		if (make_dirs(dir, 0750) < 0) {
			log_into(err, errlen, "cannot open ledger '%s': %s", dir, strerror(errno));
			goto fail;
		}
	} else {
		/* LMDB would create a lock file in any directory it is pointed at */
		snprintf(path, sizeof(path), "%s/data.mdb", dir);
		if (stat(path, &st) < 0) {
			log_into(err, errlen, "cannot open ledger '%s': %s", dir,
			    errno == ENOENT ? "no ledger there" : strerror(errno));
			goto fail;
		}
		flags |= MDB_RDONLY;
	}
	if ((rc = mdb_env_create(&l->env)) != 0 ||
	    (rc = mdb_env_set_maxdbs(l->env, LEDGER_MAX_DBS)) != 0 ||
	    (map_size && (rc = mdb_env_set_mapsize(l->env, map_size)) != 0) ||
	    (rc = mdb_env_open(l->env, dir, flags, 0640)) != 0) {
		log_into(err, errlen, "cannot open ledger '%s': %s", dir, mdb_strerror(rc));
		goto fail;
	}
	if (mode == LEDGER_WRITE) {
		/* readers (tollctl, in the service's group) take slots in the lock file */
		snprintf(path, sizeof(path), "%s/lock.mdb", dir);
		if (chmod(path, 0660) < 0 && errno != EPERM) {
			log_into(err, errlen, "cannot open ledger '%s': chmod lock.mdb: %s", dir,
			    strerror(errno));
			goto fail;
		}
	}
	if (open_dbs(l, err, errlen) < 0)
		goto fail;
	if ((rc = mdb_env_info(l->env, &info)) != 0) {
		log_into(err, errlen, "cannot open ledger '%s': %s", dir, mdb_strerror(rc));
		goto fail;
	}
	l->max_map = (map_size ? map_size : info.me_mapsize) * LEDGER_GROW_LIMIT;
	*out = l;
	return 0;
fail:
	ledger_close(l);
	return -1;
}

void
ledger_close(struct ledger *l)
{
	if (l == NULL)
		return;
	/*
	 * In a child that inherited the ledger, closing the environment would
	 * free the parent's reader slots: the parent's copy is left alone.
	 */
	if (l->env && same_process(l))
		mdb_env_close(l->env);
	buf_release(&l->scratch);
	free(l);
}

/*
 * Writes n records in one transaction.  keys NULL: each record gets a fresh
 * key.  keys given (n * KEY_LEN bytes, a replay): each record is written
 * under its key, and one already there with the same bytes is not added
 * again.  Returns 0 with *added, or an LMDB error (nothing written).
 */
/* The journal sequence the next committed record gets: one past the last. */
static int
journal_next(struct ledger *l, MDB_txn *txn, uint64_t *seq)
{
	MDB_cursor *cur;
	MDB_val k, v;
	int rc, i;

	if ((rc = mdb_cursor_open(txn, l->journal, &cur)) != 0)
		return rc;
	rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
	mdb_cursor_close(cur);
	*seq = 1;
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc != 0)
		return rc;
	for (*seq = 0, i = 0; i < 8 && (size_t)i < k.mv_size; i++)
		*seq = *seq << 8 | ((const unsigned char *)k.mv_data)[i];
	(*seq)++;
	return 0;
}

static int
write_batch(struct ledger *l, const struct record *recs, const unsigned char *keys,
    size_t n, size_t *added)
{
	unsigned char key[KEY_LEN], jkey[8];
	uint64_t seq;
	MDB_val k, v;
	MDB_txn *txn;
	size_t i;
	int rc, tries;

	*added = 0;
	if ((rc = txn_begin(l, 0, &txn)) != 0)
		return rc;
	if ((rc = journal_next(l, txn, &seq)) != 0)
		goto abort;
	for (i = 0; i < n; i++) {
		l->scratch.len = 0;
		if (record_encode(&recs[i], &l->scratch) < 0) {
			rc = ENOMEM;
			goto abort;
		}
		if (keys)
			memcpy(key, keys + i * KEY_LEN, KEY_LEN);
		else
			make_key(key, &recs[i], l->worker);
		for (tries = 0; tries < KEYEXIST_TRIES; tries++) {
			k.mv_size = KEY_LEN;
			k.mv_data = key;
			v.mv_size = l->scratch.len;
			v.mv_data = l->scratch.data;
			rc = mdb_put(txn, l->records, &k, &v, MDB_NOOVERWRITE);
			if (rc != MDB_KEYEXIST)
				break;
			/* v is now the record already there */
			if (keys && v.mv_size == l->scratch.len &&
			    memcmp(v.mv_data, l->scratch.data, v.mv_size) == 0)
				break;
			/* another record ended in the same nanosecond: a new sequence */
			put_be(key + 12, sequence++, 4);
		}
		if (rc == MDB_KEYEXIST && tries < KEYEXIST_TRIES)
			continue;		/* replayed before */
		if (rc != 0)
			goto abort;
		/* the journal says in which order records were committed, whatever their times */
		put_be(jkey, seq++, 8);
		k.mv_size = sizeof(jkey);
		k.mv_data = jkey;
		v.mv_size = KEY_LEN;
		v.mv_data = key;
		if ((rc = mdb_put(txn, l->journal, &k, &v, MDB_APPEND)) != 0)
			goto abort;
		(*added)++;
	}
	if ((rc = mdb_txn_commit(txn)) != 0)
		*added = 0;
	return rc;
abort:
	mdb_txn_abort(txn);
	*added = 0;
	return rc;
}

/* Doubles the map, up to max_map; 0, or -1 when it may grow no more. */
static int
grow_map(struct ledger *l)
{
	MDB_envinfo info;
	size_t size;

	if (mdb_env_info(l->env, &info) != 0 || info.me_mapsize >= l->max_map)
		return -1;
	size = info.me_mapsize > l->max_map / 2 ? l->max_map : info.me_mapsize * 2;
	return mdb_env_set_mapsize(l->env, size) == 0 ? 0 : -1;
}

/* write_batch(), growing the map while it is full; -1 with why. */
static int
commit_records(struct ledger *l, const struct record *recs, const unsigned char *keys,
    size_t n, size_t *added, char *why, size_t whylen)
{
	int rc;

	while ((rc = write_batch(l, recs, keys, n, added)) == MDB_MAP_FULL)
		if (grow_map(l) < 0)
			break;
	if (rc == 0)
		return 0;
	if (rc == MDB_MAP_FULL)
		log_into(why, whylen, "ledger '%s' is full (its map may grow to %zu bytes)",
		    l->dir, l->max_map);
	else
		log_into(why, whylen, "cannot write to ledger '%s': %s", l->dir, mdb_strerror(rc));
	return -1;
}

static int
write_all(int fd, const char *p, size_t len)
{
	ssize_t n;

	while (len > 0) {
		if ((n = write(fd, p, len)) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int
sync_dir(const char *dir)
{
	int fd, rc;

	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

/* Appends the records to the spill file; 0, or -1 with why (the file as it was). */
static int
spill_records(struct ledger *l, const struct record *recs, size_t n, char *why,
    size_t whylen)
{
	static const unsigned char zero[SPILL_HEAD];
	struct buf b = { 0 };
	struct stat st;
	size_t i, mark, len;
	int fd = -1, rc = -1;

	for (i = 0; i < n; i++) {
		mark = b.len;
		if (buf_append(&b, zero, sizeof(zero)) < 0 || record_encode(&recs[i], &b) < 0) {
			log_into(why, whylen, "cannot spill to '%s': %s", l->spill, strerror(ENOMEM));
			goto out;
		}
		len = b.len - mark - SPILL_HEAD;
		put_be((unsigned char *)b.data + mark, len, 4);
		make_key((unsigned char *)b.data + mark + 4, &recs[i], l->worker);
	}
	if ((fd = open(l->spill, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640)) < 0 ||
	    flock(fd, LOCK_EX) < 0 || fstat(fd, &st) < 0) {
		log_into(why, whylen, "cannot spill to '%s': %s", l->spill, strerror(errno));
		goto out;
	}
	if (write_all(fd, b.data, b.len) < 0 || fsync(fd) < 0 ||
	    (st.st_size == 0 && sync_dir(l->dir) < 0)) {
		log_into(why, whylen, "cannot spill to '%s': %s", l->spill, strerror(errno));
		/* a torn entry would hide the entries appended after it */
		if (ftruncate(fd, st.st_size) < 0)
			log_into(why, whylen, "cannot spill to '%s', nor take back a partial write: %s",
			    l->spill, strerror(errno));
		goto out;
	}
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	buf_release(&b);
	return rc;
}

/* Whether this process may write through l; -1 with err when not. */
static int
writable(const struct ledger *l, char *err, size_t errlen)
{
	if (!same_process(l)) {
		log_into(err, errlen, "ledger '%s' was opened by another process", l->dir);
		return -1;
	}
	if (l->mode != LEDGER_WRITE) {
		log_into(err, errlen, "ledger '%s' is open read-only", l->dir);
		return -1;
	}
	return 0;
}

int
ledger_append(struct ledger *l, const struct record *recs, size_t n,
    char *err, size_t errlen)
{
	char why[PATH_MAX + 128], spill_why[PATH_MAX + 128];
	size_t added;

	if (writable(l, err, errlen) < 0)
		return -1;
	if (n == 0)
		return 0;
	if (commit_records(l, recs, NULL, n, &added, why, sizeof(why)) == 0) {
		l->degraded = 0;
		return 0;
	}
	l->degraded = 1;
	if (spill_records(l, recs, n, spill_why, sizeof(spill_why)) < 0) {
		log_into(err, errlen, "%s; %s", why, spill_why);
		return -1;
	}
	log_into(err, errlen, "%s: %zu record%s spilled to '%s'", why, n, n == 1 ? "" : "s",
	    l->spill);
	return 1;
}

/* Reads the whole file behind fd into b; 0 or -1 with errno. */
static int
read_fd(int fd, struct buf *b)
{
	ssize_t n;

	for (;;) {
		if (buf_reserve(b, 65536) < 0) {
			errno = ENOMEM;
			return -1;
		}
		n = read(fd, b->data + b->len, b->cap - b->len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		b->len += (size_t)n;
	}
	b->data[b->len] = '\0';
	return 0;
}

/* Keeps a spill file that held entries no one can replay, for a human to look at. */
static int
keep_bad(struct ledger *l, const struct buf *b)
{
	int fd, rc;

	if ((fd = open(l->spill_bad, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640)) < 0)
		return -1;
	rc = write_all(fd, b->data, b->len) < 0 || fsync(fd) < 0 ? -1 : 0;
	close(fd);
	return rc;
}

int
ledger_replay_spill(struct ledger *l, char *err, size_t errlen)
{
	char why[PATH_MAX + 128];
	const unsigned char *p;
	struct buf b = { 0 };
	struct record *recs = NULL;
	unsigned char *keys = NULL;
	size_t pos, len, n = 0, count = 0, added = 0;
	int fd, unusable = 0, rc = -1;

	if (writable(l, err, errlen) < 0)
		return -1;
	if ((fd = open(l->spill, O_RDWR | O_CLOEXEC)) < 0) {
		if (errno == ENOENT)
			return 0;
		log_into(err, errlen, "cannot replay '%s': %s", l->spill, strerror(errno));
		return -1;
	}
	/* spillers wait until the file is emptied */
	if (flock(fd, LOCK_EX) < 0 || read_fd(fd, &b) < 0) {
		log_into(err, errlen, "cannot replay '%s': %s", l->spill, strerror(errno));
		goto out;
	}
	p = (const unsigned char *)b.data;
	for (pos = 0; b.len - pos >= SPILL_HEAD; pos += SPILL_HEAD + len) {
		len = get_be32(p + pos);
		if (len > b.len - pos - SPILL_HEAD)
			break;
		count++;
	}
	if (count && ((recs = calloc(count, sizeof(*recs))) == NULL ||
	    (keys = calloc(count, KEY_LEN)) == NULL)) {
		log_into(err, errlen, "cannot replay '%s': %s", l->spill, strerror(ENOMEM));
		goto out;
	}
	for (pos = 0; n + (size_t)unusable < count; pos += SPILL_HEAD + len) {
		len = get_be32(p + pos);
		if (record_decode(b.data + pos + SPILL_HEAD, len, &recs[n]) < 0) {
			unusable++;
			continue;
		}
		recs[n].flags |= RECORD_FLAG_REPLAYED;
		memcpy(keys + n * KEY_LEN, p + pos + 4, KEY_LEN);
		n++;
	}
	/* a torn last entry: its writer died before it returned */
	if (pos != b.len)
		unusable++;
	if (n && commit_records(l, recs, keys, n, &added, why, sizeof(why)) < 0) {
		log_into(err, errlen, "cannot replay '%s': %s", l->spill, why);
		goto out;
	}
	/* the ledger has the records: only now may the file forget them */
	if (unusable && keep_bad(l, &b) < 0) {
		log_into(err, errlen, "cannot keep the unreadable entries of '%s' in '%s': %s",
		    l->spill, l->spill_bad, strerror(errno));
		goto out;
	}
	if (ftruncate(fd, 0) < 0 || fsync(fd) < 0) {
		log_into(err, errlen, "cannot empty '%s' after replaying it: %s", l->spill,
		    strerror(errno));
		goto out;
	}
	rc = added > INT_MAX ? INT_MAX : (int)added;
out:
	close(fd);
	free(recs);
	free(keys);
	buf_release(&b);
	return rc;
}

int
ledger_sync(struct ledger *l)
{
	if (!same_process(l) || l->mode != LEDGER_WRITE)
		return -1;
	return mdb_env_sync(l->env, 1) == 0 ? 0 : -1;
}

int
ledger_reader_check(struct ledger *l)
{
	int dead = 0;

	if (!same_process(l) || mdb_reader_check(l->env, &dead) != 0)
		return -1;
	return dead;
}

/* A cursor on the records in a new read transaction: 0, or -1 (nothing open). */
static int
records_cursor(struct ledger *l, MDB_txn **txn, MDB_cursor **cur)
{
	if (!same_process(l) || txn_begin(l, MDB_RDONLY, txn) != 0)
		return -1;
	if (mdb_cursor_open(*txn, l->records, cur) != 0) {
		mdb_txn_abort(*txn);
		return -1;
	}
	return 0;
}

/*
 * Walks the records from the cursor position op finds (step after that),
 * decoding each and stopping at limit records, at an end time at or after
 * until_ns, or when fn says so.  Records of a newer schema are passed over.
 */
static int
walk(struct ledger *l, MDB_val *start, MDB_cursor_op op, MDB_cursor_op step, size_t limit,
    int64_t until_ns, ledger_visit_fn fn, void *arg)
{
	MDB_cursor *cur;
	MDB_txn *txn;
	MDB_val k = { 0, NULL }, v;
	struct record r;
	size_t seen = 0;
	int rc;

	if (records_cursor(l, &txn, &cur) < 0)
		return -1;
	if (start != NULL)
		k = *start;
	rc = MDB_NOTFOUND;
	while (seen < limit && (rc = mdb_cursor_get(cur, &k, &v, op)) == 0) {
		op = step;
		if (record_decode(v.mv_data, v.mv_size, &r) < 0)
			continue;
		if (r.end_ns >= until_ns)
			break;
		seen++;
		if (fn(arg, &r) != 0)
			break;
	}
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	return rc == 0 || rc == MDB_NOTFOUND ? 0 : -1;
}

int
ledger_newest(struct ledger *l, size_t limit, ledger_visit_fn fn, void *arg)
{
	return walk(l, NULL, MDB_LAST, MDB_PREV, limit, INT64_MAX, fn, arg);
}

int
ledger_range(struct ledger *l, int64_t since_ns, int64_t until_ns, ledger_visit_fn fn, void *arg)
{
	unsigned char start[KEY_LEN] = { 0 };
	uint64_t since = since_ns > 0 ? (uint64_t)since_ns : 0;
	MDB_val k = { sizeof(start), start };

	/* keys begin with the end time, big endian: start at the first at or after since */
	put_be(start, since, 8);
	return walk(l, &k, MDB_SET_RANGE, MDB_NEXT, SIZE_MAX, until_ns, fn, arg);
}

/*
 * Newest first within a window: the cursor starts at the first key at or
 * after until_ns (or the last key) and steps back, passing over records that
 * end at or after until_ns and stopping at the first that ended before
 * since_ns, after limit records, or when fn says so.
 */
int
ledger_range_newest(struct ledger *l, int64_t since_ns, int64_t until_ns, size_t limit,
    ledger_visit_fn fn, void *arg)
{
	unsigned char start[KEY_LEN] = { 0 };
	uint64_t until = until_ns > 0 ? (uint64_t)until_ns : 0;
	MDB_cursor *cur;
	MDB_txn *txn;
	MDB_val k = { sizeof(start), start }, v;
	MDB_cursor_op op = MDB_SET_RANGE;
	struct record r;
	size_t seen = 0;
	int rc;

	if (records_cursor(l, &txn, &cur) < 0)
		return -1;
	put_be(start, until, 8);
	if ((rc = mdb_cursor_get(cur, &k, &v, op)) == MDB_NOTFOUND)
		rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
	while (rc == 0 && seen < limit) {
		if (record_decode(v.mv_data, v.mv_size, &r) == 0 && r.end_ns < until_ns) {
			if (r.end_ns < since_ns)
				break;
			seen++;
			if (fn(arg, &r) != 0)
				break;
		}
		rc = mdb_cursor_get(cur, &k, &v, MDB_PREV);
	}
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	return rc == 0 || rc == MDB_NOTFOUND ? 0 : -1;
}

int
ledger_stat(struct ledger *l, uint64_t *records, uint64_t *used, uint64_t *map_size)
{
	MDB_envinfo info;
	MDB_stat est, st;
	MDB_txn *txn;
	int rc;

	if (!same_process(l) || txn_begin(l, MDB_RDONLY, &txn) != 0)
		return -1;
	rc = mdb_stat(txn, l->records, &st);
	if (rc == 0)
		rc = mdb_env_info(l->env, &info);
	if (rc == 0)
		rc = mdb_env_stat(l->env, &est);
	mdb_txn_abort(txn);
	if (rc != 0)
		return -1;
	*records = st.ms_entries;
	*used = ((uint64_t)info.me_last_pgno + 1) * est.ms_psize;
	*map_size = info.me_mapsize;
	return 0;
}

int
ledger_degraded(const struct ledger *l)
{
	struct stat st;

	/*
	 * The spill file is shared by every process of the ledger: while it
	 * holds records the ledger is behind, even if this process's last
	 * commit went through (a full map still takes a small commit now and
	 * then, in pages a finished reader gave back).
	 */
	return l->degraded || (stat(l->spill, &st) == 0 && st.st_size > 0);
}

int
ledger_txn_begin(struct ledger *l, int write, MDB_txn **txn)
{
	if (!same_process(l) || (write && l->mode != LEDGER_WRITE))
		return -1;
	return txn_begin(l, write ? 0 : MDB_RDONLY, txn);
}

unsigned
ledger_records_dbi(const struct ledger *l)
{
	return l->records;
}

unsigned
ledger_journal_dbi(const struct ledger *l)
{
	return l->journal;
}

unsigned
ledger_meta_dbi(const struct ledger *l)
{
	return l->meta;
}

int
ledger_grow(struct ledger *l)
{
	return grow_map(l);
}

const char *
ledger_dir(const struct ledger *l)
{
	return l->dir;
}

/* ---- followers of the journal (the shipper) ------------------------------------------ */

/* The meta key of follower name's position: "follow:" name. */
static MDB_val
follow_key(const char *name, char *buf, size_t len)
{
	MDB_val k;

	k.mv_size = (size_t)snprintf(buf, len, "follow:%s", name);
	k.mv_data = buf;
	return k;
}

int
ledger_follow_txn_position(MDB_txn *txn, struct ledger *l, const char *name, uint64_t *seq,
    int *found)
{
	char buf[80];
	MDB_val k = follow_key(name, buf, sizeof(buf)), v;
	int rc;

	*seq = 0;
	*found = 0;
	if ((rc = mdb_get(txn, l->meta, &k, &v)) == MDB_NOTFOUND)
		return 0;
	if (rc == 0 && v.mv_size == 8) {
		*seq = bytes_get_be64(v.mv_data);
		*found = 1;
	}
	return rc;
}

int
ledger_follow(struct ledger *l, const char *name, size_t max, ledger_follow_fn fn, void *arg,
    uint64_t *last, uint64_t *behind)
{
	unsigned char next[8];
	MDB_cursor *cur = NULL;
	MDB_txn *txn;
	MDB_val k, v, rv;
	struct record r;
	uint64_t seq = 0, top = 0;
	size_t n = 0;
	int rc, found;

	if ((rc = ledger_txn_begin(l, 0, &txn)) != 0)
		return -1;
	if ((rc = ledger_follow_txn_position(txn, l, name, &seq, &found)) != 0 ||
	    (rc = mdb_cursor_open(txn, l->journal, &cur)) != 0)
		goto out;
	*last = seq;
	if ((rc = mdb_cursor_get(cur, &k, &v, MDB_LAST)) == 0 && k.mv_size == 8)
		top = bytes_get_be64(k.mv_data);
	bytes_put_be64(next, seq + 1);
	k.mv_size = sizeof(next);
	k.mv_data = next;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0 && n < max;
	    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		uint64_t s;

		if (k.mv_size != 8)
			continue;
		s = bytes_get_be64(k.mv_data);
		rv.mv_size = 0;
		/* pruned since it was journalled, or a newer schema: passed over */
		if ((rc = mdb_get(txn, l->records, &v, &rv)) == 0 &&
		    record_decode(rv.mv_data, rv.mv_size, &r) == 0 && fn(arg, &r, s) != 0)
			break;
		if (rc != 0 && rc != MDB_NOTFOUND)
			goto out;
		*last = s;
		n++;
	}
	rc = rc == MDB_NOTFOUND || rc == 0 ? 0 : rc;
out:
	if (behind != NULL)
		*behind = top > *last ? top - *last : 0;
	if (cur != NULL)
		mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	return rc == 0 ? 0 : -1;
}

int
ledger_follow_commit(struct ledger *l, const char *name, uint64_t seq)
{
	char buf[80];
	unsigned char pos[8];
	MDB_val k = follow_key(name, buf, sizeof(buf)), v = { sizeof(pos), pos };
	MDB_txn *txn;
	int rc;

	bytes_put_be64(pos, seq);
	do {
		if ((rc = ledger_txn_begin(l, 1, &txn)) != 0)
			return -1;
		if ((rc = mdb_put(txn, l->meta, &k, &v, 0)) != 0)
			mdb_txn_abort(txn);
		else
			rc = mdb_txn_commit(txn);
	} while (rc == MDB_MAP_FULL && ledger_grow(l) == 0);
	return rc == 0 ? 0 : -1;
}
