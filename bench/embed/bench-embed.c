/* gst-vss: cost of the local embeddings (v1 and v2) per frame, one core
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Frames are views of real photographs (not flat test patterns, whose memory
 * access is kinder). Each setting is timed twice: the embedding function
 * alone, then a push through the vssembed element (provider=local) between
 * two plain pads, so that element_mean_us - mean_us is what the element
 * adds per frame (meta, frame id, stats, the push). Prints one JSON
 * document.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdlib.h>
#include <string.h>
#include <gst/gst.h>
#include <gst/video/video.h>
#include "gstvss.h"
#include "vss-scene.h"

#define N_DISTINCT 8

static gint
cmp_i64 (const void *a, const void *b)
{
  gint64 x = *(const gint64 *) a, y = *(const gint64 *) b;
  return (x > y) - (x < y);
}

static GstFlowReturn
drop_chain (GstPad * pad, GstObject * parent, GstBuffer * buf)
{
  gst_buffer_unref (buf);
  return GST_FLOW_OK;
}

/* Pushes @iters frames through vssembed in the calling thread; fills @ns
 * with the time of each push. */
static void
time_element (GstVssEmbedLocalModel model, const GstVideoInfo * info,
    GstBuffer ** bufs, gint iters, gint64 * ns)
{
  GstElement *e = gst_element_factory_make ("vssembed", NULL);
  GstPad *src = gst_pad_new ("src", GST_PAD_SRC);
  GstPad *sink = gst_pad_new ("sink", GST_PAD_SINK);
  GstPad *esink, *esrc;
  GstCaps *caps = gst_video_info_to_caps (info);
  GstSegment seg;

  if (e == NULL)
    g_error ("no vssembed element (GST_PLUGIN_PATH?)");
  g_object_set (e, "model", gst_vss_embed_local_model_name (model), NULL);
  esink = gst_element_get_static_pad (e, "sink");
  esrc = gst_element_get_static_pad (e, "src");
  gst_pad_set_chain_function (sink, drop_chain);
  if (gst_pad_link (src, esink) != GST_PAD_LINK_OK
      || gst_pad_link (esrc, sink) != GST_PAD_LINK_OK)
    g_error ("cannot link vssembed");
  gst_pad_set_active (src, TRUE);
  gst_pad_set_active (sink, TRUE);
  if (gst_element_set_state (e, GST_STATE_PLAYING) != GST_STATE_CHANGE_SUCCESS)
    g_error ("vssembed did not start");
  gst_segment_init (&seg, GST_FORMAT_TIME);
  gst_pad_push_event (src, gst_event_new_stream_start ("bench"));
  gst_pad_push_event (src, gst_event_new_caps (caps));
  gst_pad_push_event (src, gst_event_new_segment (&seg));
  for (gint i = 0; i < iters; i++) {
    /* A writable buffer sharing the frame's memory, as a decoder's is. */
    GstBuffer *b = gst_buffer_copy (bufs[i % N_DISTINCT]);
    struct timespec a, z;

    GST_BUFFER_PTS (b) = i * GST_MSECOND;
    clock_gettime (CLOCK_MONOTONIC, &a);
    if (gst_pad_push (src, b) != GST_FLOW_OK)
      g_error ("vssembed refused a %s frame", GST_VIDEO_INFO_NAME (info));
    clock_gettime (CLOCK_MONOTONIC, &z);
    ns[i] = (z.tv_sec - a.tv_sec) * G_GINT64_CONSTANT (1000000000) +
        (z.tv_nsec - a.tv_nsec);
  }
  gst_element_set_state (e, GST_STATE_NULL);
  gst_pad_set_active (src, FALSE);
  gst_pad_set_active (sink, FALSE);
  gst_caps_unref (caps);
  gst_object_unref (esink);
  gst_object_unref (esrc);
  gst_object_unref (src);
  gst_object_unref (sink);
  gst_object_unref (e);
}

