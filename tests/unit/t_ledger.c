/*
 * The LMDB ledger in a scratch directory: batches and their order, a map
 * that grows without losing a record, the spill file and its replay (twice,
 * and after a torn write), a reader in one process while a writer appends in
 * another, dead readers, a ledger inherited across fork, and `tollctl logs`
 * (when TOLLCTL names the binary) against the ledgers written here.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <lmdb.h>

#include "buf.h"
#include "ledger.h"
#include "record.h"
#include "usage.h"
#include "tap.h"

#define BASE_NS		1795462266000000000LL	/* 2026-11-23T19:31:06Z */
#define MAX_SEEN	4096

static char root[256];

/* Record i of a test: every field derived from i, one millisecond apart. */
static void
mkrec(struct record *r, int i)
{
	memset(r, 0, sizeof(*r));
	snprintf(r->id, sizeof(r->id), "req-%d", i);
	r->start_ns = BASE_NS + (int64_t)i * 1000000 - 500000;
	r->first_byte_ns = BASE_NS + (int64_t)i * 1000000 - 400000;
	r->end_ns = BASE_NS + (int64_t)i * 1000000;
	r->worker = 1;
	r->status = i % 5 == 4 ? 502 : 200;
	snprintf(r->key, sizeof(r->key), "alias-%d", i % 3);
	snprintf(r->endpoint, sizeof(r->endpoint), "/v1/chat/completions");
	snprintf(r->model_requested, sizeof(r->model_requested), "model-%d", i);
	if (i % 3)
		snprintf(r->priced_as, sizeof(r->priced_as), "price-%d", i);
	snprintf(r->shape, sizeof(r->shape), "openai");
	snprintf(r->tier, sizeof(r->tier), "standard");
	r->tokens[RECORD_TOK_INPUT] = 100 + i;
	r->tokens[RECORD_TOK_CACHE_READ] = 10 * i;
	r->tokens[RECORD_TOK_CACHE_WRITE_5M] = 1;
	r->tokens[RECORD_TOK_OUTPUT] = 20 + i;
	r->tokens[RECORD_TOK_REASONING] = 5;
	r->cost[COST_INPUT] = 1000000LL * (i + 1);
	r->total = 1000000LL * (i + 1);
	r->usage_flags = i % 2 ? USAGE_FLAG_CACHE_EXCEEDS_PROMPT : 0;
	r->flags = r->status == 502 ? RECORD_FLAG_UPSTREAM_ERROR : 0;
}

static void
mkrecs(struct record *r, int first, int n)
{
	int i;

	for (i = 0; i < n; i++)
		mkrec(&r[i], first + i);
}

struct seen {
	struct record	*recs;
	size_t		 n;
	size_t		 stop_after;	/* 0: never stop */
};

static int
visit(void *arg, const struct record *r)
{
	struct seen *s = arg;

	if (s->n < MAX_SEEN)
		s->recs[s->n] = *r;
	s->n++;
	return s->stop_after && s->n >= s->stop_after;
}

/* The newest up to limit records into s (s->recs holds MAX_SEEN). */
static int
newest(struct ledger *l, size_t limit, struct seen *s)
{
	s->n = 0;
	return ledger_newest(l, limit, visit, s);
}

static uint64_t
count(struct ledger *l)
{
	uint64_t n, used, map;

	return ledger_stat(l, &n, &used, &map) == 0 ? n : (uint64_t)-1;
}

static uint64_t
map_size(struct ledger *l)
{
	uint64_t n, used, map;

	return ledger_stat(l, &n, &used, &map) == 0 ? map : 0;
}

static long long
file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

static int
write_file(const char *path, const void *p, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0640), rc;

	if (fd < 0)
		return -1;
	rc = write(fd, p, len) == (ssize_t)len ? 0 : -1;
	close(fd);
	return rc;
}

static char *
path_in(const char *name)
{
	static char paths[8][512];
	static int next;
	char *p = paths[next++ % 8];

	snprintf(p, sizeof(paths[0]), "%s/%s", root, name);
	return p;
}

