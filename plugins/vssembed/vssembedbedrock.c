/* gst-vss: vssembed's Bedrock engine
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Every submitted frame becomes a job holding the frame and its request
 * body; every submitted event becomes a job that is done at once. Jobs
 * wait in one FIFO in input order. Up to max_in_flight frame jobs are
 * handed to the Bedrock client, whose curl-multi thread completes them in
 * any order; pop() hands out the FIFO's head only once it is done, so the
 * consumer sees frames and events in input order.
 *
 * A job is referenced by the FIFO (until popped or flushed) and by its
 * request (until the client calls back), so a flush can drop the FIFO while
 * requests still run: their answers land in jobs nobody waits for. `epoch`
 * (bumped by every flush) tells those late answers apart, so they do not
 * free a request slot of the new stream.
 *
 * Locking: `lock` guards the FIFO and every job's private fields and
 * results until the job is popped, `n_frames`, `in_flight`, `epoch`,
 * `popped`, `flushing`, `flow` and the counters; `cond` signals any change.
 * Lock order: `lock`, then the client's (cancel_all is called under it so
 * that no request submitted before a flush survives it); the client never
 * calls back with its lock held. No request is submitted, and nothing the
 * caller gave (buffers, user data) is freed, with `lock` held.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "vssembedbedrock.h"
#include "bedrock/gstvssbedrockimage.h"

GST_DEBUG_CATEGORY_STATIC (vss_embed_bedrock_debug);
#define GST_CAT_DEFAULT vss_embed_bedrock_debug

struct _VssEmbedBedrock
{
  /* set in new(), read-only after */
  GstVssBedrockClient *client;
  gchar *model;
  guint dim;
  guint max_in_flight;
  guint queue_size;

  GMutex lock;
  GCond cond;
  GQueue fifo;                  /* Job, input order */
  guint n_frames;               /* frame jobs in fifo */
  guint in_flight;              /* submitted, not answered, this epoch */
  guint epoch;
  gboolean popped;              /* the consumer holds a job */
  gboolean flushing;
  GstFlowReturn flow;           /* what submit answers; FLUSHING when flushing */
  guint64 frames_reencoded;
  guint max_in_flight_seen;
};

typedef struct
{
  VssEmbedBedrockJob pub;       /* first: pop() hands out &job->pub */
  gint ref;
  VssEmbedBedrock *engine;
  GDestroyNotify destroy;
  GBytes *body;
  guint epoch;
  gboolean is_frame;
  gboolean submitted;
  gboolean done;
} Job;

static Job *
job_new (VssEmbedBedrock * self)
{
  Job *j = g_new0 (Job, 1);

  j->ref = 1;
  j->engine = self;
  return j;
}

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
  if (j->pub.buffer)
    gst_buffer_unref (j->pub.buffer);
  if (j->pub.event)
    gst_event_unref (j->pub.event);
  if (j->destroy)
    j->destroy (j->pub.user_data);
  if (j->body)
    g_bytes_unref (j->body);
  g_free (j->pub.vector);
  g_free (j->pub.error_type);
  g_free (j->pub.message);
  g_free (j);
}

/**
 * vss_embed_bedrock_new:
 * @client: (transfer full): the client requests go to
 *
 * The engine starts flushing: call vss_embed_bedrock_set_flushing() with
 * FALSE before the first frame.
 */
VssEmbedBedrock *
vss_embed_bedrock_new (GstVssBedrockClient * client,
    const VssEmbedBedrockConfig * config)
{
  VssEmbedBedrock *self;

  g_return_val_if_fail (client != NULL, NULL);
  g_return_val_if_fail (config != NULL && config->model != NULL, NULL);
  g_return_val_if_fail (config->max_in_flight > 0, NULL);

  GST_DEBUG_CATEGORY_INIT (vss_embed_bedrock_debug, "vssembedbedrock", 0,
      "vssembed's Bedrock engine");
  self = g_new0 (VssEmbedBedrock, 1);
  self->client = client;
  self->model = g_strdup (config->model);
  self->dim = config->dim;
  self->max_in_flight = config->max_in_flight;
  self->queue_size = config->queue_size;
  g_mutex_init (&self->lock);
  g_cond_init (&self->cond);
  g_queue_init (&self->fifo);
  self->flushing = TRUE;
  self->flow = GST_FLOW_FLUSHING;
  return self;
}

