/* libvssindex: concurrent searches alongside a writer (and writers that the
 * index serialises), for the index and the window. Meant to run under
 * ASan/UBSan (tools/run-tests.sh) and TSan.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include "vss-check.h"
#include "vss-datagen.h"

#define D 32
#define N_PRE 1500
#define N_ADD 1500
#define READERS 3

typedef struct {
  vss_index *idx;
  vss_window *win;
  const float *x;
  atomic_int *stop;
  int errors;
  long searches;
  unsigned seed;
} arg_t;

static int
accept_odd (uint64_t id, void *ud)
{
  (void)ud;
  return id & 1;
}

static void *
reader (void *p)
{
  arg_t *a = p;
  vss_hit hits[10];
  vss_error err = { 0 };
  float out[D];
  unsigned s = a->seed;

  while (!*a->stop) {
    size_t i = (s = s * 1103515245 + 12345) % (N_PRE + N_ADD);
    const float *q = a->x + i * D;
    int n, j;
    n = vss_index_search (a->idx, q, D, 10, 0, NULL, NULL, hits, &err);
    if (n < 0 || n > 10)
      a->errors++;
    for (j = 1; j < n; j++)
      if (hits[j - 1].distance > hits[j].distance)
        a->errors++;
    n = vss_index_search (a->idx, q, D, 5, 32, accept_odd, NULL, hits, &err);
    for (j = 0; j < n; j++)
      if (!(hits[j].id & 1))
        a->errors++;
    if (vss_index_search_within (a->idx, q, D, 0.5f, hits, &err) < 0)
      a->errors++;
    /* rows below N_PRE that are odd are never removed */
    if (vss_index_get (a->idx, (i % N_PRE) | 1, out, D, &err) < 0)
      a->errors++;
    (void)vss_index_count (a->idx);
    (void)vss_index_memory_used (a->idx);
    a->searches++;
  }
  return NULL;
}

static void *
writer (void *p)
{
  arg_t *a = p;
  vss_error err = { 0 };
  size_t i;

  for (i = N_PRE; i < N_PRE + N_ADD; i++) {
    if (vss_index_add (a->idx, i, a->x + i * D, D, &err) < 0)
      a->errors++;
    /* remove some even rows as we go */
    if (i % 4 == 0 && vss_index_remove (a->idx, i - N_PRE, &err) < 0)
      a->errors++;
    /* and rebuild the graph once, under the readers */
    if (i == N_PRE + N_ADD / 2 && vss_index_compact (a->idx, &err) < 0)
      a->errors++;
  }
  return NULL;
}

static void
test_readers_and_writer (void)
{
  float *x = malloc ((N_PRE + N_ADD) * D * sizeof (float));
  vss_index_params p;
  vss_error err = { 0 };
  pthread_t r[READERS], w;
  arg_t ra[READERS], wa;
  atomic_int stop = 0;
  size_t i;
  int t;
  long total = 0;
  const char *path = "/tmp/vss-threads-save.vss";
  char pathbuf[256];

  snprintf (pathbuf, sizeof pathbuf, "/tmp/vss-threads-%d.vss", (int)getpid ());
  path = pathbuf;
  /* random vectors: this test is about threads, not a hard recall case */
  {
    vss_rng rng = { 31, 0, 0 };
    for (i = 0; i < (size_t)(N_PRE + N_ADD) * D; i++)
      x[i] = (float)vss_rng_normal (&rng);
  }
  vss_index_params_init (&p, VSS_INDEX_HNSW, VSS_METRIC_COSINE, D);
  p.initial_capacity = 64; /* growth happens under the readers */
  p.ef_construction = 64;
  ra[0].idx = vss_index_new (&p, &err);
  CHECK (ra[0].idx);
  for (i = 0; i < N_PRE; i++)
    CHECK (vss_index_add (ra[0].idx, i, x + i * D, D, &err) == 0);
  for (t = 0; t < READERS; t++) {
    ra[t] = (arg_t){ ra[0].idx, NULL, x, &stop, 0, 0, (unsigned)t + 1 };
    pthread_create (&r[t], NULL, reader, &ra[t]);
  }
  wa = (arg_t){ ra[0].idx, NULL, x, &stop, 0, 0, 0 };
  pthread_create (&w, NULL, writer, &wa);
  /* save while all that runs */
  CHECK_MSG (vss_index_save (ra[0].idx, path, &err) == 0, "%s", err.msg);
  pthread_join (w, NULL);
  stop = 1;
  for (t = 0; t < READERS; t++) {
    pthread_join (r[t], NULL);
    CHECK (ra[t].errors == 0);
    total += ra[t].searches;
  }
  CHECK (wa.errors == 0);
  printf ("  %ld search rounds alongside %d adds\n", total, N_ADD);
  CHECK (total > 0);
  CHECK (vss_index_count (ra[0].idx) == N_PRE + N_ADD - N_ADD / 4);
  {
    vss_index *back = vss_index_load (path, &err);
    CHECK_MSG (back != NULL, "%s", err.msg);
    CHECK (vss_index_count (back) >= N_PRE - N_ADD / 4);
    vss_index_free (back);
    remove (path);
  }
  /* the rows added under the readers are found */
  {
    size_t found = 0, tried = 0;
    for (i = N_PRE; i < N_PRE + N_ADD; i += 7, tried++) {
      vss_hit h;
      CHECK (vss_index_search (ra[0].idx, x + i * D, D, 1, 128, NULL, NULL, &h,
                               &err)
             == 1);
      found += h.id == i || h.distance < 1e-6f;
    }
    CHECK_MSG (found * 100 >= tried * 98, "%zu of %zu found", found, tried);
  }
  vss_index_free (ra[0].idx);
  free (x);
}

