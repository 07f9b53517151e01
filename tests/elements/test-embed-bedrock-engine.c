/* gst-vss: vssembed's Bedrock engine on its own, against the Bedrock test
 * server
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The engine (plugins/vssembed/vssembedbedrock.c) is compiled into this
 * test as it is into the plugin. No element, no pads: a producer submits,
 * a consumer pops, as the element's sink pad and source pad task do. The
 * server's embeddings are deterministic (an image's vector is that of the
 * text "image:<sha256 of its bytes>"), so every popped frame can be checked
 * against the vector of exactly the bytes it was submitted with.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <math.h>
#include <string.h>
#include <curl/curl.h>
#include <jansson.h>
#include <gst/check/gstcheck.h>
#include <gst/video/video.h>
#include "vss-test-bedrock.h"
#include "gstvss.h"
#include "bedrock/gstvssbedrockimage.h"
#include "vssembedbedrock.h"

#define AK "AKIDVSSENGINETEST001"
#define SK "vssembed/engine+Secret0123456789abcdefgh"
#define REGION "eu-west-1"
#define MODEL GST_VSS_BEDROCK_IMAGE_MODEL
#define DIM 256

static VssTestBedrock *
server_start (const gchar * extra)
{
  const gchar *args[] = { "--access-key=" AK, "--secret-key=" SK,
    "--region=" REGION, extra, NULL
  };
  GError *err = NULL;
  VssTestBedrock *s = vss_test_bedrock_start (args, &err);

  if (s == NULL)
    g_error ("%s", err->message);
  return s;
}

static GstVssBedrockClient *
client_new (VssTestBedrock * s, guint max_connections, guint timeout_ms,
    guint max_retries)
{
  GstVssAwsSettings aws = { 0, };
  GstVssBedrockOptions o = { 0, };
  GstVssBedrockClient *c;
  GError *err = NULL;

  aws.endpoint_url = s->endpoint;
  o.aws = &aws;
  o.max_connections = max_connections;
  o.timeout_ms = timeout_ms;
  o.max_retries = max_retries;
  c = gst_vss_bedrock_client_new (&o, &err);
  fail_unless (c != NULL, "client: %s", err ? err->message : "");
  return c;
}

static VssEmbedBedrock *
engine_new (VssTestBedrock * s, guint max_in_flight, guint queue_size,
    guint timeout_ms, guint max_retries)
{
  VssEmbedBedrockConfig cfg = { MODEL, DIM, max_in_flight, queue_size };
  VssEmbedBedrock *e = vss_embed_bedrock_new (client_new (s, max_in_flight,
          timeout_ms, max_retries), &cfg);

  vss_embed_bedrock_set_flushing (e, FALSE);
  return e;
}

/* An RGB frame whose content depends on @seed. */
static GstBuffer *
make_raw (const GstVideoInfo * info, guint seed)
{
  GstBuffer *buf = gst_buffer_new_allocate (NULL, info->size, NULL);
  GstVideoFrame f;

  fail_unless (gst_video_frame_map (&f, info, buf, GST_MAP_WRITE));
  for (gint y = 0; y < info->height; y++) {
    guint8 *row = (guint8 *) GST_VIDEO_FRAME_PLANE_DATA (&f, 0) +
        y * GST_VIDEO_FRAME_PLANE_STRIDE (&f, 0);
    for (gint x = 0; x < info->width; x++) {
      row[3 * x] = (guint8) (x * 7 + seed * 31);
      row[3 * x + 1] = (guint8) (y * 5 + seed * 17);
      row[3 * x + 2] = (guint8) ((x ^ y) + seed * 3);
    }
  }
  gst_video_frame_unmap (&f);
  return buf;
}

