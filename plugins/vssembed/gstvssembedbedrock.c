/* gst-vss: vssembed provider=bedrock (asynchronous, ordered)
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The sink pad turns every buffer into a job (frame + request body) and
 * every serialized event into a job, appended to one FIFO. Up to
 * max-in-flight buffer jobs are submitted to the Bedrock client, whose
 * curl-multi thread completes them in any order. The source pad's task pops
 * the FIFO head only when it is done (events are always done), so buffers
 * and events leave in input order. The sink pad blocks while the FIFO holds
 * max-in-flight + queue-size frames.
 *
 * Locking: `qlock` guards the FIFO, the jobs' state, `n_frames`,
 * `in_flight`, `epoch`, `pushing`, `flushing`, `srcresult` and `client`;
 * `qcond` signals any change. Lock order: qlock before the object lock;
 * the client's lock is taken under either (cancel_all under qlock, stats
 * under the object lock) and never the other way round. Nothing is pushed
 * and no request is submitted with qlock held.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>
#include "gstvssembedpriv.h"
#include "bedrock/gstvssbedrockimage.h"

#define GST_CAT_DEFAULT gst_vss_embed_debug

typedef struct
{
  gint ref;
  GstVssEmbed *self;
  GstBuffer *buf;
  GstEvent *event;
  GBytes *body;
  guint epoch;
  gboolean submitted;
  gboolean done;
  gboolean bad_input;
  gint64 t_in;
  gchar frame_id[GST_VSS_FRAME_ID_SIZE];
  gboolean reused_id;

  GstVssBedrockStatus status;
  gfloat *vector;
  guint dim;
  glong http_status;
  gchar *error_type;
  gchar *message;
  guint attempts;
} Job;

static Job *
job_ref (Job * j)
{
  g_atomic_int_inc (&j->ref);
  return j;
}

static void
job_unref (Job * j)
{
  if (!g_atomic_int_dec_and_test (&j->ref))
    return;
  if (j->buf)
    gst_buffer_unref (j->buf);
  if (j->event)
    gst_event_unref (j->event);
  if (j->body)
    g_bytes_unref (j->body);
  g_free (j->vector);
  g_free (j->error_type);
  g_free (j->message);
  g_free (j);
}

static Job *
job_new (GstVssEmbed * self)
{
  Job *j = g_new0 (Job, 1);

  j->ref = 1;
  j->self = self;
  return j;
}

/* Called with qlock held. */
static void
clear_fifo_locked (GstVssEmbed * self)
{
  Job *j;

  while ((j = g_queue_pop_head (&self->fifo)))
    job_unref (j);
  self->n_frames = 0;
  self->in_flight = 0;
  self->pushing = FALSE;
  self->epoch++;
}

void
gst_vss_embed_bedrock_init (GstVssEmbed * self)
{
  g_mutex_init (&self->qlock);
  g_cond_init (&self->qcond);
  g_queue_init (&self->fifo);
  self->srcresult = GST_FLOW_FLUSHING;
  self->flushing = TRUE;
  self->frame_dur = GST_CLOCK_TIME_NONE;
}

void
gst_vss_embed_bedrock_finalize (GstVssEmbed * self)
{
  g_mutex_lock (&self->qlock);
  clear_fifo_locked (self);
  g_mutex_unlock (&self->qlock);
  g_mutex_clear (&self->qlock);
  g_cond_clear (&self->qcond);
}

static void job_done (GstVssBedrockResult * r, gpointer data);

/* Submits queued jobs, oldest first, while fewer than max-in-flight are
 * outstanding. Called without qlock, from any thread. */
static void
pump (GstVssEmbed * self)
{
  GSList *todo = NULL, *l;
  GstVssBedrockClient *client;
  guint n;
  GList *it;

  g_mutex_lock (&self->qlock);
  client = self->client;
  if (self->flushing || !client) {
    g_mutex_unlock (&self->qlock);
    return;
  }
  for (it = self->fifo.head; it && self->in_flight < self->s_max_in_flight;
      it = it->next) {
    Job *j = it->data;

    if (j->buf && !j->submitted && !j->done) {
      j->submitted = TRUE;
      self->in_flight++;
      todo = g_slist_prepend (todo, job_ref (j));
    }
  }
  n = self->in_flight;
  g_mutex_unlock (&self->qlock);

  GST_OBJECT_LOCK (self);
  self->max_in_flight_seen = MAX (self->max_in_flight_seen, n);
  GST_OBJECT_UNLOCK (self);

  /* The client stays valid: stop() frees it only after flushing, and every
   * job submitted here is answered (maybe cancelled) before it is freed. */
  todo = g_slist_reverse (todo);
  for (l = todo; l; l = l->next) {
    Job *j = l->data;

    gst_vss_bedrock_client_embed_async (client, self->active_model, j->body,
        self->dim, job_done, j);
  }
  g_slist_free (todo);
}

