/* gst-vss: vector-search helpers that talk to the server
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * FT.* commands take no key. With a search coordinator (ElastiCache) one
 * node answers for the whole cluster; without one (fan-out mode) every
 * primary holds the index for its own keys, so FT.CREATE goes to every
 * primary and each primary's top-k is merged here.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>
#include "gstvssvalkeysearch.h"

/* One reply per target node: one node of every shard (the primary, or
 * for a search a replica when the client reads from replicas), or one
 * node of any kind. */
static GPtrArray *
run_ft (VssValkeyClient * c, gboolean fanout, guint flags,
    const VssValkeyArgs * a, GCancellable * cancel, GError ** error)
{
  VssValkeyPipeline *p;
  GPtrArray *out;

  if (fanout)
    return vss_valkey_command_on_shards (c, flags, cancel, error, a->argc,
        (const gchar **) a->argv, a->argvlen);

  p = vss_valkey_pipeline_new ();
  vss_valkey_pipeline_append (p, NULL, 0, VSS_VALKEY_COMMAND_FLAGS_NONE,
      a->argc, (const gchar **) a->argv, a->argvlen);
  if (!vss_valkey_client_execute (c, p, cancel, error)) {
    vss_valkey_pipeline_free (p);
    return NULL;
  }
  out = g_ptr_array_new_with_free_func ((GDestroyNotify) freeReplyObject);
  g_ptr_array_add (out, vss_valkey_pipeline_steal_reply (p, 0));
  vss_valkey_pipeline_free (p);
  return out;
}

static gboolean
contains_nocase (const gchar * hay, const gchar * needle)
{
  gchar *h = g_ascii_strdown (hay, -1);
  gboolean ret = strstr (h, needle) != NULL;

  g_free (h);
  return ret;
}

/* valkey-search: "Index with name 'x' not found"; RediSearch: "Unknown
 * Index name" or "x: no such index". */
static gboolean
is_unknown_index (const VssValkeyReply * r)
{
  return r->type == REDIS_REPLY_ERROR && (contains_nocase (r->str,
          "not found") || contains_nocase (r->str, "unknown index")
      || contains_nocase (r->str, "no such index"));
}

static GPtrArray *
ft_info (VssValkeyClient * c, const VssValkeyIndexSpec * spec,
    gboolean fanout, GCancellable * cancel, GError ** error)
{
  VssValkeyArgs a = { 0, };
  gchar *argv[2] = { (gchar *) "FT.INFO", (gchar *) spec->name };
  gsize argvlen[2] = { 7, strlen (spec->name) };

  a.argc = 2;
  a.argv = argv;
  a.argvlen = argvlen;
  return run_ft (c, fanout, VSS_VALKEY_COMMAND_FLAGS_NONE, &a, cancel, error);
}

/* TRUE when every node has the index, checking each schema; *missing
 * says whether some node has none. */
static gboolean
check_infos (GPtrArray * infos, const VssValkeyIndexSpec * spec,
    gboolean * missing, GError ** error)
{
  *missing = FALSE;
  for (guint i = 0; i < infos->len; i++) {
    const VssValkeyReply *r = g_ptr_array_index (infos, i);
    VssValkeyIndexInfo *info;
    gboolean ok;

    if (is_unknown_index (r)) {
      *missing = TRUE;
      continue;
    }
    if (vss_valkey_reply_is_error (r, NULL)
        && (contains_nocase (r->str, "unknown command")
            || contains_nocase (r->str, "unknown subcommand"))) {
      g_set_error (error, VSS_VALKEY_ERROR, VSS_VALKEY_ERROR_SERVER,
          "The server has no vector search (FT.INFO: %s). Load "
          "valkey-search, the gst-vss module, or use a server with the "
          "query engine.", r->str);
      return FALSE;
    }
    info = vss_valkey_index_info_parse (r, error);
    if (info == NULL)
      return FALSE;
    ok = vss_valkey_index_info_check (info, spec, error);
    vss_valkey_index_info_free (info);
    if (!ok)
      return FALSE;
  }
  return TRUE;
}

