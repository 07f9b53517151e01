/* gst-vss: vssquery's standing queries, apart from the element
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Locking:
 *  - `embed_lock` serialises the writers of the set (set, add, remove,
 *    start, stop) and the users of the embedder (embed); it guards
 *    `embedder`, `next_id` and `refused`. Embedding a query (maybe a network
 *    request) happens under it and under no other lock of ours.
 *  - `set_lock` guards `specs` and `set`. It is held only to swap them or
 *    take a reference on the set, so the matching thread never waits for an
 *    embedding: it takes a reference and compares without any lock.
 *  - `cooldowns` and `dists` belong to the matching thread; start and stop,
 *    which never run concurrently with it, reset them.
 * Lock order: embed_lock, then set_lock. The make-embedder callback of
 * vss_query_matcher_embed() runs with embed_lock held, so the caller's
 * locks it takes come after it.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "vssquerymatcher.h"

GST_DEBUG_CATEGORY_STATIC (vss_query_matcher_debug);
#define GST_CAT_DEFAULT vss_query_matcher_debug

typedef struct
{
  GstClockTime last;            /* time of the last report */
  gfloat best;                  /* its distance */
} Cooldown;

struct _VssQueryMatcher
{
  GMutex embed_lock;
  GstVssQueryEmbedder *embedder;        /* NULL while stopped */
  guint next_id;
  GError *refused;              /* why the set given while stopped was refused */

  GMutex set_lock;
  GPtrArray *specs;             /* GstVssQuerySpec, ids all set */
  GstVssQuerySet *set;          /* NULL while stopped */

  /* the matching thread */
  GHashTable *cooldowns;        /* query id -> Cooldown */
  gfloat *dists;
  guint dists_len;
};

VssQueryMatcher *
vss_query_matcher_new (void)
{
  static gsize debug_once = 0;
  VssQueryMatcher *m = g_new0 (VssQueryMatcher, 1);

  if (g_once_init_enter (&debug_once)) {
    GST_DEBUG_CATEGORY_INIT (vss_query_matcher_debug, "vssquerymatcher", 0,
        "vssquery standing queries");
    g_once_init_leave (&debug_once, 1);
  }
  g_mutex_init (&m->embed_lock);
  g_mutex_init (&m->set_lock);
  m->specs =
      g_ptr_array_new_with_free_func ((GDestroyNotify) gst_vss_query_spec_free);
  m->cooldowns = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
      g_free);
  return m;
}

void
vss_query_matcher_free (VssQueryMatcher * m)
{
  if (!m)
    return;
  g_clear_pointer (&m->embedder, gst_vss_query_embedder_free);
  g_clear_error (&m->refused);
  g_clear_pointer (&m->set, gst_vss_query_set_unref);
  g_ptr_array_unref (m->specs);
  g_hash_table_unref (m->cooldowns);
  g_free (m->dists);
  g_mutex_clear (&m->embed_lock);
  g_mutex_clear (&m->set_lock);
  g_free (m);
}

static gboolean
id_in (GPtrArray * specs, const gchar * id)
{
  guint i;

  for (i = 0; specs && i < specs->len; i++)
    if (!g_strcmp0 (((GstVssQuerySpec *) g_ptr_array_index (specs, i))->id, id))
      return TRUE;
  return FALSE;
}

/* Gives every spec of @specs without an id the next "qN" that neither
 * @specs nor @others (nullable) uses. embed_lock held (next_id), and
 * set_lock when @others is `specs`. */
static void
assign_ids (VssQueryMatcher * m, GPtrArray * specs, GPtrArray * others)
{
  guint i;

  for (i = 0; i < specs->len; i++) {
    GstVssQuerySpec *s = g_ptr_array_index (specs, i);

    while (!s->id) {
      gchar *id = g_strdup_printf ("q%u", ++m->next_id);

      if (id_in (specs, id) || id_in (others, id))
        g_free (id);
      else
        s->id = id;
    }
  }
}

/* embed_lock held, with an embedder. */
static gfloat *
embed_spec (VssQueryMatcher * m, const GstVssQuerySpec * spec, GError ** error)
{
  GError *err = NULL;
  gfloat *v;

  if (spec->text)
    v = gst_vss_query_embedder_embed_text (m->embedder, spec->text, &err);
  else
    v = gst_vss_query_embedder_embed_file (m->embedder, spec->image, &err);
  if (!v) {
    g_set_error (error, err->domain, err->code, "query '%s': %s", spec->id,
        err->message);
    g_error_free (err);
  }
  return v;
}