static void
job_done (GstVssBedrockResult * r, gpointer data)
{
  Job *j = data;
  GstVssEmbed *self = j->self;

  g_mutex_lock (&self->qlock);
  if (j->epoch == self->epoch && self->in_flight > 0)
    self->in_flight--;
  j->status = r->status;
  j->vector = r->vector;
  r->vector = NULL;
  j->dim = r->dim;
  j->http_status = r->http_status;
  j->error_type = g_strdup (r->error_type);
  j->message = g_strdup (r->message);
  j->attempts = r->attempts;
  j->done = TRUE;
  g_clear_pointer (&j->body, g_bytes_unref);
  g_cond_broadcast (&self->qcond);
  g_mutex_unlock (&self->qlock);
  job_unref (j);
  if (r->status != GST_VSS_BEDROCK_CANCELLED)
    pump (self);
}

/* Posts the failure of @j as an error (fail) or a warning (skip). */
static void
post_failure (GstVssEmbed * self, Job * j, gboolean error)
{
  gchar *text, *debug;
  const gchar *type = j->error_type ? j->error_type : "";
  const gchar *msg = j->message ? j->message : "";

  switch (j->status) {
    case GST_VSS_BEDROCK_HTTP_ERROR:
      text = g_strdup_printf ("Amazon Bedrock refused to embed a frame: HTTP "
          "%ld %s.", j->http_status, type[0] ? type : "(no error type)");
      break;
    case GST_VSS_BEDROCK_TRANSPORT_ERROR:
      text = g_strdup ("Amazon Bedrock did not answer.");
      break;
    case GST_VSS_BEDROCK_BAD_RESPONSE:
      text = g_strdup ("Amazon Bedrock sent an unusable answer.");
      break;
    default:
      text = g_strdup (j->bad_input ? "vssembed could not prepare a frame "
          "for Amazon Bedrock." : "vssembed could not make a Bedrock "
          "request.");
      break;
  }
  debug = g_strdup_printf ("%s%s(model %s, frame %s, %u attempt%s)%s", msg,
      msg[0] ? " " : "", self->active_model, j->frame_id, j->attempts,
      j->attempts == 1 ? "" : "s", !error && self->warnings_suppressed ?
      "; more frames failed since the last warning, see stats" : "");
#define DETAILS ("http-status-code", G_TYPE_INT, (gint) j->http_status, \
      "aws-error-type", G_TYPE_STRING, type, "aws-message", G_TYPE_STRING, \
      msg, NULL)
  if (error && (j->http_status == 401 || j->http_status == 403))
    GST_ELEMENT_ERROR_WITH_DETAILS (self, RESOURCE, NOT_AUTHORIZED,
        ("%s", text), ("%s", debug), DETAILS);
  else if (error)
    GST_ELEMENT_ERROR_WITH_DETAILS (self, RESOURCE, FAILED, ("%s", text),
        ("%s", debug), DETAILS);
  else
    GST_ELEMENT_WARNING_WITH_DETAILS (self, RESOURCE, FAILED, ("%s", text),
        ("%s", debug), DETAILS);
#undef DETAILS
  g_free (text);
  g_free (debug);
}

/* Pushes (or not) a finished frame. Returns the flow; *posted tells whether
 * an error message was already posted. */
