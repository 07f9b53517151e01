/* gst-vss: the command-line tools' locale
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Header only, so that the test fixtures (built before tools/) share it.
 */
#pragma once

#include <locale.h>
#include <string.h>
#include <glib.h>

/**
 * vss_tool_setlocale:
 *
 * Call first in main(), before options are parsed.
 *
 * GOption converts string options from the locale's charset to UTF-8, and
 * a program that never calls setlocale() runs in the C locale, whose
 * charset is ASCII: `--text 'un café'` was refused with "Invalid byte
 * sequence in conversion input". So:
 *
 * - the user's locale (LC_ALL, LC_CTYPE, LANG) decides how arguments are
 *   read, as in every other command;
 * - in the plain C (or POSIX) locale, as in containers and services where
 *   LANG is unset, arguments are taken as UTF-8: the character type
 *   becomes C.UTF-8 when the C library has it (glibc >= 2.35, musl), as
 *   Python does since PEP 538; a locale with another charset (ISO 8859-1)
 *   is respected;
 * - numbers stay in the C format (LC_NUMERIC): the tools print tables,
 *   JSON and pipeline descriptions that other programs read.
 */
static inline void
vss_tool_setlocale (void)
{
  const gchar *ctype;

  setlocale (LC_ALL, "");
  ctype = setlocale (LC_CTYPE, NULL);
  if (ctype == NULL || strcmp (ctype, "C") == 0
      || strcmp (ctype, "POSIX") == 0) {
    if (setlocale (LC_CTYPE, "C.UTF-8") == NULL)
      setlocale (LC_CTYPE, "C.utf8");
  }
  setlocale (LC_NUMERIC, "C");
}
