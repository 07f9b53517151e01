/* gst-vss: frame identity tests
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>
#include "core/gstvssframeid.h"

#define BURST 200000

static void
test_format (void)
{
  gchar id[GST_VSS_FRAME_ID_SIZE];
  gint64 t = G_GINT64_CONSTANT (1763779586123456);      /* 2025-11-22T02:46:26.123456Z */
  gint64 ms = 0;

  gst_vss_frame_id_new (t, id);
  g_assert_cmpuint (strlen (id), ==, GST_VSS_FRAME_ID_LEN);
  g_assert_true (gst_vss_frame_id_is_valid (id));
  /* Only characters that need no escaping in keys, TAGs, S3 keys and paths. */
  g_assert_cmpuint (strspn (id, "0123456789ABCDEFGHJKMNPQRSTVWXYZ"), ==,
      GST_VSS_FRAME_ID_LEN);
  g_assert_true (gst_vss_frame_id_get_time_ms (id, &ms));
  g_assert_cmpint (ms, ==, t / 1000);

  g_assert_false (gst_vss_frame_id_is_valid (NULL));
  g_assert_false (gst_vss_frame_id_is_valid (""));
  g_assert_false (gst_vss_frame_id_is_valid ("01ARZ3NDEKTSV4RRFFQ69G5FA"));
  g_assert_false (gst_vss_frame_id_is_valid ("01ARZ3NDEKTSV4RRFFQ69G5FAVX"));
  g_assert_false (gst_vss_frame_id_is_valid ("01ARZ3NDEKTSV4RRFFQ69G5FAu"));
  g_assert_false (gst_vss_frame_id_is_valid ("01ARZ3NDEKTSV4RRFFQ69G5/../"));
  g_assert_false (gst_vss_frame_id_is_valid ("81ARZ3NDEKTSV4RRFFQ69G5FAV"));
  g_assert_false (gst_vss_frame_id_get_time_ms ("nope", &ms));
}

/* A burst of frames with one capture time: every id unique, strictly
 * increasing, and all carry that time. */
static void
test_burst_equal_timestamps (void)
{
  gchar (*ids)[GST_VSS_FRAME_ID_SIZE] = g_malloc ((gsize) BURST *
      GST_VSS_FRAME_ID_SIZE);
  const gint64 t = G_GINT64_CONSTANT (1763779586000000);
  GHashTable *seen = g_hash_table_new (g_str_hash, g_str_equal);

  for (gint i = 0; i < BURST; i++)
    gst_vss_frame_id_new (t, ids[i]);
  for (gint i = 0; i < BURST; i++) {
    gint64 ms;

    g_assert_true (gst_vss_frame_id_get_time_ms (ids[i], &ms));
    g_assert_cmpint (ms, ==, t / 1000);
    g_assert_true (g_hash_table_add (seen, ids[i]));
    if (i > 0)
      g_assert_cmpint (strcmp (ids[i - 1], ids[i]), <, 0);
  }
  g_assert_cmpuint (g_hash_table_size (seen), ==, BURST);
  g_hash_table_unref (seen);
  g_free (ids);
}

/* Sorting ids as strings sorts them by capture time. */
static void
test_sortable_by_time (void)
{
  gchar a[GST_VSS_FRAME_ID_SIZE], b[GST_VSS_FRAME_ID_SIZE];
  const gint64 times[] = { 0, 999, 1000, 1763779586000000,
    1763779586001000, G_GINT64_CONSTANT (253402300799000000)    /* 9999-12-31 */
  };

  for (guint i = 0; i + 1 < G_N_ELEMENTS (times); i++) {
    gst_vss_frame_id_new (times[i + 1], b);
    gst_vss_frame_id_new (times[i], a);
    if (times[i] / 1000 != times[i + 1] / 1000)
      g_assert_cmpint (strcmp (a, b), <, 0);
  }
}

typedef struct
{
  gint64 t;
  gint n;
    gchar (*ids)[GST_VSS_FRAME_ID_SIZE];
} ThreadJob;

static gpointer
make_ids (gpointer data)
{
  ThreadJob *job = data;

  for (gint i = 0; i < job->n; i++)
    gst_vss_frame_id_new (job->t, job->ids[i]);
  return NULL;
}