static GstFlowReturn
finish_frame (GstVssEmbed * self, Job * j, gboolean * posted)
{
  GstBuffer *buf = j->buf;
  GstVssEmbedOnError on_error;
  guint64 dt;

  j->buf = NULL;
  *posted = FALSE;
  if (j->status == GST_VSS_BEDROCK_CANCELLED) {
    gst_buffer_unref (buf);
    return GST_FLOW_FLUSHING;
  }
  if (j->status == GST_VSS_BEDROCK_OK) {
    buf = gst_buffer_make_writable (buf);
    gst_vss_buffer_add_embedding_meta_take (buf, self->active_model,
        j->vector, j->dim, TRUE, j->frame_id);
    j->vector = NULL;
    dt = (guint64) (g_get_monotonic_time () - j->t_in) * 1000;
    GST_OBJECT_LOCK (self);
    self->frames_embedded++;
    if (j->reused_id)
      self->frames_reused_id++;
    self->embed_time_total_ns += dt;
    self->embed_time_max_ns = MAX (self->embed_time_max_ns, dt);
    GST_OBJECT_UNLOCK (self);
    GST_LOG_OBJECT (self, "frame %s embedded after %u attempt(s)",
        j->frame_id, j->attempts);
    return gst_pad_push (GST_BASE_TRANSFORM_SRC_PAD (self), buf);
  }

  GST_OBJECT_LOCK (self);
  on_error = self->on_error;
  if (on_error == GST_VSS_EMBED_ON_ERROR_SKIP)
    self->frames_skipped++;
  else if (on_error == GST_VSS_EMBED_ON_ERROR_DROP)
    self->frames_dropped++;
  GST_OBJECT_UNLOCK (self);
  GST_DEBUG_OBJECT (self, "frame %s failed: status %d, HTTP %ld %s",
      j->frame_id, j->status, j->http_status,
      j->error_type ? j->error_type : "");
  switch (on_error) {
    case GST_VSS_EMBED_ON_ERROR_SKIP:{
      gint64 now = g_get_monotonic_time ();

      /* At most one warning a second: an outage must not flood the bus. */
      if (self->last_warning_us == 0
          || now - self->last_warning_us >= G_USEC_PER_SEC) {
        post_failure (self, j, FALSE);
        self->last_warning_us = now;
        self->warnings_suppressed = 0;
      } else {
        self->warnings_suppressed++;
      }
    }
      return gst_pad_push (GST_BASE_TRANSFORM_SRC_PAD (self), buf);
    case GST_VSS_EMBED_ON_ERROR_DROP:
      gst_buffer_unref (buf);
      return GST_FLOW_OK;
    default:
      /* Refuse upstream before the error is seen, so nothing slips in. */
      g_mutex_lock (&self->qlock);
      if (!self->flushing)
        self->srcresult = GST_FLOW_ERROR;
      g_cond_broadcast (&self->qcond);
      g_mutex_unlock (&self->qlock);
      post_failure (self, j, TRUE);
      *posted = TRUE;
      gst_buffer_unref (buf);
      return GST_FLOW_ERROR;
  }
}

static void
src_loop (GstPad * pad)
{
  GstVssEmbed *self = GST_VSS_EMBED (GST_PAD_PARENT (pad));
  GstFlowReturn ret = GST_FLOW_OK;
  gboolean posted = FALSE;
  Job *j;

  g_mutex_lock (&self->qlock);
  for (;;) {
    if (self->flushing)
      goto flushing;
    j = g_queue_peek_head (&self->fifo);
    if (j && (j->event || j->done))
      break;
    g_cond_wait (&self->qcond, &self->qlock);
  }
  g_queue_pop_head (&self->fifo);
  if (j->buf)
    self->n_frames--;
  self->pushing = TRUE;
  g_cond_broadcast (&self->qcond);
  g_mutex_unlock (&self->qlock);

  if (j->event) {
    GstEvent *ev = j->event;

    j->event = NULL;
    GST_DEBUG_OBJECT (self, "pushing %" GST_PTR_FORMAT, ev);
    gst_pad_push_event (pad, ev);
  } else {
    ret = finish_frame (self, j, &posted);
  }
  job_unref (j);

  g_mutex_lock (&self->qlock);
  self->pushing = FALSE;
  if (ret != GST_FLOW_OK && !self->flushing)
    self->srcresult = ret;
  g_cond_broadcast (&self->qcond);
  g_mutex_unlock (&self->qlock);
  if (ret == GST_FLOW_OK)
    return;
  if (!posted && (ret == GST_FLOW_NOT_LINKED || ret < GST_FLOW_EOS)
      && ret != GST_FLOW_FLUSHING)
    GST_ELEMENT_FLOW_ERROR (self, ret);
  GST_DEBUG_OBJECT (self, "pausing task: %s", gst_flow_get_name (ret));
  gst_pad_pause_task (pad);
  return;

flushing:
  g_mutex_unlock (&self->qlock);
  GST_DEBUG_OBJECT (self, "flushing, pausing task");
  gst_pad_pause_task (pad);
}