static void *
adder (void *p)
{
  arg_t *a = p;
  vss_error err = { 0 };
  size_t i;

  for (i = a->seed; i < N_PRE; i += 2)
    if (vss_index_add (a->idx, i, a->x + i * D, D, &err) < 0)
      a->errors++;
  return NULL;
}

static void
test_two_writers (void)
{
  float *x = malloc (N_PRE * D * sizeof (float));
  vss_index_params p;
  vss_error err = { 0 };
  pthread_t w[2];
  arg_t wa[2];
  int t;

  vss_gen_video (x, N_PRE, D, 41);
  vss_index_params_init (&p, VSS_INDEX_HNSW, VSS_METRIC_L2, D);
  p.ef_construction = 64;
  wa[0].idx = vss_index_new (&p, &err);
  CHECK (wa[0].idx);
  for (t = 0; t < 2; t++) {
    wa[t] = (arg_t){ wa[0].idx, NULL, x, NULL, 0, 0, (unsigned)t };
    pthread_create (&w[t], NULL, adder, &wa[t]);
  }
  for (t = 0; t < 2; t++) {
    pthread_join (w[t], NULL);
    CHECK (wa[t].errors == 0);
  }
  CHECK (vss_index_count (wa[0].idx) == N_PRE);
  vss_index_free (wa[0].idx);
  free (x);
}

static void *
window_reader (void *p)
{
  arg_t *a = p;
  vss_window_hit h[4];
  vss_error err = { 0 };
  unsigned s = a->seed;

  while (!*a->stop) {
    size_t i = (s = s * 1103515245 + 12345) % N_PRE;
    if (vss_window_search_first_within (a->win, a->x + i * D, D, 0.3f, h, &err)
        < 0)
      a->errors++;
    if (vss_window_search (a->win, a->x + i * D, D, 4, h, &err) < 0)
      a->errors++;
    (void)vss_window_count (a->win);
    (void)vss_window_memory_used (a->win);
    a->searches++;
  }
  return NULL;
}

static void
test_window_threads (void)
{
  float *x = malloc (N_PRE * D * sizeof (float));
  vss_window_params p;
  vss_error err = { 0 };
  pthread_t r[READERS];
  arg_t ra[READERS];
  atomic_int stop = 0;
  vss_window *w;
  size_t i;
  int t;

  vss_gen_video (x, N_PRE, D, 51);
  vss_window_params_init (&p, VSS_METRIC_COSINE, D);
  p.max_count = 500;
  p.max_age = 300;
  p.segment_size = 64;
  p.ef_construction = 64;
  w = vss_window_new (&p, &err);
  CHECK (w);
  for (t = 0; t < READERS; t++) {
    ra[t] = (arg_t){ NULL, w, x, &stop, 0, 0, (unsigned)t + 7 };
    pthread_create (&r[t], NULL, window_reader, &ra[t]);
  }
  for (i = 0; i < N_PRE; i++) {
    CHECK (vss_window_add (w, i, (int64_t)i, x + i * D, D, &err) == 0);
    vss_window_expire (w, (int64_t)i);
    if (i == N_PRE / 2)
      vss_window_set_max_count (w, 200);
  }
  stop = 1;
  for (t = 0; t < READERS; t++) {
    pthread_join (r[t], NULL);
    CHECK (ra[t].errors == 0);
  }
  CHECK (vss_window_count (w) == 200);
  vss_window_free (w);
  free (x);
}

