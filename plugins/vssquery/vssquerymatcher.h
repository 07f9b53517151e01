/* gst-vss: vssquery's standing queries, apart from the element
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gst/gst.h>
#include "query/gstvssqueryset.h"
#include "query/gstvssqueryembed.h"

G_BEGIN_DECLS

/**
 * VssQueryMatcher:
 *
 * The standing queries of vssquery, without pads: the set as specs (JSON in
 * and out, see #GstVssQuerySpec), compiled into a #GstVssQuerySet with an
 * embedder while started, and frame vectors matched against it with a
 * cooldown per query. Reported matches go to a callback; the element turns
 * them into `vss-match` messages and events.
 *
 * Threads: the set may be changed from any thread (set, add, remove), also
 * while another thread matches: a change embeds its queries first and then
 * swaps the compiled set, so vss_query_matcher_match() never waits for an
 * embedding. vss_query_matcher_match() is called by one thread at a time
 * (the streaming thread), and not concurrently with start or stop.
 *
 * A set refused while stopped is remembered: vss_query_matcher_start() then
 * fails with the same error until a valid set replaces it. While started, a
 * refused change leaves the set as it was.
 */
typedef struct _VssQueryMatcher VssQueryMatcher;

/**
 * VssQueryMatchCounts:
 * @comparisons: queries compared with the frame
 * @matches: matches reported (the callback was called)
 * @suppressed: matches silenced by a cooldown
 * @compare_ns: time of the comparisons
 */
typedef struct
{
  guint comparisons;
  guint matches;
  guint suppressed;
  guint64 compare_ns;
} VssQueryMatchCounts;

/**
 * VssQueryMatchFunc:
 * @query: the query that matched (valid during the call)
 * @distance: cosine distance, at most @query's threshold
 */
typedef void (*VssQueryMatchFunc) (const GstVssQuerySpec * query,
    gdouble distance, gpointer user_data);

/**
 * VssQueryMakeEmbedderFunc:
 *
 * Returns: (transfer full): an embedder with the current settings, or NULL
 *   with @error set.
 */
typedef GstVssQueryEmbedder *(*VssQueryMakeEmbedderFunc) (gpointer user_data,
    GError ** error);

VssQueryMatcher *vss_query_matcher_new (void);
void vss_query_matcher_free (VssQueryMatcher * matcher);

gboolean vss_query_matcher_set_queries (VssQueryMatcher * matcher,
    const gchar * json, gboolean * running, GError ** error);
gchar *vss_query_matcher_add_query (VssQueryMatcher * matcher,
    const gchar * json, GError ** error);
gboolean vss_query_matcher_remove_query (VssQueryMatcher * matcher,
    const gchar * id);
gchar *vss_query_matcher_get_queries (VssQueryMatcher * matcher);
guint vss_query_matcher_get_n_queries (VssQueryMatcher * matcher);

gboolean vss_query_matcher_start (VssQueryMatcher * matcher,
    GstVssQueryEmbedder * embedder, GError ** error);
void vss_query_matcher_stop (VssQueryMatcher * matcher);

guint vss_query_matcher_match (VssQueryMatcher * matcher,
    const gfloat * vector, guint dim, GstClockTime now,
    guint64 default_cooldown_ms, VssQueryMatchFunc func, gpointer user_data,
    VssQueryMatchCounts * counts);

gfloat *vss_query_matcher_embed (VssQueryMatcher * matcher,
    const gchar * text, GBytes * image, VssQueryMakeEmbedderFunc make,
    gpointer user_data, guint * dim, GError ** error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (VssQueryMatcher, vss_query_matcher_free);

G_END_DECLS