static void
test_basic(struct seen *s)
{
	struct ledger *l = NULL, *r = NULL;
	struct record recs[16], one;
	char err[512];
	struct stat st;
	uint64_t n, used, map;
	size_t i;
	int same = 1;

	if (!ok(ledger_open(path_in("basic/ledger"), LEDGER_WRITE, 1 << 20, 1, &l, err,
	    sizeof(err)) == 0, "a new ledger in a new directory"))
		diag("%s", err);
	if (l == NULL)
		return;
	ok(stat(path_in("basic/ledger"), &st) == 0 && (st.st_mode & 0777) == 0750,
	    "the directory is created with mode 0750");
	ok(stat(path_in("basic"), &st) == 0 && (st.st_mode & 0777) == 0750,
	    "and so is its parent");
	ok(stat(path_in("basic/ledger/lock.mdb"), &st) == 0 && (st.st_mode & 0777) == 0660,
	    "the lock file takes readers of the service's group");
	mkrecs(recs, 0, 10);
	is_int(ledger_append(l, recs, 10, err, sizeof(err)), 0, "a batch of 10 is committed");
	mkrecs(recs, 10, 5);
	is_int(ledger_append(l, recs, 5, err, sizeof(err)), 0, "a batch of 5");
	is_int(ledger_append(l, recs, 0, err, sizeof(err)), 0, "an empty batch is a no-op");
	is_int(ledger_degraded(l), 0, "not degraded");
	ok(ledger_stat(l, &n, &used, &map) == 0, "ledger_stat");
	is_int((long long)n, 15, "15 records");
	ok(used > 0 && used <= map, "bytes in use (%llu) within the map", (unsigned long long)used);
	is_int((long long)map, 1 << 20, "the map is the size asked for");

	is_int(newest(l, 100, s), 0, "ledger_newest");
	is_int((long long)s->n, 15, "visits every record when the limit allows");
	for (i = 0; i < s->n && i < 15; i++) {
		mkrec(&one, 14 - (int)i);
		same &= memcmp(&one, &s->recs[i], sizeof(one)) == 0;
	}
	ok(same, "newest first, every field as written");
	newest(l, 3, s);
	ok(s->n == 3 && strcmp(s->recs[0].id, "req-14") == 0 && strcmp(s->recs[2].id, "req-12") == 0,
	    "a limit of 3: the newest 3");
	s->stop_after = 2;
	newest(l, 100, s);
	s->stop_after = 0;
	is_int((long long)s->n, 2, "the visitor stops the walk");
	is_int(ledger_sync(l), 0, "ledger_sync");
	is_int(ledger_reader_check(l), 0, "no dead readers");
	/* LMDB allows one environment per file and process: readers beside writers are
	   other processes (test_fork_reader) */
	ledger_close(l);

	if (!ok(ledger_open(path_in("basic/ledger"), LEDGER_READ, 0, 0, &r, err, sizeof(err)) == 0,
	    "a reader of the ledger"))
		diag("%s", err);
	if (r) {
		is_int((long long)count(r), 15, "sees the 15 records");
		is_int(ledger_append(r, recs, 1, err, sizeof(err)), -1, "cannot append");
		ok(strstr(err, "read-only") != NULL, "and says it is read-only: %s", err);
		is_int(ledger_replay_spill(r, err, sizeof(err)), -1, "nor replay");
		ledger_close(r);
	}

	r = NULL;
	is_int(ledger_open(path_in("nowhere"), LEDGER_READ, 0, 0, &r, err, sizeof(err)), -1,
	    "a reader of a missing ledger fails");
	ok(strstr(err, path_in("nowhere")) && strstr(err, "cannot open ledger"),
	    "naming it: %s", err);
	mkdir(path_in("empty"), 0750);
	is_int(ledger_open(path_in("empty"), LEDGER_READ, 0, 0, &r, err, sizeof(err)), -1,
	    "a reader of a directory without a ledger fails");
	ok(stat(path_in("empty/lock.mdb"), &st) < 0, "and leaves no lock file in it");
	ledger_close(NULL);
}

/* A ledger whose meta says a later tollgate wrote it. */
static void
test_layout(void)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_val k = { 6, "layout" }, v = { 4, "\0\0\0\2" };
	struct ledger *l = NULL;
	char err[512];

	mkdir(path_in("layout"), 0750);
	if (mdb_env_create(&env) || mdb_env_set_maxdbs(env, 4) ||
	    mdb_env_open(env, path_in("layout"), 0, 0640) || mdb_txn_begin(env, NULL, 0, &txn) ||
	    mdb_dbi_open(txn, "meta", MDB_CREATE, &dbi) || mdb_put(txn, dbi, &k, &v, 0) ||
	    mdb_txn_commit(txn))
		diag("cannot set up the layout test");
	mdb_env_close(env);
	is_int(ledger_open(path_in("layout"), LEDGER_WRITE, 1 << 20, 1, &l, err, sizeof(err)), -1,
	    "a ledger of a newer layout is refused");
	ok(strstr(err, "newer") != NULL, "saying why: %s", err);
	ledger_close(l);
}