static GBytes *
make_jpeg (gint w, gint h, guint seed)
{
  GstVideoInfo info;
  GstBuffer *raw;
  GstVideoFrame f;
  GBytes *jpeg;

  gst_video_info_set_format (&info, GST_VIDEO_FORMAT_RGB, w, h);
  raw = make_raw (&info, seed);
  fail_unless (gst_video_frame_map (&f, &info, raw, GST_MAP_READ));
  jpeg = gst_vss_bedrock_image_encode_frame (&f, 1 << 20, G_MAXSIZE, NULL);
  gst_video_frame_unmap (&f);
  gst_buffer_unref (raw);
  fail_unless (jpeg != NULL);
  return jpeg;
}

/* The vector the server gives the image @image (via its text alias). */
static gfloat *
expected_vector (GstVssBedrockClient * c, GBytes * image)
{
  gchar *sha = g_compute_checksum_for_bytes (G_CHECKSUM_SHA256, image);
  gchar *text = g_strconcat ("image:", sha, NULL);
  GError *err = NULL;
  guint n = 0;
  gfloat *v = gst_vss_bedrock_embed_text (c, MODEL, text, DIM, &n, &err);

  fail_unless (v != NULL, "embed_text: %s", err ? err->message : "");
  fail_unless_equals_int (n, DIM);
  g_free (sha);
  g_free (text);
  return v;
}

/* user_data of the frames: counts how often the engine freed it. */
static gint destroyed;

static void
count_destroy (gpointer data)
{
  g_atomic_int_inc (&destroyed);
}

/* Takes @jpeg. */
static GstFlowReturn
submit_jpeg (VssEmbedBedrock * e, GBytes * jpeg, guint index)
{
  GstBuffer *buf = gst_buffer_new_wrapped_bytes (jpeg);

  g_bytes_unref (jpeg);
  return vss_embed_bedrock_submit_frame (e, buf, NULL,
      GUINT_TO_POINTER (index + 1), count_destroy);
}

static guint
job_index (VssEmbedBedrockJob * job)
{
  fail_unless (job->user_data != NULL);
  return GPOINTER_TO_UINT (job->user_data) - 1;
}

/* Changes the server's latency for the requests that arrive next, at
 * random, until told to stop. */
typedef struct
{
  VssTestBedrock *server;
  gint stop;
  guint changes;
} Jitter;

static gpointer
jitter_thread (gpointer data)
{
  Jitter *j = data;
  GRand *rand = g_rand_new_with_seed (17);

  while (!g_atomic_int_get (&j->stop)) {
    gchar *json = g_strdup_printf ("{\"latency_ms\":%d}",
        g_rand_int_range (rand, 0, 60));

    vss_test_bedrock_control (j->server, json);
    g_free (json);
    j->changes++;
    g_usleep (2000);
  }
  g_rand_free (rand);
  return NULL;
}

#define N_ORDER 48
#define EVENT_EVERY 8

typedef struct
{
  VssEmbedBedrock *engine;
  GBytes **jpegs;
} Producer;

static gpointer
produce_with_events (gpointer data)
{
  Producer *p = data;

  for (guint i = 0; i < N_ORDER; i++) {
    if (i % EVENT_EVERY == 0) {
      GstStructure *s = gst_structure_new ("marker", "before", G_TYPE_UINT, i,
          NULL);

      fail_unless (vss_embed_bedrock_submit_event (p->engine,
              gst_event_new_custom (GST_EVENT_CUSTOM_DOWNSTREAM, s)));
    }
    fail_unless_equals_int (submit_jpeg (p->engine, g_bytes_ref (p->jpegs[i]),
            i), GST_FLOW_OK);
  }
  return NULL;
}

/* Random latencies and random 5xx answers (retried after random backoff)
 * make requests finish in any order; frames and the events between them
 * still leave in input order, each frame with the vector of its bytes. */