/**
 * vss_valkey_ensure_index:
 * @fanout: create the index on every primary (servers without a search
 *   coordinator) instead of on one node.
 *
 * Makes sure that the index of @spec exists: FT.INFO, then FT.CREATE where
 * it is missing. "already exists" from a concurrent creator counts as
 * success once FT.INFO confirms the schema.
 *
 * Returns: TRUE when the index is usable, FALSE with @error otherwise
 * (%VSS_VALKEY_ERROR_INDEX_MISMATCH for an index with another schema).
 */
gboolean
vss_valkey_ensure_index (VssValkeyClient * c, const VssValkeyIndexSpec * spec,
    gboolean fanout, GCancellable * cancel, GError ** error)
{
  g_autoptr (VssValkeyArgs) create = vss_valkey_index_create_args (spec, error);
  GPtrArray *infos, *created;
  gboolean missing;

  if (create == NULL)
    return FALSE;
  infos = ft_info (c, spec, fanout, cancel, error);
  if (infos == NULL)
    return FALSE;
  if (!check_infos (infos, spec, &missing, error)) {
    g_ptr_array_unref (infos);
    return FALSE;
  }
  g_ptr_array_unref (infos);
  if (!missing)
    return TRUE;

  /* FT.CREATE on nodes that already have it answers "already exists",
   * which is fine: the FT.INFO below checks every schema. */
  created =
      run_ft (c, fanout, VSS_VALKEY_COMMAND_FLAGS_NONE, create, cancel, error);
  if (created == NULL)
    return FALSE;
  for (guint i = 0; i < created->len; i++) {
    const VssValkeyReply *r = g_ptr_array_index (created, i);
    if (vss_valkey_reply_is_error (r, NULL)
        && !contains_nocase (r->str, "already exists")) {
      vss_valkey_reply_to_error (r, error, "FT.CREATE");
      g_ptr_array_unref (created);
      return FALSE;
    }
  }
  g_ptr_array_unref (created);

  infos = ft_info (c, spec, fanout, cancel, error);
  if (infos == NULL)
    return FALSE;
  if (!check_infos (infos, spec, &missing, error)) {
    g_ptr_array_unref (infos);
    return FALSE;
  }
  g_ptr_array_unref (infos);
  if (missing) {
    g_set_error (error, VSS_VALKEY_ERROR, VSS_VALKEY_ERROR_SERVER,
        "FT.CREATE %s succeeded but FT.INFO does not find the index",
        spec->name);
    return FALSE;
  }
  return TRUE;
}

/**
 * vss_valkey_knn_search:
 * @fanout: ask one node of every shard and merge their top-k (a replica of
 *   each shard when the client reads from replicas, else the primaries).
 *
 * Returns: (transfer full) (element-type VssValkeyHit): at most k hits,
 * nearest first, or NULL with @error (see vss_valkey_knn_parse()).
 */
GPtrArray *
vss_valkey_knn_search (VssValkeyClient * c, const VssValkeyKnnQuery * q,
    gboolean fanout, GCancellable * cancel, GError ** error)
{
  g_autoptr (VssValkeyArgs) a = NULL;
  GPtrArray *replies, **per_node, *hits;
  guint n;

  if (fanout && q->nocontent) {
    g_set_error (error, VSS_VALKEY_ERROR, VSS_VALKEY_ERROR_INVALID_ARGUMENT,
        "NOCONTENT results carry no scores and cannot be merged across "
        "primaries");
    return NULL;
  }
  a = vss_valkey_knn_args (q, error);
  if (a == NULL)
    return NULL;
  replies = run_ft (c, fanout, VSS_VALKEY_COMMAND_READONLY, a, cancel, error);
  if (replies == NULL)
    return NULL;
  if (!fanout) {
    hits = vss_valkey_knn_parse (g_ptr_array_index (replies, 0),
        q->nocontent, error);
    g_ptr_array_unref (replies);
    return hits;
  }
  n = replies->len;
  per_node = g_new0 (GPtrArray *, n);
  for (guint i = 0; i < n; i++) {
    per_node[i] = vss_valkey_knn_parse (g_ptr_array_index (replies, i), FALSE,
        error);
    if (per_node[i] == NULL) {
      for (guint j = 0; j < i; j++)
        g_ptr_array_unref (per_node[j]);
      g_free (per_node);
      g_ptr_array_unref (replies);
      return NULL;
    }
  }
  hits = vss_valkey_knn_merge (per_node, n, q->k);
  g_free (per_node);
  g_ptr_array_unref (replies);
  return hits;
}