static void
test_growth(struct seen *s)
{
	struct ledger *l = NULL;
	struct record recs[10], one;
	char err[512];
	int i, bad = 0, same = 1;

	if (!ok(ledger_open(path_in("grow"), LEDGER_WRITE, 64 << 10, 2, &l, err, sizeof(err)) == 0,
	    "a ledger with a 64 KiB map"))
		diag("%s", err);
	if (l == NULL)
		return;
	for (i = 0; i < 1000; i += 10) {
		mkrecs(recs, i, 10);
		if (ledger_append(l, recs, 10, err, sizeof(err)) != 0) {
			bad++;
			diag("%s", err);
		}
	}
	is_int(bad, 0, "1000 records in batches of 10, every batch committed");
	is_int((long long)count(l), 1000, "all 1000 are there");
	ok(map_size(l) > (64 << 10) && map_size(l) <= 64 * (64 << 10),
	    "the map grew (to %llu bytes), within 64 times its size",
	    (unsigned long long)map_size(l));
	is_int(ledger_degraded(l), 0, "growing is not degraded");
	ok(file_size(path_in("grow/spill.msgpack")) < 0, "nothing spilled");
	newest(l, 2000, s);
	for (i = 0; i < 1000 && (size_t)i < s->n; i++) {
		mkrec(&one, 999 - i);
		same &= memcmp(&one, &s->recs[i], sizeof(one)) == 0;
	}
	ok(s->n == 1000 && same, "no record lost or changed, newest first");

	/* two records that ended in the same nanosecond, in one batch and in two */
	mkrec(&recs[0], 5000);
	mkrec(&recs[1], 5000);
	snprintf(recs[1].id, sizeof(recs[1].id), "twin");
	is_int(ledger_append(l, recs, 2, err, sizeof(err)), 0, "two records with one end time");
	is_int(ledger_append(l, recs, 1, err, sizeof(err)), 0, "and the same record again");
	is_int((long long)count(l), 1003, "each is kept");
	ledger_close(l);
}

