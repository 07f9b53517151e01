/* gst-vss: AWS shared config/credentials file reader (internal)
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Section name -> (GHashTable key -> value). Keys are lower-cased; indented
 * sub-section lines (e.g. "s3 =" blocks) are skipped. A missing file gives
 * NULL with G_FILE_ERROR_NOENT. */
GHashTable *gst_vss_aws_ini_load (const gchar * path, GError ** error);

/* Looks a profile up: "[name]" in credentials files, "[profile name]" (or
 * "[default]") in config files. */
GHashTable *gst_vss_aws_ini_profile (GHashTable * ini, const gchar * profile,
    gboolean config_file);

G_END_DECLS