GST_START_TEST (test_order_under_random_latency)
{
  VssTestBedrock *s = server_start ("--latency-ms=0");
  VssEmbedBedrock *e = engine_new (s, 8, 4, 10000, 30);
  GstVssBedrockClient *check = client_new (s, 2, 10000, 2);
  GBytes *jpegs[N_ORDER];
  gfloat *want[N_ORDER];
  Producer p = { e, jpegs };
  Jitter jit = { s, 0, 0 };
  VssEmbedBedrockStats st;
  GThread *producer, *jitter;
  guint next_frame = 0, n_events = 0, overtaken = 0;
  gint64 latest = 0;

  destroyed = 0;
  for (guint i = 0; i < N_ORDER; i++)
    jpegs[i] = make_jpeg (48 + i, 32, i);
  /* The expected vectors first: the server's in-flight count must see the
   * engine's requests alone. */
  for (guint i = 0; i < N_ORDER; i++)
    want[i] = expected_vector (check, jpegs[i]);
  vss_test_bedrock_control (s, "{\"error_rate\":0.2}");
  jitter = g_thread_new ("jitter", jitter_thread, &jit);
  producer = g_thread_new ("producer", produce_with_events, &p);

  while (next_frame < N_ORDER) {
    VssEmbedBedrockJob *job = vss_embed_bedrock_pop (e);

    fail_unless (job != NULL);
    if (job->event) {
      const GstStructure *m = gst_event_get_structure (job->event);
      guint before = G_MAXUINT;

      fail_unless (gst_structure_get_uint (m, "before", &before));
      fail_unless_equals_int (before, next_frame);
      fail_unless (job->buffer == NULL);
      n_events++;
    } else {
      fail_unless_equals_int (job_index (job), next_frame);
      fail_unless_equals_int (job->status, GST_VSS_BEDROCK_OK);
      fail_unless_equals_int (job->dim, DIM);
      fail_unless (job->vector != NULL && job->buffer != NULL);
      /* A later frame answered before an earlier one. */
      if (job->done_time < latest)
        overtaken++;
      latest = MAX (latest, job->done_time);
      for (guint k = 0; k < DIM; k++)
        fail_unless (fabsf (job->vector[k] - want[next_frame][k]) < 1e-5,
            "frame %u: vector differs at %u", next_frame, k);
      g_free (want[next_frame]);
      next_frame++;
    }
    vss_embed_bedrock_job_done (e, job, GST_FLOW_OK);
  }
  g_thread_join (producer);
  g_atomic_int_set (&jit.stop, 1);
  g_thread_join (jitter);
  vss_test_bedrock_control (s, "{\"error_rate\":0,\"latency_ms\":0}");

  fail_unless_equals_int (n_events, N_ORDER / EVENT_EVERY);
  fail_unless (vss_embed_bedrock_drain (e));
  fail_unless (jit.changes > 5, "latency changed only %u times", jit.changes);
  fail_unless (overtaken > 0, "every answer came in input order: the test "
      "did not test ordering");
  vss_embed_bedrock_get_stats (e, &st);
  fail_unless (st.max_in_flight_seen <= 8);
  fail_unless (st.client.retries > 0, "no 5xx at a 20 %% error rate");
  fail_unless (vss_test_bedrock_stat (s, "max_in_flight") <= 8);
  GST_INFO ("%u of %u frames overtaken, %u latency changes, %"
      G_GUINT64_FORMAT " retries", overtaken, N_ORDER, jit.changes,
      st.client.retries);
  vss_embed_bedrock_free (e);
  fail_unless_equals_int (g_atomic_int_get (&destroyed), N_ORDER);
  for (guint i = 0; i < N_ORDER; i++)
    g_bytes_unref (jpegs[i]);
  gst_vss_bedrock_client_free (check);
  vss_test_bedrock_stop (s);
}

GST_END_TEST;

typedef struct
{
  VssEmbedBedrock *engine;
  guint first, n;
  GstFlowReturn last;
  guint accepted;
} Pusher;

static gpointer
push_thread (gpointer data)
{
  Pusher *p = data;

  for (guint i = 0; i < p->n; i++) {
    p->last = submit_jpeg (p->engine, make_jpeg (32, 32, p->first + i),
        p->first + i);
    if (p->last != GST_FLOW_OK)
      break;
    g_atomic_int_inc (&p->accepted);
  }
  return NULL;
}

