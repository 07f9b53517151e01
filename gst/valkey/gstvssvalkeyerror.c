/* gst-vss: errors of the Valkey client
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstvssvalkeyerror.h"

G_DEFINE_QUARK (vss - valkey - error - quark, vss_valkey_error);