/* Several streaming threads creating ids for the same millisecond. */
static void
test_threads (void)
{
  enum
  { N_THREADS = 4, PER = 20000 };
  ThreadJob jobs[N_THREADS];
  GThread *threads[N_THREADS];
  GHashTable *seen = g_hash_table_new (g_str_hash, g_str_equal);

  for (gint i = 0; i < N_THREADS; i++) {
    jobs[i].t = G_GINT64_CONSTANT (1763779587000000);
    jobs[i].n = PER;
    jobs[i].ids = g_malloc ((gsize) PER * GST_VSS_FRAME_ID_SIZE);
    threads[i] = g_thread_new ("ids", make_ids, &jobs[i]);
  }
  for (gint i = 0; i < N_THREADS; i++)
    g_thread_join (threads[i]);
  for (gint i = 0; i < N_THREADS; i++)
    for (gint j = 0; j < PER; j++)
      g_assert_true (g_hash_table_add (seen, jobs[i].ids[j]));
  g_assert_cmpuint (g_hash_table_size (seen), ==, N_THREADS * PER);
  g_hash_table_unref (seen);
  for (gint i = 0; i < N_THREADS; i++)
    g_free (jobs[i].ids);
}

/* Restarts: separate processes creating ids for the same millisecond never
 * collide (80 random bits per process). */
static void
test_processes (void)
{
  const gchar *self = g_test_get_filename (G_TEST_BUILT, "test-frameid", NULL);
  GHashTable *seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
      NULL);

  for (gint p = 0; p < 8; p++) {
    gchar *argv[] = { (gchar *) self, (gchar *) "--emit", NULL };
    gchar *out = NULL;
    gint status = 0;
    GError *error = NULL;
    gchar **lines;

    g_assert_true (g_spawn_sync (NULL, argv, NULL, G_SPAWN_DEFAULT, NULL,
            NULL, &out, NULL, &status, &error));
    g_assert_no_error (error);
    g_assert_true (g_spawn_check_wait_status (status, NULL));
    lines = g_strsplit (out, "\n", -1);
    for (gchar ** l = lines; *l && **l; l++) {
      g_assert_true (gst_vss_frame_id_is_valid (*l));
      g_assert_true (g_hash_table_add (seen, g_strdup (*l)));
    }
    g_strfreev (lines);
    g_free (out);
  }
  g_assert_cmpuint (g_hash_table_size (seen), ==, 8 * 1000);
  g_hash_table_unref (seen);
}

/* Ids of file frames: the same source and position give the same id (a
 * rerun stores the same keys); any difference gives another. */
static void
test_for_position (void)
{
  gchar a[GST_VSS_FRAME_ID_SIZE], b[GST_VSS_FRAME_ID_SIZE];
  GHashTable *seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
      NULL);
  gint64 t;
  guint i;

  gst_vss_frame_id_for_position (1796169599999, "/srv/a.mkv|1|2",
      3 * G_GUINT64_CONSTANT (1000000000), a);
  gst_vss_frame_id_for_position (1796169599999, "/srv/a.mkv|1|2",
      3 * G_GUINT64_CONSTANT (1000000000), b);
  g_assert_true (gst_vss_frame_id_is_valid (a));
  g_assert_cmpstr (a, ==, b);
  g_assert_true (gst_vss_frame_id_get_time_ms (a, &t));
  g_assert_cmpint (t, ==, 1796169599999);
  /* Another position or source: another id. */
  gst_vss_frame_id_for_position (1796169599999, "/srv/a.mkv|1|2",
      3 * G_GUINT64_CONSTANT (1000000000) + 1, b);
  g_assert_cmpstr (a, !=, b);
  gst_vss_frame_id_for_position (1796169599999, "/srv/b.mkv|1|2",
      3 * G_GUINT64_CONSTANT (1000000000), b);
  g_assert_cmpstr (a, !=, b);
  /* The NUL after the source keeps "a" at position 'b' apart from "ab" at
   * position 0. */
  gst_vss_frame_id_for_position (0, "a", 'b', a);
  gst_vss_frame_id_for_position (0, "ab", 0, b);
  g_assert_cmpstr (a, !=, b);
  /* One hour of 30 fps frames at one capture time: no collision. */
  for (i = 0; i < 30 * 3600; i++) {
    gst_vss_frame_id_for_position (1796169599999, "src",
        (guint64) i * G_GUINT64_CONSTANT (1000000000) / 30, a);
    g_assert_true (g_hash_table_add (seen, g_strdup (a)));
  }
  g_hash_table_unref (seen);
}

int
main (int argc, char **argv)
{
  if (argc == 2 && strcmp (argv[1], "--emit") == 0) {
    gchar id[GST_VSS_FRAME_ID_SIZE];

    for (gint i = 0; i < 1000; i++) {
      gst_vss_frame_id_new (G_GINT64_CONSTANT (1763779588000000), id);
      g_print ("%s\n", id);
    }
    return 0;
  }
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/frame-id/format", test_format);
  g_test_add_func ("/frame-id/for-position", test_for_position);
  g_test_add_func ("/frame-id/burst-equal-timestamps",
      test_burst_equal_timestamps);
  g_test_add_func ("/frame-id/sortable-by-time", test_sortable_by_time);
  g_test_add_func ("/frame-id/threads", test_threads);
  g_test_add_func ("/frame-id/processes", test_processes);
  return g_test_run ();
}