typedef struct
{
  VssEmbedBedrock *engine;
  gint64 returned_at;
  gboolean got_job;
} Popper;

static gpointer
pop_thread (gpointer data)
{
  Popper *p = data;
  VssEmbedBedrockJob *job = vss_embed_bedrock_pop (p->engine);

  p->returned_at = g_get_monotonic_time ();
  p->got_job = job != NULL;
  if (job)
    vss_embed_bedrock_job_done (p->engine, job, GST_FLOW_OK);
  return NULL;
}

static gboolean
wait_accepted (Pusher * p, guint n)
{
  gint64 end = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;

  while (g_get_monotonic_time () < end) {
    if (g_atomic_int_get (&p->accepted) >= n)
      return TRUE;
    g_usleep (5000);
  }
  return FALSE;
}

/* A server that never answers: max_in_flight requests go out, queue_size
 * more frames wait, the next submit blocks; a flush returns both the
 * blocked producer and the waiting consumer at once and cancels the
 * requests. */
GST_START_TEST (test_backpressure_and_flush)
{
  VssTestBedrock *s = server_start ("--hang=1000");
  VssEmbedBedrock *e = engine_new (s, 2, 3, 30000, 0);
  Pusher p = { e, 0, 10, GST_FLOW_OK, 0 };
  Popper c = { e, 0, FALSE };
  GThread *producer, *consumer;
  VssEmbedBedrockStats st;
  gint64 t0;

  destroyed = 0;
  vss_test_bedrock_control (s, "{\"hang_ms\":20000}");
  producer = g_thread_new ("producer", push_thread, &p);
  consumer = g_thread_new ("consumer", pop_thread, &c);
  fail_unless (wait_accepted (&p, 5));
  g_usleep (300000);
  /* 2 in flight + 3 waiting; the sixth submit blocks, nothing is done. */
  fail_unless_equals_int (g_atomic_int_get (&p.accepted), 5);
  fail_unless_equals_int (vss_test_bedrock_stat (s, "in_flight"), 2);
  fail_unless (c.returned_at == 0);

  t0 = g_get_monotonic_time ();
  vss_embed_bedrock_set_flushing (e, TRUE);
  g_thread_join (producer);
  g_thread_join (consumer);
  fail_unless (g_get_monotonic_time () - t0 < G_USEC_PER_SEC,
      "flush took %" G_GINT64_FORMAT " us", g_get_monotonic_time () - t0);
  fail_unless_equals_int (p.last, GST_FLOW_FLUSHING);
  fail_if (c.got_job);
  /* While flushing, nothing goes in or out. */
  fail_unless (vss_embed_bedrock_pop (e) == NULL);
  fail_if (vss_embed_bedrock_submit_event (e,
          gst_event_new_custom (GST_EVENT_CUSTOM_DOWNSTREAM,
              gst_structure_new_empty ("x"))));
  fail_unless_equals_int (submit_jpeg (e, make_jpeg (8, 8, 99), 99),
      GST_FLOW_FLUSHING);
  fail_if (vss_embed_bedrock_drain (e));
  vss_embed_bedrock_get_stats (e, &st);
  fail_unless_equals_int (st.max_in_flight_seen, 2);

  /* Freeing does not wait for the hanging server either. */
  t0 = g_get_monotonic_time ();
  vss_embed_bedrock_free (e);
  fail_unless (g_get_monotonic_time () - t0 < G_USEC_PER_SEC,
      "free took %" G_GINT64_FORMAT " us", g_get_monotonic_time () - t0);
  /* Every frame given was freed once: 5 queued, 1 refused while blocked,
   * 1 refused while flushing. */
  fail_unless_equals_int (g_atomic_int_get (&destroyed), 7);
  vss_test_bedrock_stop (s);
}

GST_END_TEST;

/* After a flush the engine starts a new stream: frames from before are
 * gone, and the cancelled request's answer, whenever it arrives (before
 * or after the new frames went out: the client's thread decides), frees
 * no request slot of the new stream: with max_in_flight 1 the new frames
 * still go one at a time and finish a server latency apart. */