static void
test_spill(struct seen *s)
{
	struct ledger *l = NULL;
	struct record recs[50];
	struct buf saved = { 0 }, torn = { 0 };
	char err[1024];
	uint64_t committed = 0;
	long long spill_size;
	int i, rc = 0, replayed = 1, untouched = 1;

	/* 32 KiB grows to 2 MiB at most: about 8000 records fill it */
	if (!ok(ledger_open(path_in("spill"), LEDGER_WRITE, 32 << 10, 3, &l, err, sizeof(err)) == 0,
	    "a ledger with a 32 KiB map"))
		diag("%s", err);
	if (l == NULL)
		return;
	for (i = 0; i < 100000; i += 50) {
		mkrecs(recs, i, 50);
		if ((rc = ledger_append(l, recs, 50, err, sizeof(err))) != 0)
			break;
		committed += 50;
	}
	is_int(rc, 1, "once the map may grow no more, a batch is spilled");
	ok(strstr(err, "spilled") && strstr(err, "is full"), "err says so: %s", err);
	is_int((long long)map_size(l), 64 * (32 << 10), "the map grew to 64 times its size first");
	is_int(ledger_degraded(l), 1, "degraded");
	is_int((long long)count(l), (long long)committed, "the spilled batch is not in the ledger");
	mkrecs(recs, i + 50, 50);
	is_int(ledger_append(l, recs, 50, err, sizeof(err)), 1, "the next batch spills too");
	spill_size = file_size(path_in("spill/spill.msgpack"));
	ok(spill_size > 100 * (4 + 16), "the spill file holds both (%lld bytes)", spill_size);

	/* neither the ledger nor the spill file: the caller keeps the records */
	rename(path_in("spill/spill.msgpack"), path_in("spill/spill.keep"));
	mkdir(path_in("spill/spill.msgpack"), 0750);
	is_int(ledger_append(l, recs, 50, err, sizeof(err)), -1,
	    "when the spill file cannot be written either: -1");
	ok(strstr(err, "cannot spill") != NULL, "err says both: %s", err);
	rmdir(path_in("spill/spill.msgpack"));
	rename(path_in("spill/spill.keep"), path_in("spill/spill.msgpack"));

	is_int(ledger_replay_spill(l, err, sizeof(err)), -1, "a replay into a full ledger fails");
	is_int(file_size(path_in("spill/spill.msgpack")), spill_size, "and keeps the spill file");
	ledger_close(l);

	/* the operator gives the ledger more room */
	l = NULL;
	if (!ok(ledger_open(path_in("spill"), LEDGER_WRITE, 8 << 20, 3, &l, err, sizeof(err)) == 0,
	    "reopened with an 8 MiB map"))
		diag("%s", err);
	if (l == NULL)
		return;
	buf_read_file(&saved, path_in("spill/spill.msgpack"));
	is_int(ledger_replay_spill(l, err, sizeof(err)), 100, "the replay moves 100 records");
	is_int((long long)count(l), (long long)committed + 100, "into the ledger");
	is_int(file_size(path_in("spill/spill.msgpack")), 0, "and empties the spill file");
	newest(l, 101, s);
	for (i = 0; i < 100 && (size_t)i < s->n; i++)
		replayed &= (s->recs[i].flags & RECORD_FLAG_REPLAYED) != 0;
	ok(s->n == 101 && replayed, "the 100 newest are flagged replayed");
	ok(s->n == 101 && !(s->recs[100].flags & RECORD_FLAG_REPLAYED),
	    "the record before them is not");
	for (i = 0; i < 100 && (size_t)i < s->n; i++) {
		struct record want;

		mkrec(&want, (int)committed + 99 - i);
		want.flags |= RECORD_FLAG_REPLAYED;
		untouched &= memcmp(&want, &s->recs[i], sizeof(want)) == 0;
	}
	ok(untouched, "every field as it was spilled");
	is_int(ledger_replay_spill(l, err, sizeof(err)), 0, "a second replay has nothing to do");

	/* a crash between writing the ledger and emptying the file */
	write_file(path_in("spill/spill.msgpack"), saved.data, saved.len);
	is_int(ledger_replay_spill(l, err, sizeof(err)), 0,
	    "replaying the same spill file again adds nothing");
	is_int((long long)count(l), (long long)committed + 100, "no duplicates");

	/* a writer killed in the middle of an entry */
	buf_append(&torn, saved.data, saved.len);
	buf_append(&torn, saved.data, 30);
	write_file(path_in("spill/spill.msgpack"), torn.data, torn.len);
	is_int(ledger_replay_spill(l, err, sizeof(err)), 0, "a torn last entry is not replayed");
	is_int(file_size(path_in("spill/spill.msgpack.bad")), (long long)torn.len,
	    "the file is kept aside in spill.msgpack.bad");
	is_int(file_size(path_in("spill/spill.msgpack")), 0, "and the spill file emptied");

	mkrecs(recs, 200000, 5);
	is_int(ledger_append(l, recs, 5, err, sizeof(err)), 0, "with room again, appends commit");
	is_int(ledger_degraded(l), 0, "and the ledger is healthy");
	ledger_close(l);
	buf_release(&saved);
	buf_release(&torn);
}

