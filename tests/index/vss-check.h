/* Minimal test harness for the plain-C index tests (no GLib).
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef VSS_CHECK_H
#define VSS_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int vss_check_failures;

#define CHECK(cond)                                                            \
  do {                                                                         \
    if (!(cond)) {                                                             \
      fprintf (stderr, "%s:%d: %s: check failed: %s\n", __FILE__, __LINE__,    \
               __func__, #cond);                                               \
      vss_check_failures++;                                                    \
      return;                                                                  \
    }                                                                          \
  } while (0)

#define CHECK_MSG(cond, ...)                                                   \
  do {                                                                         \
    if (!(cond)) {                                                             \
      fprintf (stderr, "%s:%d: %s: check failed: %s: ", __FILE__, __LINE__,    \
               __func__, #cond);                                               \
      fprintf (stderr, __VA_ARGS__);                                           \
      fputc ('\n', stderr);                                                    \
      vss_check_failures++;                                                    \
      return;                                                                  \
    }                                                                          \
  } while (0)

typedef struct {
  const char *name;
  void (*fn) (void);
} vss_test;

static inline double
vss_now (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* CPU time of this process: steadier than wall time on a shared machine. */
static inline double
vss_cpu_now (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* CPU time of the calling thread: latency without the time the scheduler
 * gave to others. */
static inline double
vss_thread_cpu_now (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Runs the tests whose name contains argv[1] (all without). */
static inline int
vss_run_tests (const vss_test *t, int argc, char **argv)
{
  int ran = 0;
  for (; t->name; t++) {
    int before = vss_check_failures;
    double t0;
    if (argc > 1 && !strstr (t->name, argv[1]))
      continue;
    t0 = vss_now ();
    t->fn ();
    ran++;
    printf ("%s %s (%.2f s)\n", vss_check_failures == before ? "ok  " : "FAIL",
            t->name, vss_now () - t0);
    fflush (stdout);
  }
  if (ran == 0) {
    fprintf (stderr, "no test matches\n");
    return 1;
  }
  return vss_check_failures ? 1 : 0;
}

#endif
