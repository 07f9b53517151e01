/* gst-vss: how long to wait before the next attempt
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The one backoff of the project: AWS requests (Bedrock, S3 and the
 * services after them), Valkey reconnects and vsssink's outage probing
 * all wait through here, each with its own policy.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstvssbackoff.h"

/**
 * gst_vss_backoff_ms:
 * @attempt: 0 for the first retry
 * @rand: (nullable): the random source (tests seed one); NULL: GLib's
 *
 * Returns: the delay in milliseconds.
 */
guint
gst_vss_backoff_ms (const GstVssBackoff * policy, guint attempt, GRand * rand)
{
  guint64 ceiling = MAX (policy->base_ms, 1);
  guint64 floor_ms;

  while (attempt-- > 0 && ceiling < policy->cap_ms)
    ceiling *= 2;
  ceiling = MIN (ceiling, MAX (policy->cap_ms, 1));
  switch (policy->jitter) {
    case GST_VSS_BACKOFF_JITTER_NONE:
      return (guint) ceiling;
    case GST_VSS_BACKOFF_JITTER_EQUAL:
      floor_ms = ceiling / 2;
      break;
    case GST_VSS_BACKOFF_JITTER_FULL:
    default:
      floor_ms = 0;
      break;
  }
  if (rand)
    return (guint) g_rand_int_range (rand, (gint32) floor_ms,
        (gint32) ceiling + 1);
  return (guint) g_random_int_range ((gint32) floor_ms, (gint32) ceiling + 1);
}
