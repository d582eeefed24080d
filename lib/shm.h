/*
 * Live state shared by the master with every process: a small header file,
 * run_dir/tollgate.shm, mapped by all, and one immutable price-table file per
 * generation, run_dir/prices-<generation>.tbl.  Only the master writes.  A
 * reader never locks: it reads the header under a sequence counter (odd while
 * the master writes, retried when it changed), maps the named table, and
 * keeps it mapped for as long as requests started under it are in flight.
 * tollctl maps the same files to read live state.
 */
#ifndef TOLLGATE_SHM_H
#define TOLLGATE_SHM_H

#include <stddef.h>
#include <stdint.h>

#include "pricemap.h"

#define SHM_MAGIC	0x746f6c6cu	/* "toll" */
#define SHM_VERSION	1u

struct shm_header {
	uint32_t	magic;
	uint32_t	version;
	uint64_t	size;		/* of this header */
	uint64_t	seq;		/* odd while the master updates */
	uint64_t	generation;	/* price-table generation in force */
	int64_t		published_ns;	/* when it was published, unix ns */
	uint64_t	master_pid;
	char		prices_file[256];	/* file name within run_dir */
};

struct shm;

/* A mapped price table of one generation. */
struct price_view {
	uint64_t			 generation;
	const struct price_table	*table;
	size_t				 size;
	int				 refs;	/* requests still using it */
};

/* Master: creates (or takes over) run_dir/tollgate.shm.  0, or -1 and err. */
int shm_create(const char *run_dir, struct shm **out, char *err, size_t errlen);
/* Master: the pid readers are told, when it changed (daemon() forks). */
void shm_set_master_pid(struct shm *s, uint64_t pid);
/*
 * Master: writes t (t->generation is set here) as the next generation's file
 * and makes it current.  The previous generation's file is unlinked: readers
 * that mapped it keep their mapping.  Returns the new generation, or 0 and err.
 */
uint64_t shm_publish_prices(struct shm *s, struct price_table *t, char *err, size_t errlen);

/* Any process: maps the header read-only. */
int shm_attach(const char *run_dir, struct shm **out, char *err, size_t errlen);
void shm_detach(struct shm *s);

/* The generation in force (one atomic read). */
uint64_t shm_generation(const struct shm *s);

/* Maps the current price table into *v (refs = 0).  0, or -1 and err. */
int shm_map_prices(struct shm *s, struct price_view *v, char *err, size_t errlen);
void shm_unmap_prices(struct price_view *v);

/* A copy of the header, read consistently. */
void shm_read_header(const struct shm *s, struct shm_header *out);

#endif