/* Embeds @spec into @set. embed_lock held, with an embedder. */
static gboolean
compile_one (VssQueryMatcher * m, GstVssQuerySet * set,
    const GstVssQuerySpec * spec, GError ** error)
{
  gfloat *v = embed_spec (m, spec, error);
  gboolean ok;

  if (!v)
    return FALSE;
  ok = gst_vss_query_set_add (set, spec, v,
      gst_vss_query_embedder_get_dim (m->embedder), error);
  g_free (v);
  if (ok)
    GST_INFO ("query '%s' (%s) ready, threshold %.3f", spec->id,
        spec->text ? "text" : "image", spec->threshold);
  return ok;
}

/* A new set of @specs. embed_lock held, with an embedder. */
static GstVssQuerySet *
compile (VssQueryMatcher * m, GPtrArray * specs, GError ** error)
{
  GstVssQuerySet *set =
      gst_vss_query_set_new (gst_vss_query_embedder_get_dim (m->embedder));
  guint i;

  for (i = 0; i < specs->len; i++) {
    if (!compile_one (m, set, g_ptr_array_index (specs, i), error)) {
      gst_vss_query_set_unref (set);
      return NULL;
    }
  }
  return set;
}

/**
 * vss_query_matcher_set_queries:
 * @json: a JSON array of queries (see #GstVssQuerySpec); NULL or "" for none
 * @running: (out) (optional): whether the matcher was started, i.e. whether
 *   a refusal left the running set in place (TRUE) or will fail the next
 *   start (FALSE)
 *
 * Replaces the whole set. While started, the new queries are embedded
 * first; on any error nothing changes.
 *
 * Returns: whether the set was taken; if not, @error names the query and
 *   the problem.
 */
gboolean
vss_query_matcher_set_queries (VssQueryMatcher * m, const gchar * json,
    gboolean * running, GError ** error)
{
  GstVssQuerySet *set = NULL, *old_set = NULL;
  GPtrArray *specs, *old_specs;
  GError *err = NULL;

  g_mutex_lock (&m->embed_lock);
  if (running)
    *running = m->embedder != NULL;
  specs = gst_vss_query_specs_from_json (json, &err);
  if (!specs)
    goto refused;
  /* The old set goes away: only the new ids count. */
  assign_ids (m, specs, NULL);
  if (m->embedder && !(set = compile (m, specs, &err)))
    goto refused;

  g_mutex_lock (&m->set_lock);
  old_specs = m->specs;
  m->specs = specs;
  if (set) {
    old_set = m->set;
    m->set = set;
  }
  g_mutex_unlock (&m->set_lock);
  g_clear_error (&m->refused);
  g_mutex_unlock (&m->embed_lock);
  g_ptr_array_unref (old_specs);
  if (old_set)
    gst_vss_query_set_unref (old_set);
  return TRUE;

refused:
  if (!m->embedder) {
    g_clear_error (&m->refused);
    m->refused = g_error_copy (err);
  }
  g_mutex_unlock (&m->embed_lock);
  g_propagate_error (error, err);
  if (specs)
    g_ptr_array_unref (specs);
  return FALSE;
}

/**
 * vss_query_matcher_add_query:
 * @json: one query object
 *
 * Adds a query, embedding it first when started. A refusal changes
 * nothing (and is not remembered for the next start: the set is as valid
 * as before).
 *
 * Returns: (transfer full): its id, or NULL with @error set.
 */
gchar *
vss_query_matcher_add_query (VssQueryMatcher * m, const gchar * json,
    GError ** error)
{
  GstVssQuerySet *set = NULL, *old = NULL;
  GstVssQuerySpec *spec;
  GPtrArray *parsed;
  gchar *id;

  parsed = gst_vss_query_specs_from_json (json, error);
  if (!parsed)
    return NULL;
  if (parsed->len != 1)
    goto not_one;
  spec = g_ptr_array_index (parsed, 0);

  g_mutex_lock (&m->embed_lock);
  g_mutex_lock (&m->set_lock);
  assign_ids (m, parsed, m->specs);
  if (id_in (m->specs, spec->id)) {
    g_mutex_unlock (&m->set_lock);
    goto duplicate;
  }
  g_mutex_unlock (&m->set_lock);
  if (m->embedder) {
    /* Only writers change `set`, and we hold embed_lock: reading it without
     * set_lock is safe here. */
    set = gst_vss_query_set_copy_without (m->set, NULL);
    if (!compile_one (m, set, spec, error))
      goto failed;
  }
  g_mutex_lock (&m->set_lock);
  g_ptr_array_add (m->specs, gst_vss_query_spec_copy (spec));
  if (set) {
    old = m->set;
    m->set = set;
  }
  g_mutex_unlock (&m->set_lock);
  g_mutex_unlock (&m->embed_lock);
  if (old)
    gst_vss_query_set_unref (old);
  id = g_strdup (spec->id);
  GST_DEBUG ("added query '%s'", id);
  g_ptr_array_unref (parsed);
  return id;

  /* ERRORS */
not_one:
  {
    g_set_error (error, GST_VSS_QUERY_ERROR, GST_VSS_QUERY_ERROR_PARSE,
        "add-query takes exactly one query object");
    g_ptr_array_unref (parsed);
    return NULL;
  }
duplicate:
  {
    g_set_error (error, GST_VSS_QUERY_ERROR, GST_VSS_QUERY_ERROR_DUPLICATE,
        "a query with id '%s' exists already", spec->id);
    g_mutex_unlock (&m->embed_lock);
    g_ptr_array_unref (parsed);
    return NULL;
  }
failed:
  {
    gst_vss_query_set_unref (set);
    g_mutex_unlock (&m->embed_lock);
    g_ptr_array_unref (parsed);
    return NULL;
  }
}

