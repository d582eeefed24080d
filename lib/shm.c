/*
 * The shared header and per-generation price tables (see shm.h).  The master
 * publishes; workers and tollctl map.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "shm.h"

struct shm {
	struct shm_header	*h;
	char			 dir[4096];
	int			 writable;
};

static int
map_header(const char *run_dir, int writable, struct shm **out, char *err, size_t errlen)
{
	struct shm *s = calloc(1, sizeof(*s));
	char path[4200];
	int fd;
	void *p;

	if (s == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	snprintf(s->dir, sizeof(s->dir), "%s", run_dir);
	snprintf(path, sizeof(path), "%s/tollgate.shm", run_dir);
	if (writable) {
		if (mkdir(run_dir, 0750) < 0 && errno != EEXIST) {
			snprintf(err, errlen, "cannot create run directory '%s': %s", run_dir,
			    strerror(errno));
			free(s);
			return -1;
		}
		fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
		if (fd >= 0 && ftruncate(fd, sizeof(struct shm_header)) < 0) {
			close(fd);
			fd = -1;
		}
	} else
		fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "cannot open '%s': %s", path, strerror(errno));
		free(s);
		return -1;
	}
	p = mmap(NULL, sizeof(struct shm_header), writable ? PROT_READ | PROT_WRITE : PROT_READ,
	    MAP_SHARED, fd, 0);
	close(fd);
	if (p == MAP_FAILED) {
		snprintf(err, errlen, "cannot map '%s': %s", path, strerror(errno));
		free(s);
		return -1;
	}
	s->h = p;
	s->writable = writable;
	if (!writable && (s->h->magic != SHM_MAGIC || s->h->version != SHM_VERSION)) {
		snprintf(err, errlen, "'%s' is not a tollgate %u shared state file", path, SHM_VERSION);
		shm_detach(s);
		return -1;
	}
	*out = s;
	return 0;
}

int
shm_create(const char *run_dir, struct shm **out, char *err, size_t errlen)
{
	struct shm_header *h;

	if (map_header(run_dir, 1, out, err, errlen) < 0)
		return -1;
	h = (*out)->h;
	/* a fresh start: generations restart, readers of an old master are gone */
	__atomic_store_n(&h->seq, 0, __ATOMIC_RELEASE);
	h->magic = SHM_MAGIC;
	h->version = SHM_VERSION;
	h->size = sizeof(*h);
	h->generation = 0;
	h->prices_file[0] = '\0';
	h->master_pid = (uint64_t)getpid();
	return 0;
}

void
shm_set_master_pid(struct shm *s, uint64_t pid)
{
	__atomic_add_fetch(&s->h->seq, 1, __ATOMIC_ACQ_REL);
	s->h->master_pid = pid;
	__atomic_add_fetch(&s->h->seq, 1, __ATOMIC_ACQ_REL);
}

int
shm_attach(const char *run_dir, struct shm **out, char *err, size_t errlen)
{
	return map_header(run_dir, 0, out, err, errlen);
}

void
shm_detach(struct shm *s)
{
	if (s == NULL)
		return;
	munmap(s->h, sizeof(*s->h));
	free(s);
}

uint64_t
shm_generation(const struct shm *s)
{
	return __atomic_load_n(&s->h->generation, __ATOMIC_ACQUIRE);
}

void
shm_read_header(const struct shm *s, struct shm_header *out)
{
	uint64_t before, after;

	do {
		before = __atomic_load_n(&s->h->seq, __ATOMIC_ACQUIRE);
		memcpy(out, s->h, sizeof(*out));
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		after = __atomic_load_n(&s->h->seq, __ATOMIC_ACQUIRE);
	} while ((before & 1) || before != after);
}

uint64_t
shm_publish_prices(struct shm *s, struct price_table *t, char *err, size_t errlen)
{
	struct shm_header *h = s->h;
	uint64_t gen = h->generation + 1;
	char name[64], tmp[4400], path[4400], old[4400];
	ssize_t n;
	int fd;

	t->generation = gen;
	snprintf(name, sizeof(name), "prices-%llu.tbl", (unsigned long long)gen);
	snprintf(path, sizeof(path), "%s/%s", s->dir, name);
	snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", s->dir, name);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (fd < 0) {
		snprintf(err, errlen, "cannot create '%s': %s", tmp, strerror(errno));
		return 0;
	}
	n = write(fd, t, t->size);
	if (n != (ssize_t)t->size || close(fd) < 0) {
		snprintf(err, errlen, "cannot write '%s': %s", tmp, n < 0 ? strerror(errno) : "short write");
		unlink(tmp);
		return 0;
	}
	/* the file is complete before anyone can find it */
	if (rename(tmp, path) < 0) {
		snprintf(err, errlen, "cannot rename '%s': %s", tmp, strerror(errno));
		unlink(tmp);
		return 0;
	}
	snprintf(old, sizeof(old), "%s/%s", s->dir, h->prices_file);
	__atomic_add_fetch(&h->seq, 1, __ATOMIC_ACQ_REL);
	snprintf(h->prices_file, sizeof(h->prices_file), "%s", name);
	h->published_ns = clock_now_ns();
	__atomic_store_n(&h->generation, gen, __ATOMIC_RELEASE);
	__atomic_add_fetch(&h->seq, 1, __ATOMIC_ACQ_REL);
	if (gen > 1)
		unlink(old);
	return gen;
}

int
shm_map_prices(struct shm *s, struct price_view *v, char *err, size_t errlen)
{
	struct shm_header h;
	char path[4400];
	struct stat st;
	int fd, tries;
	void *p;

	for (tries = 0; tries < 100; tries++) {
		shm_read_header(s, &h);
		if (h.generation == 0) {
			snprintf(err, errlen, "no price table has been published yet");
			return -1;
		}
		snprintf(path, sizeof(path), "%s/%s", s->dir, h.prices_file);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0 && errno == ENOENT)
			continue;	/* replaced and unlinked meanwhile: read the header again */
		if (fd < 0 || fstat(fd, &st) < 0) {
			snprintf(err, errlen, "cannot open '%s': %s", path, strerror(errno));
			if (fd >= 0)
				close(fd);
			return -1;
		}
		p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
		close(fd);
		if (p == MAP_FAILED) {
			snprintf(err, errlen, "cannot map '%s': %s", path, strerror(errno));
			return -1;
		}
		v->table = p;
		v->size = (size_t)st.st_size;
		if ((size_t)st.st_size < sizeof(struct price_table) ||
		    v->table->magic != PRICE_TABLE_MAGIC || v->table->version != PRICE_TABLE_VERSION ||
		    v->table->size != (uint64_t)st.st_size) {
			snprintf(err, errlen, "'%s' is not a valid price table", path);
			munmap(p, (size_t)st.st_size);
			return -1;
		}
		v->generation = v->table->generation;
		v->refs = 0;
		return 0;
	}
	snprintf(err, errlen, "the price table kept changing while being mapped");
	return -1;
}

void
shm_unmap_prices(struct price_view *v)
{
	if (v->table != NULL)
		munmap((void *)v->table, v->size);
	v->table = NULL;
	v->size = 0;
}