static void
run (GstVssEmbedLocalModel model, const gchar * format, gint w, gint h,
    VssPhoto ** photos, guint n_photos, gint iters, gboolean last)
{
  GstVideoInfo rgb_info, info;
  GstBuffer *bufs[N_DISTINCT];
  GstVideoFrame frames[N_DISTINCT];
  gint64 *ns = g_new (gint64, iters);
  gfloat *out = g_new (gfloat, gst_vss_embed_local_model_dim (model));
  guint8 *rgb = g_malloc ((gsize) w * h * 3);
  gdouble sum = 0, esum;

  gst_video_info_set_format (&rgb_info, GST_VIDEO_FORMAT_RGB, w, h);
  gst_video_info_set_format (&info, gst_video_format_from_string (format), w,
      h);
  for (gint i = 0; i < N_DISTINCT; i++) {
    VssView view = { 0.5, 0.5, 1.0 + 0.05 * i };
    GstVideoFrame in;
    GstBuffer *rgbbuf = gst_buffer_new_allocate (NULL, rgb_info.size, NULL);
    GstVideoConverter *conv = gst_video_converter_new (&rgb_info, &info, NULL);

    vss_scene_render (photos[i % n_photos], &view, rgb, w, h);
    gst_video_frame_map (&in, &rgb_info, rgbbuf, GST_MAP_WRITE);
    for (gint y = 0; y < h; y++)
      memcpy ((guint8 *) GST_VIDEO_FRAME_PLANE_DATA (&in, 0) +
          (gsize) y * GST_VIDEO_FRAME_PLANE_STRIDE (&in, 0),
          rgb + (gsize) y * w * 3, (gsize) w * 3);
    bufs[i] = gst_buffer_new_allocate (NULL, info.size, NULL);
    gst_video_frame_map (&frames[i], &info, bufs[i], GST_MAP_READWRITE);
    gst_video_converter_frame (conv, &in, &frames[i]);
    gst_video_converter_free (conv);
    gst_video_frame_unmap (&in);
    gst_buffer_unref (rgbbuf);
  }

  for (gint i = 0; i < iters; i++) {
    gint64 t0 = g_get_monotonic_time (), t1;
    struct timespec a, b;

    (void) t0;
    clock_gettime (CLOCK_MONOTONIC, &a);
    if (!gst_vss_embed_local_model_frame (model, &frames[i % N_DISTINCT], out))
      g_error ("embedding failed for %s", format);
    clock_gettime (CLOCK_MONOTONIC, &b);
    t1 = (b.tv_sec - a.tv_sec) * G_GINT64_CONSTANT (1000000000) +
        (b.tv_nsec - a.tv_nsec);
    ns[i] = t1;
    sum += t1;
  }
  qsort (ns, iters, sizeof (gint64), cmp_i64);
  g_print ("      {\"format\": \"%s\", \"width\": %d, \"height\": %d, "
      "\"frames\": %d, \"mean_us\": %.1f, \"p50_us\": %.1f, \"p99_us\": %.1f, "
      "\"frames_per_s\": %.0f, ", format, w, h, iters, sum / iters / 1e3,
      ns[iters / 2] / 1e3, ns[(gint) (iters * 0.99)] / 1e3,
      1e9 / (sum / iters));

  for (gint i = 0; i < N_DISTINCT; i++)
    gst_video_frame_unmap (&frames[i]);
  time_element (model, &info, bufs, iters, ns);
  esum = 0;
  for (gint i = 0; i < iters; i++)
    esum += ns[i];
  qsort (ns, iters, sizeof (gint64), cmp_i64);
  g_print ("\"element_mean_us\": %.1f, \"element_p50_us\": %.1f, "
      "\"element_p99_us\": %.1f}%s\n", esum / iters / 1e3,
      ns[iters / 2] / 1e3, ns[(gint) (iters * 0.99)] / 1e3, last ? "" : ",");
  for (gint i = 0; i < N_DISTINCT; i++)
    gst_buffer_unref (bufs[i]);
  g_free (rgb);
  g_free (out);
  g_free (ns);
}

int
main (int argc, char **argv)
{
  GError *error = NULL;
  gchar **paths;
  VssPhoto *photos[N_DISTINCT];
  guint n = 0;
  gint iters = argc > 1 ? atoi (argv[1]) : 2000;
  const gchar *fmts[] = { "I420", "NV12", "BGRx", "RGB" };
  const GstVssEmbedLocalModel models[] = { GST_VSS_EMBED_LOCAL_V1,
    GST_VSS_EMBED_LOCAL_V2
  };

  gst_init (&argc, &argv);
  paths = vss_scene_default_photo_paths (&error);
  if (paths == NULL)
    g_error ("%s", error->message);
  for (; paths[n] && n < N_DISTINCT; n++) {
    photos[n] = vss_photo_load (paths[n], 2400, &error);
    if (photos[n] == NULL)
      g_error ("%s", error->message);
  }

  g_print ("{\n  \"benchmark\": \"local-embedding\", \"threads\": 1, "
      "\"target_us_1080p\": 1000,\n  \"models\": [\n");
  for (guint m = 0; m < G_N_ELEMENTS (models); m++) {
    g_print ("    {\"model\": \"%s\", \"dimension\": %u, \"results\": [\n",
        gst_vss_embed_local_model_name (models[m]),
        gst_vss_embed_local_model_dim (models[m]));
    for (guint f = 0; f < G_N_ELEMENTS (fmts); f++) {
      run (models[m], fmts[f], 1920, 1080, photos, n, iters, FALSE);
      run (models[m], fmts[f], 640, 360, photos, n, iters,
          f + 1 == G_N_ELEMENTS (fmts));
    }
    g_print ("    ]}%s\n", m + 1 < G_N_ELEMENTS (models) ? "," : "");
  }
  g_print ("  ]\n}\n");

  for (guint i = 0; i < n; i++)
    vss_photo_free (photos[i]);
  g_strfreev (paths);
  return 0;
}