typedef struct {
  vss_window *win;
  const float *x;
  atomic_int *stop;
  atomic_long *last; /* the row the writer added last, -1 before */
  atomic_int *clears; /* window clears so far */
  int errors;
  atomic_long checked;
} newest_arg_t;

/* The row added last is always found, linked or not: rows are evicted only
 * after 200 newer ones, so a row the writer added fewer than 150 rows
 * before the search ended was live all through it. */
static void *
newest_reader (void *p)
{
  newest_arg_t *a = p;
  vss_error err = { 0 };
  vss_window_hit h;

  while (!*a->stop) {
    int c1 = *a->clears, rc;
    long l1 = *a->last, l2;
    if (l1 < 0)
      continue;
    rc = vss_window_search_first_within (a->win, a->x + l1 * D, D, 1e-4f, &h,
                                         &err);
    l2 = *a->last;
    if (rc < 0 || (rc == 0 && l2 >= l1 && l2 - l1 < 150 && *a->clears == c1)) {
      if (a->errors++ < 5)
        fprintf (stderr, "row %ld (last %ld): %d %s\n", l1, l2, rc,
                 rc < 0 ? err.msg : "not found");
    }
    a->checked++;
  }
  return NULL;
}

/* Background linking under readers, with segments that expire, by count
 * and by age, while the linker works on them. */
static void
test_window_background (void)
{
  float *x = malloc (N_PRE * D * sizeof (float));
  vss_window_params p;
  vss_error err = { 0 };
  pthread_t r[READERS], nr;
  arg_t ra[READERS];
  newest_arg_t na;
  atomic_int stop = 0;
  atomic_long last = -1;
  atomic_int clears = 0;
  vss_window *w;
  size_t i;
  int t;

  vss_gen_video (x, N_PRE, D, 61);
  vss_window_params_init (&p, VSS_METRIC_COSINE, D);
  p.max_count = 500;
  p.max_age = 300;
  p.segment_size = 64;
  p.link_in_background = 1;
  p.max_unlinked = 400; /* lets the linker fall behind into expiring rows */
  w = vss_window_new (&p, &err);
  CHECK (w);
  for (t = 0; t < READERS; t++) {
    ra[t] = (arg_t){ NULL, w, x, &stop, 0, 0, (unsigned)t + 17 };
    pthread_create (&r[t], NULL, window_reader, &ra[t]);
  }
  na = (newest_arg_t){ w, x, &stop, &last, &clears, 0, 0 };
  pthread_create (&nr, NULL, newest_reader, &na);
  for (i = 0; i < N_PRE; i++) {
    CHECK (vss_window_add (w, i, (int64_t)i, x + i * D, D, &err) == 0);
    last = (long)i;
    vss_window_expire (w, (int64_t)i);
    if (i == N_PRE / 2)
      vss_window_set_max_count (w, 200);
    if (i == N_PRE - 100) {
      last = -1;
      clears++;
      vss_window_clear (w);
    }
  }
  while (na.checked < 100)
    usleep (1000);
  stop = 1;
  for (t = 0; t < READERS; t++) {
    pthread_join (r[t], NULL);
    CHECK (ra[t].errors == 0);
  }
  pthread_join (nr, NULL);
  CHECK_MSG (na.errors == 0, "%d of %ld", na.errors, (long)na.checked);
  printf ("  %ld newest-row checks\n", (long)na.checked);
  CHECK (vss_window_count (w) == 99);
  CHECK (vss_window_link_all (w, &err) == 0);
  CHECK (vss_window_unlinked (w) == 0);
  /* freeing with the linker at work */
  for (i = 0; i < 300; i++)
    CHECK (vss_window_add (w, N_PRE + i, (int64_t)(N_PRE + i), x + (i % N_PRE) * D,
                           D, &err)
           == 0);
  vss_window_free (w);
  free (x);
}

static const vss_test tests[] = {
  { "readers_and_writer", test_readers_and_writer },
  { "two_writers", test_two_writers },
  { "window_threads", test_window_threads },
  { "window_background", test_window_background },
  { NULL, NULL },
};

int
main (int argc, char **argv)
{
  return vss_run_tests (tests, argc, argv);
}