GST_START_TEST (test_flush_then_new_stream)
{
  VssTestBedrock *s = server_start ("--latency-ms=0");
  VssEmbedBedrock *e = engine_new (s, 1, 4, 30000, 0);
  gint64 prev = 0;
  VssEmbedBedrockJob *job;

  destroyed = 0;
  vss_test_bedrock_control (s, "{\"hang\":1,\"hang_ms\":20000}");
  for (guint i = 0; i < 3; i++)
    fail_unless_equals_int (submit_jpeg (e, make_jpeg (16, 16, i), i),
        GST_FLOW_OK);
  /* Wait for the first request to reach the server. */
  for (guint i = 0; i < 500 && vss_test_bedrock_stat (s, "in_flight") < 1; i++)
    g_usleep (2000);
  fail_unless_equals_int (vss_test_bedrock_stat (s, "in_flight"), 1);

  vss_test_bedrock_control (s, "{\"latency_ms\":150}");
  vss_embed_bedrock_set_flushing (e, TRUE);
  vss_embed_bedrock_set_flushing (e, FALSE);
  /* The two waiting frames are gone; the one in flight goes with its
   * (cancelled) answer, which may still be on its way. */
  fail_unless (g_atomic_int_get (&destroyed) >= 2);
  for (guint i = 10; i < 14; i++)
    fail_unless_equals_int (submit_jpeg (e, make_jpeg (16, 16, i), i),
        GST_FLOW_OK);
  for (guint i = 10; i < 14; i++) {
    job = vss_embed_bedrock_pop (e);
    fail_unless (job != NULL);
    fail_unless_equals_int (job_index (job), i);
    fail_unless_equals_int (job->status, GST_VSS_BEDROCK_OK);
    if (prev)
      fail_unless (job->done_time - prev > 100 * 1000,
          "frames %u and %u answered %" G_GINT64_FORMAT " us apart with one "
          "request in flight", i - 1, i, job->done_time - prev);
    prev = job->done_time;
    vss_embed_bedrock_job_done (e, job, GST_FLOW_OK);
  }
  fail_unless (vss_embed_bedrock_drain (e));
  vss_embed_bedrock_free (e);
  fail_unless_equals_int (g_atomic_int_get (&destroyed), 7);
  vss_test_bedrock_stop (s);
}

GST_END_TEST;

static VssEmbedBedrockJob *
pop_frame (VssEmbedBedrock * e, guint index)
{
  VssEmbedBedrockJob *job = vss_embed_bedrock_pop (e);

  fail_unless (job != NULL && job->buffer != NULL);
  fail_unless_equals_int (job_index (job), index);
  return job;
}

