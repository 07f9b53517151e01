/* gst-vss: how long to wait before the next attempt
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/**
 * GstVssBackoffJitter:
 * @GST_VSS_BACKOFF_JITTER_FULL: uniform in [0, ceiling] (AWS "standard"
 *   retries: spreads many clients best)
 * @GST_VSS_BACKOFF_JITTER_EQUAL: uniform in [ceiling / 2, ceiling] (a
 *   reconnect never comes back at once)
 * @GST_VSS_BACKOFF_JITTER_NONE: exactly the ceiling (one writer probing a
 *   service that is down)
 */
typedef enum
{
  GST_VSS_BACKOFF_JITTER_FULL,
  GST_VSS_BACKOFF_JITTER_EQUAL,
  GST_VSS_BACKOFF_JITTER_NONE,
} GstVssBackoffJitter;

/**
 * GstVssBackoff:
 * @base_ms: the ceiling of the first retry (attempt 0)
 * @cap_ms: the ceiling never grows past this
 *
 * Exponential backoff: the ceiling of attempt n is min(cap, base * 2^n).
 */
typedef struct
{
  guint base_ms;
  guint cap_ms;
  GstVssBackoffJitter jitter;
} GstVssBackoff;

guint gst_vss_backoff_ms (const GstVssBackoff * policy, guint attempt,
    GRand * rand);

G_END_DECLS
