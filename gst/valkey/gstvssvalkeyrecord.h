/* gst-vss: the frame record as a Valkey HASH and index
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>
#include "../core/gstvssrecord.h"
#include "gstvssvalkeyclient.h"
#include "gstvssvalkeysearch.h"

G_BEGIN_DECLS

void vss_valkey_record_index_spec (VssValkeyIndexSpec * spec,
    const gchar * index, const gchar * key_prefix, guint dim);

guint vss_valkey_record_append (VssValkeyPipeline * pipeline,
    const gchar * key, const GstVssRecord * record, guint ttl_s);

void vss_valkey_record_from_hit (GstVssRecord * record,
    const VssValkeyHit * hit);

G_END_DECLS
