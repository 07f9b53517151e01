/* gst-vss tests: build RESP bytes for canned replies
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Each helper returns a new string; rb_array() takes ownership of its
 * items. Example: rb_array (2, rb_str ("a"), rb_int (1)).
 */
#pragma once

#include <stdarg.h>
#include <string.h>
#include <glib.h>

static inline gchar *
rb_str (const gchar * s)
{
  return g_strdup_printf ("$%zu\r\n%s\r\n", strlen (s), s);
}

static inline gchar *
rb_status (const gchar * s)
{
  return g_strdup_printf ("+%s\r\n", s);
}

static inline gchar *
rb_err (const gchar * s)
{
  return g_strdup_printf ("-%s\r\n", s);
}

static inline gchar *
rb_int (long long v)
{
  return g_strdup_printf (":%lld\r\n", v);
}

static inline gchar *
rb_nil (void)
{
  return g_strdup ("$-1\r\n");
}

static inline gchar *
rb_array (guint n, ...)
{
  GString *s = g_string_new (NULL);
  va_list ap;

  g_string_append_printf (s, "*%u\r\n", n);
  va_start (ap, n);
  for (guint i = 0; i < n; i++) {
    gchar *item = va_arg (ap, gchar *);
    g_string_append (s, item);
    g_free (item);
  }
  va_end (ap);
  return g_string_free (s, FALSE);
}

/* Flat key/value array from NULL-terminated (key, RESP value) pairs. */
static inline gchar *
rb_map (const gchar * first_key, ...)
{
  GString *body = g_string_new (NULL);
  guint n = 0;
  const gchar *k = first_key;
  va_list ap;
  gchar *out;

  va_start (ap, first_key);
  while (k != NULL) {
    gchar *v = va_arg (ap, gchar *);
    gchar *ks = rb_str (k);
    g_string_append (body, ks);
    g_string_append (body, v);
    g_free (ks);
    g_free (v);
    n += 2;
    k = va_arg (ap, const gchar *);
  }
  va_end (ap);
  out = g_strdup_printf ("*%u\r\n%s", n, body->str);
  g_string_free (body, TRUE);
  return out;
}