/* Failures keep their frame's place and say what went wrong. */
GST_START_TEST (test_errors)
{
  VssTestBedrock *s = server_start ("--latency-ms=0");
  VssEmbedBedrock *e = engine_new (s, 4, 4, 10000, 1);
  VssEmbedBedrockJob *job;
  GstVideoInfo info;
  VssEmbedBedrockStats st;
  guint8 junk[64];

  destroyed = 0;
  gst_video_info_set_format (&info, GST_VIDEO_FORMAT_RGB, 64, 48);
  memset (junk, 0x5a, sizeof (junk));
  /* 0: fine; 1: a raw buffer too small for its layout; 2: bytes that are
   * no image; 3: a malformed answer; 4: throttled beyond the retries;
   * 5: a raw frame, fine. */
  fail_unless_equals_int (submit_jpeg (e, make_jpeg (16, 16, 0), 0),
      GST_FLOW_OK);
  fail_unless_equals_int (vss_embed_bedrock_submit_frame (e,
          gst_buffer_new_allocate (NULL, 100, NULL), &info,
          GUINT_TO_POINTER (2), count_destroy), GST_FLOW_OK);
  fail_unless_equals_int (submit_jpeg (e, g_bytes_new (junk, sizeof (junk)),
          2), GST_FLOW_OK);
  job = pop_frame (e, 0);
  fail_unless_equals_int (job->status, GST_VSS_BEDROCK_OK);
  vss_embed_bedrock_job_done (e, job, GST_FLOW_OK);
  job = pop_frame (e, 1);
  fail_unless_equals_int (job->status, GST_VSS_BEDROCK_REQUEST_ERROR);
  fail_unless (job->bad_input);
  fail_unless (job->vector == NULL);
  fail_unless (strstr (job->message, "does not hold a 64x48 RGB frame"),
      "%s", job->message);
  vss_embed_bedrock_job_done (e, job, GST_FLOW_OK);
  job = pop_frame (e, 2);
  fail_unless_equals_int (job->status, GST_VSS_BEDROCK_REQUEST_ERROR);
  fail_unless (job->bad_input);
  vss_embed_bedrock_job_done (e, job, GST_FLOW_OK);
  fail_unless_equals_int (vss_test_bedrock_stat (s, "invokes"), 1);

  vss_test_bedrock_control (s, "{\"malformed\":1}");
  fail_unless_equals_int (submit_jpeg (e, make_jpeg (16, 16, 3), 3),
      GST_FLOW_OK);
  job = pop_frame (e, 3);
  fail_unless_equals_int (job->status, GST_VSS_BEDROCK_BAD_RESPONSE);
  fail_unless_equals_int (job->http_status, 200);
  fail_if (job->bad_input);
  vss_embed_bedrock_job_done (e, job, GST_FLOW_OK);

  vss_test_bedrock_control (s, "{\"throttle\":2}");
  fail_unless_equals_int (submit_jpeg (e, make_jpeg (16, 16, 4), 4),
      GST_FLOW_OK);
  job = pop_frame (e, 4);
  fail_unless_equals_int (job->status, GST_VSS_BEDROCK_HTTP_ERROR);
  fail_unless_equals_int (job->http_status, 429);
  fail_unless_equals_string (job->error_type, "ThrottlingException");
  fail_unless_equals_int (job->attempts, 2);
  vss_embed_bedrock_job_done (e, job, GST_FLOW_OK);
  fail_unless_equals_int (vss_embed_bedrock_submit_frame (e,
          make_raw (&info, 5), &info, GUINT_TO_POINTER (6), count_destroy),
      GST_FLOW_OK);
  job = pop_frame (e, 5);
  fail_unless_equals_int (job->status, GST_VSS_BEDROCK_OK);
  fail_unless_equals_int (job->attempts, 1);
  vss_embed_bedrock_job_done (e, job, GST_FLOW_OK);

  vss_embed_bedrock_get_stats (e, &st);
  fail_unless_equals_uint64 (st.client.throttles, 2);
  fail_unless_equals_uint64 (st.client.retries, 1);
  fail_unless_equals_uint64 (st.frames_reencoded, 0);
  vss_embed_bedrock_free (e);
  fail_unless_equals_int (g_atomic_int_get (&destroyed), 6);
  vss_test_bedrock_stop (s);
}

GST_END_TEST;

/* A flow set by the consumer (an error downstream, or on-error=fail) is
 * what submit answers and drain fails on, until the next flush. */