void
gst_vss_embed_bedrock_set_flushing (GstVssEmbed * self)
{
  g_mutex_lock (&self->qlock);
  self->flushing = TRUE;
  self->srcresult = GST_FLOW_FLUSHING;
  if (self->client)
    gst_vss_bedrock_client_cancel_all (self->client);
  g_cond_broadcast (&self->qcond);
  g_mutex_unlock (&self->qlock);
}

static void
unflush (GstVssEmbed * self)
{
  g_mutex_lock (&self->qlock);
  clear_fifo_locked (self);
  self->flushing = FALSE;
  self->srcresult = GST_FLOW_OK;
  g_mutex_unlock (&self->qlock);
}

gboolean
gst_vss_embed_bedrock_src_activate (GstVssEmbed * self, GstPad * pad,
    gboolean active)
{
  if (active) {
    unflush (self);
    return gst_pad_start_task (pad, (GstTaskFunction) src_loop, pad, NULL);
  }
  gst_vss_embed_bedrock_set_flushing (self);
  return gst_pad_stop_task (pad);
}

gboolean
gst_vss_embed_bedrock_start (GstVssEmbed * self)
{
  GstVssAwsSettings aws = { 0, };
  GstVssBedrockOptions opts = { 0, };
  GstVssBedrockClient *client;
  GstVssAwsCredentials *creds;
  GError *err = NULL;
  gchar *model;
  guint dim;

  GST_OBJECT_LOCK (self);
  model = g_strdup (self->model ? self->model : GST_VSS_BEDROCK_IMAGE_MODEL);
  dim = self->dimension;
  gst_vss_aws_props_to_settings (&self->aws, &gst_vss_aws_service_bedrock,
      &aws);
  opts.aws = &aws;
  opts.max_connections = self->max_in_flight;
  opts.timeout_ms = self->timeout_ms;
  opts.max_retries = self->max_retries;
  opts.retry_max_time_ms = self->retry_max_time_ms;
  self->s_max_in_flight = self->max_in_flight;
  self->s_queue_size = self->queue_size;
  self->frame_dur = GST_CLOCK_TIME_NONE;
  /* Settings strings are copied by the config; the lock keeps them alive. */
  if (!gst_vss_bedrock_check_model (model, dim, TRUE, &err)) {
    GST_OBJECT_UNLOCK (self);
    goto bad_model;
  }
  client = gst_vss_bedrock_client_new (&opts, &err);
  GST_OBJECT_UNLOCK (self);
  if (!client)
    goto bad_settings;
  creds = gst_vss_bedrock_client_get_credentials (client, &err);
  if (!creds)
    goto no_credentials;
  GST_INFO_OBJECT (self, "model %s, dimension %u, region %s, endpoint %s, "
      "credentials from %s", model, dim ? dim :
      gst_vss_bedrock_model_default_dim (model),
      gst_vss_bedrock_client_get_region (client),
      gst_vss_bedrock_client_get_endpoint (client), creds->source);
  gst_vss_aws_credentials_free (creds);

  GST_OBJECT_LOCK (self);
  g_free (self->active_model);
  self->active_model = model;
  self->dim = dim ? dim : gst_vss_bedrock_model_default_dim (model);
  self->stats_client = client;
  GST_OBJECT_UNLOCK (self);
  self->input = GST_VSS_EMBED_INPUT_RAW;
  self->have_info = FALSE;
  self->last_warning_us = 0;
  self->warnings_suppressed = 0;
  gst_segment_init (&self->in_segment, GST_FORMAT_TIME);
  g_mutex_lock (&self->qlock);
  self->client = client;
  g_mutex_unlock (&self->qlock);
  return TRUE;

  /* ERRORS */
bad_model:
  {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS,
        ("Model '%s' cannot embed frames with provider 'bedrock'.", model),
        ("%s", err->message));
    g_error_free (err);
    g_free (model);
    return FALSE;
  }
