/* gst-vss Valkey module: helpers shared by the parsers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef VSS_FT_PRIV_H
#define VSS_FT_PRIV_H

#include "vss-ft.h"

void vss_ft_errf (char *err, size_t errlen, const char *fmt, ...)
    __attribute__ ((format (printf, 3, 4)));
char *vss_ft_strndup (const char *s, size_t len);
int vss_ft_arg_is (const vss_ft_arg *a, const char *word);
const char *vss_ft_arg_show (const vss_ft_arg *a, char *buf, size_t size);

#endif /* VSS_FT_PRIV_H */
