/* gst-vss Valkey module: the worker threads
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Two queues, no server calls (so the unit tests can drive them):
 *
 *  - mutations (index updates read from the keyspace by the main thread)
 *    are applied in the order they were queued by one indexing thread: the
 *    vector index serialises its writers anyway, and order per key matters;
 *  - reads (FT.SEARCH, FT.INFO) run on `n` reader threads, each one only
 *    once every mutation queued before it has been applied: a search sees
 *    every write whose reply was sent before the search arrived
 *    (read-your-writes, for every client).
 *
 * The mutation queue is bounded: vss_workers_mutate() waits for room, which
 * is the only time the main thread waits for a worker.
 */
#ifndef VSS_WORKERS_H
#define VSS_WORKERS_H

#include <stddef.h>
#include <stdint.h>

typedef struct vss_work vss_work;

/* Runs on a worker thread (or on the caller's, see vss_workers_run_now);
 * owns `w` from then on. */
typedef void (*vss_work_fn) (vss_work *w);

struct vss_work {
  vss_work *next;
  vss_work_fn run;
  uint64_t barrier; /* reads: mutations that must be applied first */
};

typedef struct {
  unsigned readers;
  size_t mutations_queued; /* waiting or being applied */
  size_t reads_queued;     /* waiting or running */
  uint64_t mutations_applied;
  uint64_t reads_done;
  uint64_t main_waits;   /* times the main thread waited for room */
  uint64_t main_wait_us; /* ... and for how long in all */
  uint64_t main_wait_max_us;
} vss_workers_stats;

/* Starts `readers` reader threads and the indexing thread, with room for
 * `queue_limit` queued mutations. 0 or -1 (threads could not start). */
int vss_workers_start (unsigned readers, size_t queue_limit);
/* Applies what is queued, then stops and joins every thread. No read may
 * be queued (the server refuses to unload a module with blocked clients). */
void vss_workers_stop (void);
int vss_workers_running (void);

/* Queues a mutation, first waiting while the queue is full. */
void vss_workers_mutate (vss_work *w);
/* Mutations queued and not yet applied. */
size_t vss_workers_queued (void);
/* Queues a read behind the mutations queued so far. */
void vss_workers_read (vss_work *w);
/* Waits until every mutation queued so far has been applied (for reads
 * that must run on the caller's thread: MULTI, scripts). */
void vss_workers_drain (void);

void vss_workers_get_stats (vss_workers_stats *s);

#endif /* VSS_WORKERS_H */
