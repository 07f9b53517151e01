/* gst-vss Valkey module: the worker threads
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * `lock` guards everything below it in this file: both queues, the
 * counters and `stopping`. It is never held while work runs, and work
 * never takes it, so it orders before every lock of the indexes.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include "vss-workers.h"

/* Workers run at a lower priority than the server's main thread: with
 * more busy threads than cores, the scheduler then lets the main thread
 * (which serves every client) preempt a worker as soon as a command
 * arrives, instead of waiting for the end of the worker's time slice. */
#define WORKER_NICE 5

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t mutation_cond = PTHREAD_COND_INITIALIZER; /* indexer */
static pthread_cond_t read_cond = PTHREAD_COND_INITIALIZER;     /* readers */
static pthread_cond_t applied_cond = PTHREAD_COND_INITIALIZER;  /* waiters */

static int running, stopping;
static pthread_t indexer;
static pthread_t *readers;
static unsigned n_readers;
static size_t limit;

static vss_work *mut_head, *mut_tail;
static vss_work *read_head, *read_tail;
static uint64_t enqueued, applied;
static vss_workers_stats stats;

static uint64_t
mono_us (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* Linux: a thread's nice value is set through its thread id. Best effort:
 * a server already at a high nice value keeps its own. */
static void
lower_priority (void)
{
  pid_t tid = (pid_t)syscall (SYS_gettid);
  int cur;

  errno = 0;
  cur = getpriority (PRIO_PROCESS, (id_t)tid);
  if (errno == 0 && cur < WORKER_NICE)
    setpriority (PRIO_PROCESS, (id_t)tid, WORKER_NICE);
}

static void *
indexer_main (void *data)
{
  (void)data;
  lower_priority ();
  pthread_mutex_lock (&lock);
  for (;;) {
    vss_work *w;
    while (mut_head == NULL && !stopping)
      pthread_cond_wait (&mutation_cond, &lock);
    if (mut_head == NULL)
      break; /* stopping, and everything applied */
    w = mut_head;
    mut_head = w->next;
    if (mut_head == NULL)
      mut_tail = NULL;
    pthread_mutex_unlock (&lock);
    w->run (w);
    pthread_mutex_lock (&lock);
    applied++;
    stats.mutations_applied++;
    stats.mutations_queued--;
    pthread_cond_broadcast (&read_cond);
    pthread_cond_broadcast (&applied_cond);
  }
  pthread_mutex_unlock (&lock);
  return NULL;
}

static void *
reader_main (void *data)
{
  (void)data;
  lower_priority ();
  pthread_mutex_lock (&lock);
  for (;;) {
    vss_work *w;
    /* Reads wait in arrival order, so the head has the lowest barrier. */
    while (!(read_head != NULL && read_head->barrier <= applied)
           && !(stopping && read_head == NULL))
      pthread_cond_wait (&read_cond, &lock);
    if (read_head == NULL)
      break;
    w = read_head;
    read_head = w->next;
    if (read_head == NULL)
      read_tail = NULL;
    /* The next read may be runnable too. */
    if (read_head != NULL && read_head->barrier <= applied)
      pthread_cond_signal (&read_cond);
    pthread_mutex_unlock (&lock);
    w->run (w);
    pthread_mutex_lock (&lock);
    stats.reads_done++;
    stats.reads_queued--;
  }
  pthread_mutex_unlock (&lock);
  return NULL;
}

int
vss_workers_start (unsigned n, size_t queue_limit)
{
  if (running)
    return 0;
  readers = calloc (n ? n : 1, sizeof *readers);
  if (readers == NULL)
    return -1;
  stopping = 0;
  limit = queue_limit ? queue_limit : 1;
  if (pthread_create (&indexer, NULL, indexer_main, NULL) != 0) {
    free (readers);
    readers = NULL;
    return -1;
  }
  for (n_readers = 0; n_readers < n; n_readers++)
    if (pthread_create (&readers[n_readers], NULL, reader_main, NULL) != 0) {
      running = 1;
      vss_workers_stop ();
      return -1;
    }
  running = 1;
  stats.readers = n;
  return 0;
}

void
vss_workers_stop (void)
{
  if (!running)
    return;
  pthread_mutex_lock (&lock);
  stopping = 1;
  pthread_cond_broadcast (&mutation_cond);
  pthread_cond_broadcast (&read_cond);
  pthread_mutex_unlock (&lock);
  pthread_join (indexer, NULL);
  for (unsigned i = 0; i < n_readers; i++)
    pthread_join (readers[i], NULL);
  free (readers);
  readers = NULL;
  n_readers = 0;
  running = 0;
  stats.readers = 0;
}

int
vss_workers_running (void)
{
  return running;
}

void
vss_workers_mutate (vss_work *w)
{
  w->next = NULL;
  pthread_mutex_lock (&lock);
  if (stats.mutations_queued >= limit) {
    uint64_t t0 = mono_us (), dt;
    while (stats.mutations_queued >= limit)
      pthread_cond_wait (&applied_cond, &lock);
    dt = mono_us () - t0;
    stats.main_waits++;
    stats.main_wait_us += dt;
    if (dt > stats.main_wait_max_us)
      stats.main_wait_max_us = dt;
  }
  if (mut_tail != NULL)
    mut_tail->next = w;
  else
    mut_head = w;
  mut_tail = w;
  enqueued++;
  stats.mutations_queued++;
  pthread_cond_signal (&mutation_cond);
  pthread_mutex_unlock (&lock);
}

size_t
vss_workers_queued (void)
{
  size_t n;

  pthread_mutex_lock (&lock);
  n = stats.mutations_queued;
  pthread_mutex_unlock (&lock);
  return n;
}

void
vss_workers_read (vss_work *w)
{
  w->next = NULL;
  pthread_mutex_lock (&lock);
  w->barrier = enqueued;
  if (read_tail != NULL)
    read_tail->next = w;
  else
    read_head = w;
  read_tail = w;
  stats.reads_queued++;
  if (w->barrier <= applied)
    pthread_cond_signal (&read_cond);
  pthread_mutex_unlock (&lock);
}

void
vss_workers_drain (void)
{
  pthread_mutex_lock (&lock);
  {
    uint64_t target = enqueued;
    while (applied < target)
      pthread_cond_wait (&applied_cond, &lock);
  }
  pthread_mutex_unlock (&lock);
}

void
vss_workers_get_stats (vss_workers_stats *s)
{
  pthread_mutex_lock (&lock);
  *s = stats;
  pthread_mutex_unlock (&lock);
}