/* Takes every job out of the FIFO; called with the lock held. The caller
 * unrefs them without it. */
static GList *
take_fifo_locked (VssEmbedBedrock * self)
{
  GList *jobs = self->fifo.head;

  g_queue_init (&self->fifo);
  self->n_frames = 0;
  self->in_flight = 0;
  self->popped = FALSE;
  self->epoch++;
  return jobs;
}

/* Cancels every request and frees every job: returns once every answer,
 * cancelled or not, has come back. */
void
vss_embed_bedrock_free (VssEmbedBedrock * self)
{
  GList *jobs;

  if (self == NULL)
    return;
  vss_embed_bedrock_set_flushing (self, TRUE);
  gst_vss_bedrock_client_free (self->client);
  g_mutex_lock (&self->lock);
  jobs = take_fifo_locked (self);
  g_mutex_unlock (&self->lock);
  g_list_free_full (jobs, (GDestroyNotify) job_unref);
  g_mutex_clear (&self->lock);
  g_cond_clear (&self->cond);
  g_free (self->model);
  g_free (self);
}

static void request_done (GstVssBedrockResult * r, gpointer data);

/* Submits waiting frame jobs, oldest first, while fewer than max_in_flight
 * are outstanding. Called without the lock, from the producer or from the
 * client's thread. */
static void
pump (VssEmbedBedrock * self)
{
  GSList *todo = NULL, *l;
  GList *it;

  g_mutex_lock (&self->lock);
  if (self->flushing) {
    g_mutex_unlock (&self->lock);
    return;
  }
  for (it = self->fifo.head; it && self->in_flight < self->max_in_flight;
      it = it->next) {
    Job *j = it->data;

    if (j->is_frame && !j->submitted && !j->done) {
      j->submitted = TRUE;
      self->in_flight++;
      todo = g_slist_prepend (todo, job_ref (j));
    }
  }
  self->max_in_flight_seen = MAX (self->max_in_flight_seen, self->in_flight);
  g_mutex_unlock (&self->lock);
  if (todo == NULL)
    return;

  /* The request owns the reference taken above; only its own answer
   * clears a job's body, and that comes after the body was handed over. */
  todo = g_slist_reverse (todo);
  for (l = todo; l; l = l->next) {
    Job *j = l->data;

    gst_vss_bedrock_client_embed_async (self->client, self->model, j->body,
        self->dim, request_done, j);
  }
  g_slist_free (todo);

  /* A flush between the check above and the submissions cancelled only
   * what had been submitted before it. */
  g_mutex_lock (&self->lock);
  if (self->flushing)
    gst_vss_bedrock_client_cancel_all (self->client);
  g_mutex_unlock (&self->lock);
}

/* The client's callback, on its worker thread (or in embed_async when the
 * request could not be signed). */
static void
request_done (GstVssBedrockResult * r, gpointer data)
{
  Job *j = data;
  VssEmbedBedrock *self = j->engine;

  GST_LOG ("frame job %p: status %d, HTTP %ld, %u attempt(s)", j, r->status,
      r->http_status, r->attempts);
  g_mutex_lock (&self->lock);
  if (j->epoch == self->epoch && self->in_flight > 0)
    self->in_flight--;
  j->pub.status = r->status;
  j->pub.vector = r->vector;
  r->vector = NULL;
  j->pub.dim = r->dim;
  j->pub.http_status = r->http_status;
  j->pub.error_type = g_strdup (r->error_type);
  j->pub.message = g_strdup (r->message);
  j->pub.attempts = r->attempts;
  j->pub.done_time = g_get_monotonic_time ();
  j->done = TRUE;
  g_clear_pointer (&j->body, g_bytes_unref);
  g_cond_broadcast (&self->cond);
  g_mutex_unlock (&self->lock);
  job_unref (j);
  if (r->status != GST_VSS_BEDROCK_CANCELLED)
    pump (self);
}

/* Reads the frame into a request body, in the producer's thread. A frame
 * that cannot be read is done at once with bad_input, so that it keeps its
 * place and the consumer decides about it like about any other failure. */