/* A writer in a child process appends while this process reads. */
static void
test_fork_reader(struct seen *s)
{
	struct ledger *l = NULL;
	struct record recs[10];
	char err[512], c = 0;
	int ready[2], go[2], status = -1, torn = 0, backwards = 0, polls = 0;
	uint64_t last = 0, n;
	pid_t pid, done = 0;

	if (pipe(ready) < 0 || pipe(go) < 0) {
		ok(0, "pipes");
		return;
	}
	fflush(stdout);
	if ((pid = fork()) == 0) {
		struct ledger *w = NULL;
		int i, fail = 0;

		close(ready[0]);
		close(go[1]);
		if (ledger_open(path_in("shared"), LEDGER_WRITE, 64 << 10, 7, &w, err,
		    sizeof(err)) < 0)
			_exit(2);
		mkrecs(recs, 0, 10);
		fail |= ledger_append(w, recs, 10, err, sizeof(err)) != 0;
		if (write(ready[1], "r", 1) != 1 || read(go[0], &c, 1) != 1)
			_exit(3);
		for (i = 10; i < 500; i += 10) {
			mkrecs(recs, i, 10);
			fail |= ledger_append(w, recs, 10, err, sizeof(err)) != 0;
		}
		ledger_close(w);
		_exit(fail ? 4 : 0);
	}
	close(ready[1]);
	close(go[0]);
	if (pid < 0 || read(ready[0], &c, 1) != 1) {
		ok(0, "the writer started");
		if (pid > 0)
			waitpid(pid, NULL, 0);
		close(ready[0]);
		close(go[1]);
		return;
	}
	if (!ok(ledger_open(path_in("shared"), LEDGER_READ, 0, 0, &l, err, sizeof(err)) == 0,
	    "a reader opens the ledger a child is writing"))
		diag("%s", err);
	if (l == NULL) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return;
	}
	is_int((long long)count(l), 10, "it sees the first batch");
	if (write(go[1], "g", 1) != 1)
		diag("cannot start the writer");
	/* read while the child writes: whole batches, never fewer than before */
	while (done == 0) {
		done = waitpid(pid, &status, WNOHANG);
		n = count(l);
		torn |= n % 10 != 0;
		backwards |= n < last;
		last = n;
		polls++;
	}
	close(ready[0]);
	close(go[1]);
	ok(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the writer appended every batch");
	ok(!torn && !backwards, "%d reads during the writes saw whole batches, in order", polls);
	is_int((long long)count(l), 500, "the reader sees all 500 records");
	ok(map_size(l) > (64 << 10), "after adopting the map the writer grew");
	newest(l, 1000, s);
	ok(s->n == 500 && strcmp(s->recs[0].id, "req-499") == 0 &&
	    strcmp(s->recs[499].id, "req-0") == 0, "newest first, all of them");
	ledger_close(l);
}

static void
test_reader_check(void)
{
	struct ledger *l = NULL;
	char err[512];
	int status = -1;
	pid_t pid;

	if (!ok(ledger_open(path_in("readers"), LEDGER_WRITE, 1 << 20, 1, &l, err, sizeof(err)) == 0,
	    "a ledger for the reader check"))
		diag("%s", err);
	if (l == NULL)
		return;
	fflush(stdout);
	if ((pid = fork()) == 0) {
		/* a reader that dies inside its transaction */
		MDB_env *env;
		MDB_txn *txn;

		if (mdb_env_create(&env) || mdb_env_set_maxdbs(env, 4) ||
		    mdb_env_open(env, path_in("readers"), MDB_RDONLY | MDB_NOTLS, 0) ||
		    mdb_txn_begin(env, NULL, MDB_RDONLY, &txn))
			_exit(1);
		_exit(0);
	}
	waitpid(pid, &status, 0);
	ok(WIFEXITED(status) && WEXITSTATUS(status) == 0, "a child read and died mid-transaction");
	is_int(ledger_reader_check(l), 1, "ledger_reader_check clears its slot");
	is_int(ledger_reader_check(l), 0, "and then there is none");
	ledger_close(l);
}

/* A child that inherits an open ledger may not use it, nor close the parent's. */
static void
test_fork_guard(struct seen *s)
{
	struct ledger *l = NULL;
	struct record rec;
	char err[512];
	int status = -1;
	pid_t pid;

	if (ledger_open(path_in("guard"), LEDGER_WRITE, 1 << 20, 1, &l, err, sizeof(err)) < 0) {
		ok(0, "%s", err);
		return;
	}
	mkrec(&rec, 1);
	ledger_append(l, &rec, 1, err, sizeof(err));
	fflush(stdout);
	if ((pid = fork()) == 0) {
		struct seen mine = { s->recs, 0, 0 };
		int bad = 0;

		bad |= ledger_append(l, &rec, 1, err, sizeof(err)) != -1;
		bad |= strstr(err, "another process") == NULL;
		bad |= newest(l, 10, &mine) != -1;
		bad |= ledger_stat(l, &(uint64_t){ 0 }, &(uint64_t){ 0 }, &(uint64_t){ 0 }) != -1;
		ledger_close(l);
		_exit(bad);
	}
	waitpid(pid, &status, 0);
	ok(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "in a forked child the inherited ledger refuses every call");
	mkrec(&rec, 2);
	is_int(ledger_append(l, &rec, 1, err, sizeof(err)), 0,
	    "and the parent's ledger still works after the child closed its copy");
	newest(l, 10, s);
	is_int((long long)s->n, 2, "with both records");
	ledger_close(l);
}