bad_settings:
  {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS,
        ("The AWS settings for Amazon Bedrock are incomplete or wrong."),
        ("%s", err->message));
    g_error_free (err);
    g_free (model);
    return FALSE;
  }
no_credentials:
  {
    GST_ELEMENT_ERROR (self, RESOURCE, NOT_AUTHORIZED,
        ("No AWS credentials for Amazon Bedrock."), ("%s", err->message));
    g_error_free (err);
    gst_vss_bedrock_client_free (client);
    g_free (model);
    return FALSE;
  }
}

void
gst_vss_embed_bedrock_stop (GstVssEmbed * self)
{
  GstVssBedrockClient *client;

  gst_vss_embed_bedrock_set_flushing (self);
  g_mutex_lock (&self->qlock);
  client = self->client;
  self->client = NULL;
  g_mutex_unlock (&self->qlock);
  if (client) {
    GST_OBJECT_LOCK (self);
    gst_vss_bedrock_client_get_stats (client, &self->last_client_stats);
    self->stats_client = NULL;
    GST_OBJECT_UNLOCK (self);
    /* Runs every outstanding callback. */
    gst_vss_bedrock_client_free (client);
  }
  g_mutex_lock (&self->qlock);
  clear_fifo_locked (self);
  g_mutex_unlock (&self->qlock);
}

/* Reads the frame into a request body; on failure the job is done with
 * bad_input, so on-error decides, in order, like any other failure. */
static void
prepare_body (GstVssEmbed * self, Job * j)
{
  GError *err = NULL;
  GBytes *image = NULL;

  if (self->input == GST_VSS_EMBED_INPUT_RAW) {
    GstVideoFrame frame;

    if (gst_video_frame_map (&frame, &self->info, j->buf, GST_MAP_READ)) {
      image = gst_vss_bedrock_image_encode_frame (&frame,
          GST_VSS_BEDROCK_MAX_IMAGE_SIDE, GST_VSS_BEDROCK_MAX_IMAGE_BYTES,
          &err);
      gst_video_frame_unmap (&frame);
    } else {
      g_set_error (&err, GST_VSS_BEDROCK_ERROR, 0, "buffer of %"
          G_GSIZE_FORMAT " bytes does not hold a %dx%d %s frame",
          gst_buffer_get_size (j->buf), GST_VIDEO_INFO_WIDTH (&self->info),
          GST_VIDEO_INFO_HEIGHT (&self->info),
          GST_VIDEO_INFO_NAME (&self->info));
    }
  } else {
    GstMapInfo map;
    GBytes *in;
    gboolean reencoded = FALSE;

    if (gst_buffer_map (j->buf, &map, GST_MAP_READ)) {
      in = g_bytes_new (map.data, map.size);
      gst_buffer_unmap (j->buf, &map);
      image = gst_vss_bedrock_image_fit (in, GST_VSS_BEDROCK_MAX_IMAGE_SIDE,
          GST_VSS_BEDROCK_MAX_IMAGE_BYTES, &reencoded, &err);
      g_bytes_unref (in);
      if (reencoded) {
        GST_OBJECT_LOCK (self);
        self->frames_reencoded++;
        GST_OBJECT_UNLOCK (self);
      }
    } else {
      g_set_error (&err, GST_VSS_BEDROCK_ERROR, 0, "cannot read buffer");
    }
  }
  if (image) {
    gsize len;
    const guint8 *d = g_bytes_get_data (image, &len);

    j->body = gst_vss_bedrock_image_body (d, len, self->dim);
    g_bytes_unref (image);
    return;
  }
  j->done = TRUE;
  j->bad_input = TRUE;
  j->status = GST_VSS_BEDROCK_REQUEST_ERROR;
  j->message = g_strdup (err->message);
  g_error_free (err);
}