static void
prepare_request (VssEmbedBedrock * self, Job * j, const GstVideoInfo * info)
{
  GstBuffer *buf = j->pub.buffer;
  GError *err = NULL;
  GBytes *image = NULL;

  if (info != NULL) {
    GstVideoFrame frame;

    if (gst_video_frame_map (&frame, info, buf, GST_MAP_READ)) {
      image = gst_vss_bedrock_image_encode_frame (&frame,
          GST_VSS_BEDROCK_MAX_IMAGE_SIDE, GST_VSS_BEDROCK_MAX_IMAGE_BYTES,
          &err);
      gst_video_frame_unmap (&frame);
    } else {
      g_set_error (&err, GST_VSS_BEDROCK_ERROR, 0, "buffer of %"
          G_GSIZE_FORMAT " bytes does not hold a %dx%d %s frame",
          gst_buffer_get_size (buf), GST_VIDEO_INFO_WIDTH (info),
          GST_VIDEO_INFO_HEIGHT (info), GST_VIDEO_INFO_NAME (info));
    }
  } else {
    GstMapInfo map;
    gboolean reencoded = FALSE;

    if (gst_buffer_map (buf, &map, GST_MAP_READ)) {
      GBytes *in = g_bytes_new (map.data, map.size);

      gst_buffer_unmap (buf, &map);
      image = gst_vss_bedrock_image_fit (in, GST_VSS_BEDROCK_MAX_IMAGE_SIDE,
          GST_VSS_BEDROCK_MAX_IMAGE_BYTES, &reencoded, &err);
      g_bytes_unref (in);
      if (reencoded) {
        g_mutex_lock (&self->lock);
        self->frames_reencoded++;
        g_mutex_unlock (&self->lock);
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
  j->pub.bad_input = TRUE;
  j->pub.status = GST_VSS_BEDROCK_REQUEST_ERROR;
  j->pub.message = g_strdup (err->message);
  j->pub.done_time = g_get_monotonic_time ();
  g_error_free (err);
}

/**
 * vss_embed_bedrock_submit_frame:
 * @buffer: (transfer full): the frame
 * @info: (nullable): the layout of a raw frame, which is sent as a JPEG;
 *   NULL when @buffer holds a JPEG or PNG image, sent as it is when within
 *   the model's limits
 * @user_data: (transfer full): handed back with the job
 * @destroy: (nullable): frees @user_data with the job
 *
 * Appends a frame behind everything submitted before, blocking while
 * max_in_flight + queue_size frames are inside. Takes @buffer and
 * @user_data whatever it returns.
 *
 * Returns: GST_FLOW_OK; GST_FLOW_FLUSHING when flushing; else what
 *   vss_embed_bedrock_set_flow() or vss_embed_bedrock_job_done() last set.
 */
GstFlowReturn
vss_embed_bedrock_submit_frame (VssEmbedBedrock * self, GstBuffer * buffer,
    const GstVideoInfo * info, gpointer user_data, GDestroyNotify destroy)
{
  GstFlowReturn ret;
  Job *j = job_new (self);

  j->is_frame = TRUE;
  j->pub.buffer = buffer;
  j->pub.user_data = user_data;
  j->destroy = destroy;
  prepare_request (self, j, info);

  g_mutex_lock (&self->lock);
  while (self->flow == GST_FLOW_OK
      && self->n_frames >= self->max_in_flight + self->queue_size)
    g_cond_wait (&self->cond, &self->lock);
  ret = self->flow;
  if (ret != GST_FLOW_OK) {
    g_mutex_unlock (&self->lock);
    job_unref (j);
    return ret;
  }
  j->epoch = self->epoch;
  g_queue_push_tail (&self->fifo, j);
  self->n_frames++;
  if (j->done)
    g_cond_broadcast (&self->cond);
  g_mutex_unlock (&self->lock);

  pump (self);
  return GST_FLOW_OK;
}

/**
 * vss_embed_bedrock_submit_event:
 * @event: (transfer full): a serialized event
 *
 * Appends @event behind the frames submitted before it; never blocks.
 *
 * Returns: FALSE (and drops @event) when flushing.
 */
gboolean
vss_embed_bedrock_submit_event (VssEmbedBedrock * self, GstEvent * event)
{
  Job *j;

  g_mutex_lock (&self->lock);
  if (self->flushing) {
    g_mutex_unlock (&self->lock);
    gst_event_unref (event);
    return FALSE;
  }
  j = job_new (self);
  j->pub.event = event;
  j->done = TRUE;
  j->epoch = self->epoch;
  g_queue_push_tail (&self->fifo, j);
  g_cond_broadcast (&self->cond);
  g_mutex_unlock (&self->lock);
  return TRUE;
}

/**
 * vss_embed_bedrock_pop:
 *
 * Waits until the oldest job is done and takes it out.
 *
 * Returns: (transfer full) (nullable): the job, to give back with
 *   vss_embed_bedrock_job_done(); NULL when flushing.
 */
VssEmbedBedrockJob *
vss_embed_bedrock_pop (VssEmbedBedrock * self)
{
  Job *j;

  g_mutex_lock (&self->lock);
  for (;;) {
    if (self->flushing) {
      g_mutex_unlock (&self->lock);
      return NULL;
    }
    j = g_queue_peek_head (&self->fifo);
    if (j != NULL && j->done)
      break;
    g_cond_wait (&self->cond, &self->lock);
  }
  g_queue_pop_head (&self->fifo);
  if (j->is_frame)
    self->n_frames--;
  self->popped = TRUE;
  g_cond_broadcast (&self->cond);
  g_mutex_unlock (&self->lock);
  return &j->pub;
}

/**
 * vss_embed_bedrock_job_done:
 * @job: (transfer full): a job from vss_embed_bedrock_pop()
 * @ret: what became of it downstream; anything but GST_FLOW_OK makes
 *   submit_frame answer @ret (and drain FALSE) until the next flush
 *
 * Frees @job and what it still holds.
 */
void
vss_embed_bedrock_job_done (VssEmbedBedrock * self, VssEmbedBedrockJob * job,
    GstFlowReturn ret)
{
  g_mutex_lock (&self->lock);
  self->popped = FALSE;
  if (ret != GST_FLOW_OK && !self->flushing)
    self->flow = ret;
  g_cond_broadcast (&self->cond);
  g_mutex_unlock (&self->lock);
  job_unref ((Job *) job);
}

/**
 * vss_embed_bedrock_set_flow:
 *
 * Makes submit_frame answer @ret from now on, until the next flush (or OK
 * again); ignored while flushing. Wakes a producer waiting for room.
 */
void
vss_embed_bedrock_set_flow (VssEmbedBedrock * self, GstFlowReturn ret)
{
  g_mutex_lock (&self->lock);
  if (!self->flushing)
    self->flow = ret;
  g_cond_broadcast (&self->cond);
  g_mutex_unlock (&self->lock);
}

/**
 * vss_embed_bedrock_set_flushing:
 *
 * TRUE: cancels every request and wakes every wait at once; submissions
 * are refused and pop returns NULL until flushing is turned off. FALSE:
 * drops every job and starts a new stream.
 */
void
vss_embed_bedrock_set_flushing (VssEmbedBedrock * self, gboolean flushing)
{
  GList *dropped = NULL;

  g_mutex_lock (&self->lock);
  if (flushing) {
    self->flushing = TRUE;
    self->flow = GST_FLOW_FLUSHING;
    gst_vss_bedrock_client_cancel_all (self->client);
  } else {
    dropped = take_fifo_locked (self);
    self->flushing = FALSE;
    self->flow = GST_FLOW_OK;
  }
  g_cond_broadcast (&self->cond);
  g_mutex_unlock (&self->lock);
  GST_DEBUG ("flushing %d, %u job(s) dropped", flushing,
      g_list_length (dropped));
  g_list_free_full (dropped, (GDestroyNotify) job_unref);
}

/**
 * vss_embed_bedrock_drain:
 *
 * Waits until every job submitted so far has been popped and given back.
 *
 * Returns: FALSE when flushing, or when a flow other than OK was set.
 */
gboolean
vss_embed_bedrock_drain (VssEmbedBedrock * self)
{
  gboolean ok;

  g_mutex_lock (&self->lock);
  while (self->flow == GST_FLOW_OK && (!g_queue_is_empty (&self->fifo)
          || self->popped))
    g_cond_wait (&self->cond, &self->lock);
  ok = self->flow == GST_FLOW_OK;
  g_mutex_unlock (&self->lock);
  return ok;
}

void
vss_embed_bedrock_get_stats (VssEmbedBedrock * self,
    VssEmbedBedrockStats * stats)
{
  g_mutex_lock (&self->lock);
  stats->frames_reencoded = self->frames_reencoded;
  stats->max_in_flight_seen = self->max_in_flight_seen;
  g_mutex_unlock (&self->lock);
  gst_vss_bedrock_client_get_stats (self->client, &stats->client);
}