/**
 * vss_query_matcher_remove_query:
 *
 * Returns: whether a query with this id was removed.
 */
gboolean
vss_query_matcher_remove_query (VssQueryMatcher * m, const gchar * id)
{
  GstVssQuerySet *set = NULL, *old = NULL;
  gboolean found = FALSE;
  guint i;

  if (!id)
    return FALSE;
  g_mutex_lock (&m->embed_lock);
  if (m->set)
    set = gst_vss_query_set_copy_without (m->set, id);
  g_mutex_lock (&m->set_lock);
  for (i = 0; i < m->specs->len && !found; i++) {
    if (!g_strcmp0 (((GstVssQuerySpec *) g_ptr_array_index (m->specs,
                    i))->id, id)) {
      g_ptr_array_remove_index (m->specs, i);
      found = TRUE;
    }
  }
  if (set && found) {
    old = m->set;
    m->set = g_steal_pointer (&set);
  }
  g_mutex_unlock (&m->set_lock);
  g_mutex_unlock (&m->embed_lock);
  if (set)
    gst_vss_query_set_unref (set);
  if (old)
    gst_vss_query_set_unref (old);
  GST_DEBUG ("remove query '%s': %s", id, found ? "removed" : "no such query");
  return found;
}

/* Returns: (transfer full): the set as JSON, ids included. */
gchar *
vss_query_matcher_get_queries (VssQueryMatcher * m)
{
  gchar *json;

  g_mutex_lock (&m->set_lock);
  json = gst_vss_query_specs_to_json (m->specs);
  g_mutex_unlock (&m->set_lock);
  return json;
}

guint
vss_query_matcher_get_n_queries (VssQueryMatcher * m)
{
  guint n;

  g_mutex_lock (&m->set_lock);
  n = m->specs->len;
  g_mutex_unlock (&m->set_lock);
  return n;
}

/**
 * vss_query_matcher_start:
 * @embedder: (transfer full): embeds the queries from now until stop
 *
 * Embeds every query and forgets the cooldowns.
 *
 * Returns: whether every query could be used; if not, @error says which
 *   and why (the error of a set refused while stopped, or of an embedding),
 *   and the matcher stays stopped.
 */
gboolean
vss_query_matcher_start (VssQueryMatcher * m, GstVssQueryEmbedder * embedder,
    GError ** error)
{
  GstVssQuerySet *set;
  GPtrArray *specs;

  g_return_val_if_fail (embedder != NULL, FALSE);

  g_mutex_lock (&m->embed_lock);
  if (m->embedder) {
    g_mutex_unlock (&m->embed_lock);
    gst_vss_query_embedder_free (embedder);
    g_return_val_if_reached (FALSE);
  }
  if (m->refused) {
    g_propagate_error (error, g_error_copy (m->refused));
    g_mutex_unlock (&m->embed_lock);
    gst_vss_query_embedder_free (embedder);
    return FALSE;
  }
  m->embedder = embedder;
  g_mutex_lock (&m->set_lock);
  specs = g_ptr_array_ref (m->specs);
  g_mutex_unlock (&m->set_lock);
  set = compile (m, specs, error);
  g_ptr_array_unref (specs);
  if (!set) {
    g_clear_pointer (&m->embedder, gst_vss_query_embedder_free);
    g_mutex_unlock (&m->embed_lock);
    return FALSE;
  }
  g_mutex_lock (&m->set_lock);
  g_clear_pointer (&m->set, gst_vss_query_set_unref);
  m->set = set;
  g_mutex_unlock (&m->set_lock);
  g_mutex_unlock (&m->embed_lock);
  g_hash_table_remove_all (m->cooldowns);
  return TRUE;
}

/* Drops the embedder, the compiled set and the cooldowns; the specs stay. */
void
vss_query_matcher_stop (VssQueryMatcher * m)
{
  g_mutex_lock (&m->embed_lock);
  g_clear_pointer (&m->embedder, gst_vss_query_embedder_free);
  g_mutex_lock (&m->set_lock);
  g_clear_pointer (&m->set, gst_vss_query_set_unref);
  g_mutex_unlock (&m->set_lock);
  g_mutex_unlock (&m->embed_lock);
  g_hash_table_remove_all (m->cooldowns);
}