GstFlowReturn
gst_vss_embed_bedrock_chain (GstVssEmbed * self, GstBuffer * buf)
{
  const gchar *existing_id;
  GstFlowReturn ret;
  Job *j;

  if (G_UNLIKELY (!self->have_info))
    goto not_negotiated;

  j = job_new (self);
  j->buf = buf;
  j->t_in = g_get_monotonic_time ();
  existing_id = gst_vss_buffer_get_frame_id (buf);
  if (existing_id != NULL && gst_vss_frame_id_is_valid (existing_id)) {
    g_strlcpy (j->frame_id, existing_id, sizeof (j->frame_id));
    j->reused_id = TRUE;
  } else {
    gst_vss_frame_id_new (gst_vss_embed_capture_time (self, buf,
            &self->in_segment), j->frame_id);
  }
  prepare_body (self, j);

  g_mutex_lock (&self->qlock);
  while (!self->flushing && self->srcresult == GST_FLOW_OK
      && self->n_frames >= self->s_max_in_flight + self->s_queue_size)
    g_cond_wait (&self->qcond, &self->qlock);
  ret = self->srcresult;
  if (self->flushing || ret != GST_FLOW_OK) {
    g_mutex_unlock (&self->qlock);
    job_unref (j);
    GST_DEBUG_OBJECT (self, "refusing buffer: %s", gst_flow_get_name (ret));
    return ret == GST_FLOW_OK ? GST_FLOW_FLUSHING : ret;
  }
  j->epoch = self->epoch;
  g_queue_push_tail (&self->fifo, j);
  self->n_frames++;
  if (j->done)
    g_cond_broadcast (&self->qcond);
  g_mutex_unlock (&self->qlock);

  GST_OBJECT_LOCK (self);
  self->frames_in++;
  GST_OBJECT_UNLOCK (self);
  pump (self);
  return GST_FLOW_OK;

  /* ERRORS */
not_negotiated:
  {
    GST_ELEMENT_ERROR (self, CORE, NEGOTIATION,
        ("vssembed received a frame before its format was known."),
        ("no caps event before the first buffer"));
    gst_buffer_unref (buf);
    return GST_FLOW_NOT_NEGOTIATED;
  }
}

/* Appends a serialized event behind the frames before it. */
static gboolean
enqueue_event (GstVssEmbed * self, GstEvent * event)
{
  Job *j;

  g_mutex_lock (&self->qlock);
  if (self->flushing) {
    g_mutex_unlock (&self->qlock);
    gst_event_unref (event);
    return FALSE;
  }
  j = job_new (self);
  j->event = event;
  j->epoch = self->epoch;
  g_queue_push_tail (&self->fifo, j);
  g_cond_broadcast (&self->qcond);
  g_mutex_unlock (&self->qlock);
  return TRUE;
}

static gboolean
set_caps (GstVssEmbed * self, GstCaps * caps)
{
  GstStructure *s = gst_caps_get_structure (caps, 0);
  const gchar *name = gst_structure_get_name (s);
  GstClockTime dur = GST_CLOCK_TIME_NONE;
  gint fn = 0, fd = 1;

  if (gst_structure_has_name (s, "image/jpeg")) {
    self->input = GST_VSS_EMBED_INPUT_JPEG;
  } else if (gst_structure_has_name (s, "image/png")) {
    self->input = GST_VSS_EMBED_INPUT_PNG;
  } else {
    GstVideoInfo info;

    if (!gst_video_info_from_caps (&info, caps)
        || GST_VIDEO_INFO_WIDTH (&info) <= 0
        || GST_VIDEO_INFO_HEIGHT (&info) <= 0)
      goto bad_caps;
    self->info = info;
    self->input = GST_VSS_EMBED_INPUT_RAW;
  }
  if (gst_structure_get_fraction (s, "framerate", &fn, &fd) && fn > 0 && fd > 0)
    dur = gst_util_uint64_scale_int (GST_SECOND, fd, fn);
  GST_OBJECT_LOCK (self);
  self->frame_dur = dur;
  GST_OBJECT_UNLOCK (self);
  self->have_info = TRUE;
  GST_DEBUG_OBJECT (self, "caps %" GST_PTR_FORMAT, caps);
  return TRUE;

  /* ERRORS */
bad_caps:
  {
    GST_ELEMENT_ERROR (self, STREAM, FORMAT,
        ("vssembed cannot read these caps (%s).", name),
        ("caps %" GST_PTR_FORMAT " do not describe raw video with a size",
            caps));
    return FALSE;
  }
}

