/* gst-vss: GstVssEmbeddingMeta tests
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>
#include <gst/gst.h>
#include <gst/app/gstappsink.h>
#include <gst/app/gstappsrc.h>
#include <gst/video/video.h>
#include "gstvss.h"

#define N_FRAMES 8
#define W 64
#define H 48

static const gfloat vec_a[4] = { 1, 0, 0, 0 };
static const gfloat vec_b[3] = { 0.6f, 0.8f, 0 };

static void
test_add_get (void)
{
  GstBuffer *buf = gst_buffer_new ();
  GstVssEmbeddingMeta *m;
  gchar id[GST_VSS_FRAME_ID_SIZE];

  gst_vss_frame_id_new (-1, id);
  g_assert_null (gst_vss_buffer_get_embedding_meta (buf, NULL));
  g_assert_null (gst_vss_buffer_get_frame_id (buf));

  m = gst_vss_buffer_add_embedding_meta (buf, "model-a", vec_a, 4, TRUE, id);
  g_assert_nonnull (m);
  m = gst_vss_buffer_add_embedding_meta (buf, "model-b", vec_b, 3, FALSE, id);
  g_assert_nonnull (m);
  g_assert_cmpuint (gst_vss_buffer_n_embedding_metas (buf), ==, 2);

  m = gst_vss_buffer_get_embedding_meta (buf, "model-b");
  g_assert_nonnull (m);
  g_assert_cmpstr (m->model, ==, "model-b");
  g_assert_cmpuint (m->dim, ==, 3);
  g_assert_false (m->normalized);
  g_assert_cmpmem (m->vector, 3 * sizeof (gfloat), vec_b, sizeof (vec_b));
  g_assert_cmpstr (m->frame_id, ==, id);
  m = gst_vss_buffer_get_embedding_meta (buf, "model-a");
  g_assert_cmpuint (m->dim, ==, 4);
  g_assert_true (m->normalized);
  g_assert_null (gst_vss_buffer_get_embedding_meta (buf, "model-c"));
  g_assert_cmpstr (gst_vss_buffer_get_frame_id (buf), ==, id);

  /* The same model again replaces, never duplicates. */
  m = gst_vss_buffer_add_embedding_meta (buf, "model-a", vec_b, 3, FALSE, id);
  g_assert_cmpuint (gst_vss_buffer_n_embedding_metas (buf), ==, 2);
  g_assert_cmpuint (gst_vss_buffer_get_embedding_meta (buf, "model-a")->dim,
      ==, 3);

  /* Registered with no tags: nothing will strip it for pixel changes. */
  {
    const gchar *const *tags =
        gst_meta_api_type_get_tags (GST_VSS_EMBEDDING_META_API_TYPE);
    g_assert_true (tags == NULL || tags[0] == NULL);
  }
  gst_buffer_unref (buf);
}

static void
test_invalid_args (void)
{
  GstBuffer *buf = gst_buffer_new ();

  if (g_test_undefined ()) {
    g_test_expect_message ("GstVss", G_LOG_LEVEL_CRITICAL, "*");
    g_assert_null (gst_vss_buffer_add_embedding_meta (buf, "", vec_a, 4,
            TRUE, NULL));
    g_test_assert_expected_messages ();
    g_test_expect_message ("GstVss", G_LOG_LEVEL_CRITICAL, "*");
    g_assert_null (gst_vss_buffer_add_embedding_meta (buf, "m", vec_a, 0,
            TRUE, NULL));
    g_test_assert_expected_messages ();
  }
  g_assert_cmpuint (gst_vss_buffer_n_embedding_metas (buf), ==, 0);
  gst_buffer_unref (buf);
}

/* Making a shared buffer writable copies the metas, deep: changing the copy
 * leaves the original alone. */
static void
test_copy_on_make_writable (void)
{
  GstBuffer *buf = gst_buffer_new_allocate (NULL, 16, NULL);
  GstBuffer *ref, *copy;
  GstVssEmbeddingMeta *orig, *m;
  gchar id[GST_VSS_FRAME_ID_SIZE];

  gst_vss_frame_id_new (-1, id);
  orig = gst_vss_buffer_add_embedding_meta (buf, "m", vec_a, 4, TRUE, id);
  ref = gst_buffer_ref (buf);
  copy = gst_buffer_make_writable (ref);
  g_assert_true (copy != buf);
  m = gst_vss_buffer_get_embedding_meta (copy, "m");
  g_assert_nonnull (m);
  g_assert_true (m != orig);
  g_assert_true (m->vector != orig->vector);
  g_assert_true (m->model != orig->model);
  g_assert_cmpmem (m->vector, 16, vec_a, 16);
  g_assert_cmpstr (m->frame_id, ==, id);
  g_assert_true (m->normalized);
  m->vector[0] = 42.0f;
  g_assert_cmpfloat (orig->vector[0], ==, 1.0f);
  gst_buffer_unref (copy);
  /* Freed with its buffer; the original is intact. */
  g_assert_cmpfloat (orig->vector[0], ==, 1.0f);
  gst_buffer_unref (buf);
}