GST_START_TEST (test_flow_and_drain)
{
  VssTestBedrock *s = server_start ("--latency-ms=100");
  VssEmbedBedrock *e = engine_new (s, 4, 4, 10000, 0);
  VssEmbedBedrockJob *job;
  Popper c = { e, 0, FALSE };
  GThread *consumer;
  GBytes *big;
  VssEmbedBedrockStats st;
  gint64 t0;

  destroyed = 0;
  /* drain waits for the frames and for the consumer to give the last one
   * back. */
  for (guint i = 0; i < 3; i++)
    fail_unless_equals_int (submit_jpeg (e, make_jpeg (16, 16, i), i),
        GST_FLOW_OK);
  for (guint i = 0; i < 2; i++) {
    job = pop_frame (e, i);
    vss_embed_bedrock_job_done (e, job, GST_FLOW_OK);
  }
  t0 = g_get_monotonic_time ();
  consumer = g_thread_new ("consumer", pop_thread, &c);
  fail_unless (vss_embed_bedrock_drain (e));
  fail_unless (c.returned_at != 0 && c.got_job);
  g_thread_join (consumer);
  GST_INFO ("drained in %" G_GINT64_FORMAT " us", g_get_monotonic_time () - t0);

  /* The consumer's push failed: the producer hears it. */
  fail_unless_equals_int (submit_jpeg (e, make_jpeg (16, 16, 3), 3),
      GST_FLOW_OK);
  job = pop_frame (e, 3);
  vss_embed_bedrock_job_done (e, job, GST_FLOW_NOT_LINKED);
  fail_unless_equals_int (submit_jpeg (e, make_jpeg (16, 16, 4), 4),
      GST_FLOW_NOT_LINKED);
  fail_if (vss_embed_bedrock_drain (e));

  /* A flush clears it; set_flow refuses again. */
  vss_embed_bedrock_set_flushing (e, TRUE);
  vss_embed_bedrock_set_flushing (e, FALSE);
  fail_unless_equals_int (submit_jpeg (e, make_jpeg (16, 16, 5), 5),
      GST_FLOW_OK);
  vss_embed_bedrock_set_flow (e, GST_FLOW_ERROR);
  fail_unless_equals_int (submit_jpeg (e, make_jpeg (16, 16, 6), 6),
      GST_FLOW_ERROR);
  fail_if (vss_embed_bedrock_drain (e));
  vss_embed_bedrock_set_flushing (e, TRUE);
  vss_embed_bedrock_set_flushing (e, FALSE);

  /* An image wider than the model takes is scaled and re-encoded. */
  big = make_jpeg (2600, 40, 7);
  fail_unless_equals_int (submit_jpeg (e, big, 7), GST_FLOW_OK);
  job = pop_frame (e, 7);
  fail_unless_equals_int (job->status, GST_VSS_BEDROCK_OK);
  vss_embed_bedrock_job_done (e, job, GST_FLOW_OK);
  vss_embed_bedrock_get_stats (e, &st);
  fail_unless_equals_uint64 (st.frames_reencoded, 1);

  vss_embed_bedrock_free (e);
  fail_unless_equals_int (g_atomic_int_get (&destroyed), 8);
  vss_test_bedrock_stop (s);
}

GST_END_TEST;

static Suite *
embed_bedrock_engine_suite (void)
{
  Suite *suite = suite_create ("embed-bedrock-engine");
  TCase *tc = tcase_create ("general");

  /* The server's test keys; nothing may leave loopback. */
  g_setenv ("AWS_ACCESS_KEY_ID", AK, TRUE);
  g_setenv ("AWS_SECRET_ACCESS_KEY", SK, TRUE);
  g_unsetenv ("AWS_SESSION_TOKEN");
  g_setenv ("AWS_REGION", REGION, TRUE);
  g_setenv ("AWS_EC2_METADATA_DISABLED", "true", TRUE);
  g_setenv ("AWS_CONFIG_FILE", "/nonexistent", TRUE);
  g_setenv ("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent", TRUE);
  g_unsetenv ("AWS_PROFILE");
  g_unsetenv ("http_proxy");
  g_unsetenv ("HTTP_PROXY");
  g_unsetenv ("all_proxy");
  g_unsetenv ("ALL_PROXY");

  suite_add_tcase (suite, tc);
  tcase_set_timeout (tc, 60);
  tcase_add_test (tc, test_order_under_random_latency);
  tcase_add_test (tc, test_backpressure_and_flush);
  tcase_add_test (tc, test_flush_then_new_stream);
  tcase_add_test (tc, test_errors);
  tcase_add_test (tc, test_flow_and_drain);
  return suite;
}

GST_CHECK_MAIN (embed_bedrock_engine);