/* Runs tollctl with args; stdout and stderr into out and err; the exit status. */
static int
tollctl(const char *tool, const char *args, struct buf *out, struct buf *errb)
{
	char cmd[2048];
	int status;

	snprintf(cmd, sizeof(cmd), "'%s' %s >'%s' 2>'%s'", tool, args, path_in("cli.out"),
	    path_in("cli.err"));
	status = system(cmd);
	out->len = errb->len = 0;
	buf_read_file(out, path_in("cli.out"));
	buf_read_file(errb, path_in("cli.err"));
	if (out->data == NULL)
		buf_append(out, "", 0);
	if (errb->data == NULL)
		buf_append(errb, "", 0);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int
lines(const char *p)
{
	int n = 0;

	for (; *p; p++)
		n += *p == '\n';
	return n;
}

static void
test_cli(struct seen *s)
{
	const char *tool = getenv("TOLLCTL");
	struct ledger *l = NULL;
	struct buf out = { 0 }, errb = { 0 }, want = { 0 };
	char args[1024], err[512];

	if (tool == NULL || access(tool, X_OK) < 0) {
		skip(10, "TOLLCTL is not set to the tollctl binary");
		return;
	}
	/* a writer keeps the ledger open, as the gateway would */
	if (ledger_open(path_in("basic/ledger"), LEDGER_WRITE, 1 << 20, 1, &l, err,
	    sizeof(err)) < 0) {
		ok(0, "%s", err);
		return;
	}
	snprintf(args, sizeof(args), "logs --ledger '%s' --limit 3", path_in("basic/ledger"));
	is_int(tollctl(tool, args, &out, &errb), 0, "tollctl logs --limit 3 exits 0");
	is_str(out.data,
	    "TIME (UTC)           STATUS  MODEL     PRICED AS         IN      CACHE        OUT"
	    "        COST USD  FLAGS\n"
	    "2026-11-23 19:31:06     502  model-14  price-14         114        141         39"
	    "        0.000015  upstream_error\n"
	    "2026-11-23 19:31:06     200  model-13  price-13         113        131         38"
	    "        0.000014  cache_exceeds_prompt\n"
	    "2026-11-23 19:31:06     200  model-12  -                112        121         37"
	    "        0.000013  -\n",
	    "a table of the newest 3, exact costs, unpriced as -");

	newest(l, 1, s);
	record_to_json(&s->recs[0], &want);
	buf_append(&want, "\n", 1);
	snprintf(args, sizeof(args), "logs --ledger '%s' --limit 1 --json", path_in("basic/ledger"));
	is_int(tollctl(tool, args, &out, &errb), 0, "tollctl logs --json exits 0");
	is_str(out.data, want.data, "one JSON line: record_to_json of the newest record");
	snprintf(args, sizeof(args), "logs --ledger '%s' --json", path_in("basic/ledger"));
	tollctl(tool, args, &out, &errb);
	is_int(lines(out.data), 15, "without --limit: up to 20, here all 15");
	setenv("TOLLGATE_LEDGER", path_in("basic/ledger"), 1);
	is_int(tollctl(tool, "logs --limit 1 --json", &out, &errb), 0,
	    "TOLLGATE_LEDGER names the ledger when --ledger does not");
	is_str(out.data, want.data, "the same record");
	unsetenv("TOLLGATE_LEDGER");

	snprintf(args, sizeof(args), "logs --ledger '%s'", path_in("missing"));
	is_int(tollctl(tool, args, &out, &errb), 1, "a missing ledger exits 1");
	ok(strstr(errb.data, path_in("missing")) != NULL && strchr(errb.data, '\n') ==
	    errb.data + errb.len - 1, "with one line naming it: %.*s",
	    (int)(errb.len ? errb.len - 1 : 0), errb.data);
	snprintf(args, sizeof(args), "logs --ledger '%s' --limit 0", path_in("basic/ledger"));
	is_int(tollctl(tool, args, &out, &errb), 1, "--limit 0 exits 1");
	ledger_close(l);
	buf_release(&out);
	buf_release(&errb);
	buf_release(&want);
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

int
main(void)
{
	struct seen s = { 0 };

	umask(022);
	snprintf(root, sizeof(root), "/tmp/t_ledger.XXXXXX");
	if (mkdtemp(root) == NULL) {
		printf("Bail out! mkdtemp: %s\n", strerror(errno));
		return 1;
	}
	s.recs = calloc(MAX_SEEN, sizeof(*s.recs));
	test_basic(&s);
	test_layout();
	test_growth(&s);
	test_spill(&s);
	test_fork_reader(&s);
	test_reader_check();
	test_fork_guard(&s);
	test_cli(&s);
	free(s.recs);
	nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return done_testing();
}
