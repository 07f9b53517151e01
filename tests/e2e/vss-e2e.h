/* gst-vss tests: helpers for end-to-end tests (clips, RTSP server, vss-ingest)
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>
#include <jansson.h>

G_BEGIN_DECLS

/* A program of the build tree (VSS_BUILD_ROOT), e.g. "tools/vss-ingest";
 * a missing one is a test failure that says so. */
gchar *vss_e2e_build_path (const gchar * rel);

guint16 vss_e2e_free_port (void);

/* Makes (once per path) a clip with vss-make-clip; extra args appended. */
gchar *vss_e2e_make_clip (const gchar * dir, const gchar * name,
    const gchar * const *extra_args);

typedef struct
{
  GSubprocess *proc;
  gchar *url;
  guint16 port;
} VssE2eRtsp;

VssE2eRtsp *vss_e2e_rtsp_start (const gchar * clip, guint16 port,
    gboolean loop);

void vss_e2e_rtsp_stop (VssE2eRtsp * s);

/* Runs vss-ingest with ARGS; returns its exit status and parsed --json
 * stdout (NULL when not JSON), stderr in *err_text. */
GSubprocess *vss_e2e_ingest_spawn (const gchar * const *args,
    GSubprocessFlags extra_flags);

gint vss_e2e_ingest_wait (GSubprocess * p, json_t ** json, gchar ** out_text,
    gchar ** err_text);

gint vss_e2e_ingest_run (const gchar * const *args, json_t ** json,
    gchar ** out_text, gchar ** err_text);

/* Like vss_e2e_ingest_spawn() with changes to the environment: @env holds
 * name, value pairs (a NULL value unsets the name), NULL-terminated by
 * name; @stderr_path: (nullable): stderr goes to this file instead of a
 * pipe. */
GSubprocess *vss_e2e_ingest_spawn_env (const gchar * const *args,
    const gchar * const *env, const gchar * stderr_path);

gint vss_e2e_ingest_run_env (const gchar * const *args,
    const gchar * const *env, json_t ** json, gchar ** out_text,
    gchar ** err_text);

json_int_t vss_e2e_input_int (json_t * summary, guint input,
    const gchar * field);

const gchar *vss_e2e_input_str (json_t * summary, guint input,
    const gchar * field);

gchar *vss_e2e_uninstrumented_preload (void);

G_END_DECLS