/* Whether a match of @q at distance @d is reported at @now, and if so
 * remembers it: a query that matched is silent for its cooldown unless a
 * frame comes closer than the last one reported. */
static gboolean
cooldown_passes (VssQueryMatcher * m, const GstVssQuerySpec * q, gfloat d,
    GstClockTime now, guint64 default_cooldown_ms)
{
  guint64 cooldown = q->cooldown_ms >= 0 ? (guint64) q->cooldown_ms :
      default_cooldown_ms;
  Cooldown *c = g_hash_table_lookup (m->cooldowns, q->id);

  if (c && cooldown > 0 && now >= c->last
      && now - c->last < cooldown * GST_MSECOND && d >= c->best)
    return FALSE;
  if (!c) {
    c = g_new0 (Cooldown, 1);
    g_hash_table_insert (m->cooldowns, g_strdup (q->id), c);
  }
  c->last = now;
  c->best = d;
  return TRUE;
}

/**
 * vss_query_matcher_match:
 * @vector: a unit vector of @dim floats
 * @now: the frame's time (running time) for the cooldowns
 * @default_cooldown_ms: for queries without their own `cooldown_ms`
 * @func: called, in the calling thread and with no lock held, for each
 *   reported match, in the set's order
 * @counts: (out) (optional): what happened
 *
 * Compares @vector with every query of the current set. A stopped matcher,
 * or a vector of another dimension than the queries', compares nothing.
 *
 * Returns: the number of matches reported.
 */
guint
vss_query_matcher_match (VssQueryMatcher * m, const gfloat * vector,
    guint dim, GstClockTime now, guint64 default_cooldown_ms,
    VssQueryMatchFunc func, gpointer user_data, VssQueryMatchCounts * counts)
{
  VssQueryMatchCounts c = { 0, };
  GstVssQuerySet *set = NULL;
  gint64 t0;
  guint i, n = 0;

  g_mutex_lock (&m->set_lock);
  if (m->set)
    set = gst_vss_query_set_ref (m->set);
  g_mutex_unlock (&m->set_lock);
  if (set && gst_vss_query_set_get_dim (set) == dim)
    n = gst_vss_query_set_get_size (set);

  t0 = g_get_monotonic_time ();
  if (n > 0) {
    if (m->dists_len < n) {
      m->dists = g_renew (gfloat, m->dists, n);
      m->dists_len = n;
    }
    gst_vss_query_set_distances (set, vector, m->dists);
  }
  c.compare_ns = (guint64) (g_get_monotonic_time () - t0) * 1000;
  c.comparisons = n;

  for (i = 0; i < n; i++) {
    const GstVssQuerySpec *q = gst_vss_query_set_get_spec (set, i);
    gfloat d = m->dists[i];

    if (d > q->threshold)
      continue;
    if (!cooldown_passes (m, q, d, now, default_cooldown_ms)) {
      c.suppressed++;
      continue;
    }
    c.matches++;
    GST_DEBUG ("match '%s' (%.4f <= %.4f)", q->id, d, q->threshold);
    if (func)
      func (q, d, user_data);
  }
  if (set)
    gst_vss_query_set_unref (set);
  if (counts)
    *counts = c;
  return c.matches;
}

/**
 * vss_query_matcher_embed:
 * @text: (nullable): a text, or
 * @image: (nullable): an encoded image (JPEG or PNG)
 * @make: makes a temporary embedder when the matcher is stopped
 * @dim: (out): the vector's length
 *
 * Embeds an ad-hoc query with the started matcher's embedder, or else with
 * a temporary one from @make.
 *
 * Returns: (transfer full): the vector, or NULL with @error set (by @make
 *   or the embedder).
 */
gfloat *
vss_query_matcher_embed (VssQueryMatcher * m, const gchar * text,
    GBytes * image, VssQueryMakeEmbedderFunc make, gpointer user_data,
    guint * dim, GError ** error)
{
  GstVssQueryEmbedder *own = NULL, *e;
  gfloat *v;

  g_mutex_lock (&m->embed_lock);
  e = m->embedder;
  if (!e && !(e = own = make (user_data, error))) {
    g_mutex_unlock (&m->embed_lock);
    return NULL;
  }
  v = text ? gst_vss_query_embedder_embed_text (e, text, error) :
      gst_vss_query_embedder_embed_image (e, image, error);
  *dim = gst_vss_query_embedder_get_dim (e);
  g_mutex_unlock (&m->embed_lock);
  if (own)
    gst_vss_query_embedder_free (own);
  return v;
}