/* Push frames with two metas through @chain and check each output buffer
 * carries both, with the right vectors and frame ids, in order. */
static void
check_survives (const gchar * chain, const gchar * in_format)
{
  gchar *desc = g_strdup_printf ("appsrc name=src format=time ! %s ! "
      "appsink name=sink sync=false", chain);
  GError *error = NULL;
  GstElement *pipeline = gst_parse_launch (desc, &error);
  GstElement *src, *sink;
  GstVideoInfo info;
  GstCaps *caps;
  gchar ids[N_FRAMES][GST_VSS_FRAME_ID_SIZE];
  gint got = 0;

  g_assert_no_error (error);
  src = gst_bin_get_by_name (GST_BIN (pipeline), "src");
  sink = gst_bin_get_by_name (GST_BIN (pipeline), "sink");
  gst_video_info_set_format (&info, gst_video_format_from_string (in_format),
      W, H);
  GST_VIDEO_INFO_FPS_N (&info) = 10;
  GST_VIDEO_INFO_FPS_D (&info) = 1;
  caps = gst_video_info_to_caps (&info);
  gst_app_src_set_caps (GST_APP_SRC (src), caps);
  gst_caps_unref (caps);
  g_assert_cmpint (gst_element_set_state (pipeline, GST_STATE_PLAYING), !=,
      GST_STATE_CHANGE_FAILURE);

  for (gint i = 0; i < N_FRAMES; i++) {
    GstBuffer *buf = gst_buffer_new_allocate (NULL, info.size, NULL);
    gfloat v[4] = { (gfloat) i, 1, 2, 3 };

    gst_buffer_memset (buf, 0, (guint8) (i * 20), info.size);
    GST_BUFFER_PTS (buf) = i * GST_SECOND / 10;
    GST_BUFFER_DURATION (buf) = GST_SECOND / 10;
    gst_vss_frame_id_new (-1, ids[i]);
    gst_vss_buffer_add_embedding_meta (buf, "local", v, 4, FALSE, ids[i]);
    gst_vss_buffer_add_embedding_meta (buf, "remote", vec_b, 3, TRUE, ids[i]);
    g_assert_cmpint (gst_app_src_push_buffer (GST_APP_SRC (src), buf), ==,
        GST_FLOW_OK);
  }
  gst_app_src_end_of_stream (GST_APP_SRC (src));

  for (;;) {
    GstSample *s = gst_app_sink_try_pull_sample (GST_APP_SINK (sink),
        10 * GST_SECOND);
    GstBuffer *out;
    GstVssEmbeddingMeta *m;

    if (s == NULL)
      break;
    out = gst_sample_get_buffer (s);
    g_assert_cmpuint (gst_vss_buffer_n_embedding_metas (out), ==, 2);
    m = gst_vss_buffer_get_embedding_meta (out, "local");
    g_assert_nonnull (m);
    g_assert_cmpuint (m->dim, ==, 4);
    g_assert_cmpfloat (m->vector[0], ==, (gfloat) got);
    g_assert_cmpstr (m->frame_id, ==, ids[got]);
    m = gst_vss_buffer_get_embedding_meta (out, "remote");
    g_assert_nonnull (m);
    g_assert_cmpmem (m->vector, 12, vec_b, 12);
    g_assert_true (m->normalized);
    g_assert_cmpstr (gst_vss_buffer_get_frame_id (out), ==, ids[got]);
    got++;
    gst_sample_unref (s);
  }
  if (got != N_FRAMES)
    g_error ("'%s': %d of %d frames came out", chain, got, N_FRAMES);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (src);
  gst_object_unref (sink);
  gst_object_unref (pipeline);
  g_free (desc);
}

static void
test_survives_queue (void)
{
  check_survives ("queue", "I420");
}

static void
test_survives_tee (void)
{
  check_survives ("tee name=t ! queue ! fakesink t. ! queue", "I420");
}

static void
test_survives_identity (void)
{
  check_survives ("identity", "I420");
}

static void
test_survives_videoconvert (void)
{
  check_survives ("videoconvert ! video/x-raw,format=RGBA", "I420");
}

static void
test_survives_jpegenc (void)
{
  check_survives ("jpegenc", "I420");
}

static void
test_survives_chain (void)
{
  check_survives ("videoconvert ! video/x-raw,format=I420 ! jpegenc ! "
      "queue ! identity", "RGB");
}

int
main (int argc, char **argv)
{
  gst_init (&argc, &argv);
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/meta/add-get", test_add_get);
  g_test_add_func ("/meta/invalid-args", test_invalid_args);
  g_test_add_func ("/meta/copy-on-make-writable", test_copy_on_make_writable);
  g_test_add_func ("/meta/survives/queue", test_survives_queue);
  g_test_add_func ("/meta/survives/tee", test_survives_tee);
  g_test_add_func ("/meta/survives/identity", test_survives_identity);
  g_test_add_func ("/meta/survives/videoconvert", test_survives_videoconvert);
  g_test_add_func ("/meta/survives/jpegenc", test_survives_jpegenc);
  g_test_add_func ("/meta/survives/convert-encode-queue", test_survives_chain);
  return g_test_run ();
}