gboolean
gst_vss_embed_bedrock_sink_event (GstVssEmbed * self, GstEvent * event)
{
  GstPad *srcpad = GST_BASE_TRANSFORM_SRC_PAD (self);
  gboolean ret;

  switch (GST_EVENT_TYPE (event)) {
    case GST_EVENT_FLUSH_START:
      ret = gst_pad_push_event (srcpad, event);
      gst_vss_embed_bedrock_set_flushing (self);
      gst_pad_pause_task (srcpad);
      return ret;
    case GST_EVENT_FLUSH_STOP:
      unflush (self);
      ret = gst_pad_push_event (srcpad, event);
      gst_pad_start_task (srcpad, (GstTaskFunction) src_loop, srcpad, NULL);
      return ret;
    case GST_EVENT_CAPS:{
      GstCaps *caps;

      gst_event_parse_caps (event, &caps);
      if (!set_caps (self, caps)) {
        gst_event_unref (event);
        return FALSE;
      }
      return enqueue_event (self, event);
    }
    case GST_EVENT_SEGMENT:
      gst_event_copy_segment (event, &self->in_segment);
      return enqueue_event (self, event);
    default:
      if (GST_EVENT_IS_SERIALIZED (event))
        return enqueue_event (self, event);
      return gst_pad_push_event (srcpad, event);
  }
}

/* Waits until every queued job has left; FALSE when flushing or the task
 * stopped on an error. */
gboolean
gst_vss_embed_bedrock_drain (GstVssEmbed * self)
{
  gboolean ok;

  g_mutex_lock (&self->qlock);
  while (!self->flushing && self->srcresult == GST_FLOW_OK
      && (!g_queue_is_empty (&self->fifo) || self->pushing))
    g_cond_wait (&self->qcond, &self->qlock);
  ok = !self->flushing && self->srcresult == GST_FLOW_OK;
  g_mutex_unlock (&self->qlock);
  return ok;
}

gboolean
gst_vss_embed_bedrock_latency (GstVssEmbed * self, GstQuery * query)
{
  GstClockTime min, max, dur;
  gboolean live;
  guint latency_ms, frames;

  if (!gst_pad_peer_query (GST_BASE_TRANSFORM_SINK_PAD (self), query))
    return FALSE;
  gst_query_parse_latency (query, &live, &min, &max);
  GST_OBJECT_LOCK (self);
  latency_ms = self->latency_ms;
  frames = self->s_max_in_flight + self->s_queue_size;
  dur = self->frame_dur;
  GST_OBJECT_UNLOCK (self);
  if (live) {
    min += latency_ms * GST_MSECOND;
    if (GST_CLOCK_TIME_IS_VALID (max)) {
      if (GST_CLOCK_TIME_IS_VALID (dur))
        max += frames * dur;
      else
        max = GST_CLOCK_TIME_NONE;
    }
  }
  GST_DEBUG_OBJECT (self, "latency: live %d, min %" GST_TIME_FORMAT ", max %"
      GST_TIME_FORMAT, live, GST_TIME_ARGS (min), GST_TIME_ARGS (max));
  gst_query_set_latency (query, live, min, max);
  return TRUE;
}

/* Called with the object lock held. */
void
gst_vss_embed_bedrock_add_stats (GstVssEmbed * self, GstStructure * s)
{
  GstVssBedrockStats st;

  if (self->stats_client)
    gst_vss_bedrock_client_get_stats (self->stats_client, &st);
  else
    st = self->last_client_stats;
  gst_structure_set (s,
      "requests", G_TYPE_UINT64, st.requests,
      "retries", G_TYPE_UINT64, st.retries,
      "throttles", G_TYPE_UINT64, st.throttles,
      "failures", G_TYPE_UINT64, st.failures,
      "bytes-sent", G_TYPE_UINT64, st.bytes_sent,
      "mean-latency-ms", G_TYPE_DOUBLE, st.latency_count ?
      st.latency_total_us / 1000.0 / st.latency_count : 0.0,
      "frames-skipped", G_TYPE_UINT64, self->frames_skipped,
      "frames-dropped", G_TYPE_UINT64, self->frames_dropped,
      "frames-reencoded", G_TYPE_UINT64, self->frames_reencoded,
      "max-in-flight-seen", G_TYPE_UINT, self->max_in_flight_seen, NULL);
}
