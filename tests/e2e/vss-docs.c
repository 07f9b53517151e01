/* gst-vss tests: the commands of the documentation, as text
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>
#include <jansson.h>
#include "vss-docs.h"

void
vss_doc_cmd_free (VssDocCmd * c)
{
  if (c == NULL)
    return;
  g_free (c->file);
  g_free (c->text);
  g_free (c->bare);
  g_strfreev (c->exports);
  g_free (c);
}

void
vss_doc_data_free (VssDocData * d)
{
  if (d == NULL)
    return;
  g_free (d->file);
  g_free (d->text);
  g_free (d);
}

gchar *
vss_docs_strip_comment (const gchar * cmd)
{
  GString *s = g_string_new (NULL);
  gchar quote = 0;
  gboolean blank = TRUE;

  for (const gchar * p = cmd; *p; p++) {
    if (quote == 0 && *p == '#' && blank)
      break;
    if (quote != '\'' && *p == '\\' && p[1] != '\0') {
      g_string_append_c (s, *p++);
      g_string_append_c (s, *p);
      blank = FALSE;
      continue;
    }
    if (quote == 0 && (*p == '\'' || *p == '"'))
      quote = *p;
    else if (quote != 0 && *p == quote)
      quote = 0;
    if (quote == 0 && g_ascii_isspace (*p)) {
      if (!blank)
        g_string_append_c (s, ' ');
      blank = TRUE;
      continue;
    }
    g_string_append_c (s, *p);
    blank = FALSE;
  }
  while (s->len > 0 && s->str[s->len - 1] == ' ')
    g_string_truncate (s, s->len - 1);
  return g_string_free (s, FALSE);
}

gchar **
vss_docs_words (const gchar * bare, GError ** error)
{
  gchar **argv = NULL;

  if (*bare == '\0')
    return g_new0 (gchar *, 1);
  if (!g_shell_parse_argv (bare, NULL, &argv, error))
    return NULL;
  return argv;
}

static gboolean
is_assignment (const gchar * w)
{
  const gchar *eq = strchr (w, '=');

  if (eq == NULL || eq == w || !(g_ascii_isalpha (*w) || *w == '_'))
    return FALSE;
  for (const gchar * p = w; p < eq; p++)
    if (!g_ascii_isalnum (*p) && *p != '_')
      return FALSE;
  return TRUE;
}

gint
vss_docs_program_index (gchar ** words)
{
  for (gint i = 0; words && words[i]; i++)
    if (!is_assignment (words[i]))
      return i;
  return -1;
}

/* The lines of one block (without their fences), numbered, become
 * commands: a trailing backslash joins the next line as the shell does, a
 * line that starts with '#' is a comment. */
static void
block_commands (const gchar * file, guint block, gchar ** lines,
    const guint * numbers, GPtrArray * out)
{
  GString *cur = NULL;
  guint first = 0;
  gboolean open_line = FALSE;
  GPtrArray *exports = g_ptr_array_new_with_free_func (g_free);

  for (guint i = 0; lines[i]; i++) {
    gchar *line = lines[i];
    gsize len = strlen (line);
    gboolean cont;
    gchar *trimmed = g_strstrip (g_strdup (line));

    if (cur == NULL && (*trimmed == '\0' || *trimmed == '#')) {
      g_free (trimmed);
      continue;
    }
    g_free (trimmed);
    while (len > 0 && (line[len - 1] == ' ' || line[len - 1] == '\t'))
      len--;
    cont = len > 0 && line[len - 1] == '\\';
    if (cur == NULL) {
      cur = g_string_new (NULL);
      first = numbers[i];
    }
    g_string_append_len (cur, line, cont ? len - 1 : len);
    if (cont && lines[i + 1] != NULL)
      continue;
    {
      VssDocCmd *c = g_new0 (VssDocCmd, 1);
      gchar **words;
      gint prog;

      c->file = g_strdup (file);
      c->line = first;
      c->block = block;
      c->text = g_string_free (cur, FALSE);
      c->bare = vss_docs_strip_comment (c->text);
      c->follows_open_line = open_line;
      g_ptr_array_add (exports, NULL);
      c->exports = g_strdupv ((gchar **) exports->pdata);
      g_ptr_array_remove_index (exports, exports->len - 1);
      cur = NULL;
      open_line = g_str_has_suffix (c->bare, "!")
          || g_str_has_suffix (c->bare, "|");
      words = vss_docs_words (c->bare, NULL);
      prog = vss_docs_program_index (words);
      if (prog >= 0 && !strcmp (words[prog], "export")) {
        for (gint w = prog + 1; words[w]; w++) {
          gchar *eq = strchr (words[w], '=');

          if (eq == NULL)
            continue;
          g_ptr_array_add (exports, g_strndup (words[w], eq - words[w]));
          g_ptr_array_add (exports, g_strdup (eq + 1));
        }
      }
      g_strfreev (words);
      g_ptr_array_add (out, c);
    }
  }
  g_ptr_array_unref (exports);
}

static gboolean
shell_language (const gchar * lang)
{
  return !strcmp (lang, "sh") || !strcmp (lang, "bash")
      || !strcmp (lang, "shell");
}

GPtrArray *
vss_docs_markdown_commands (const gchar * file, const gchar * text,
    guint * n_blocks)
{
  GPtrArray *out = g_ptr_array_new_with_free_func ((GDestroyNotify)
      vss_doc_cmd_free);
  gchar **lines = g_strsplit (text, "\n", -1);
  GPtrArray *block = NULL;
  GArray *numbers = NULL;
  gboolean in_fence = FALSE;
  guint blocks = 0;

  for (guint i = 0; lines[i]; i++) {
    const gchar *l = lines[i];
    const gchar *t = l;

    while (*t == ' ')
      t++;
    if (g_str_has_prefix (t, "```")) {
      if (!in_fence) {
        gchar *lang = g_strstrip (g_strdup (t + 3));

        in_fence = TRUE;
        if (shell_language (lang)) {
          block = g_ptr_array_new ();
          numbers = g_array_new (FALSE, FALSE, sizeof (guint));
        }
        g_free (lang);
      } else {
        in_fence = FALSE;
        if (block != NULL) {
          g_ptr_array_add (block, NULL);
          block_commands (file, blocks++, (gchar **) block->pdata,
              (const guint *) numbers->data, out);
          g_ptr_array_unref (block);
          g_array_unref (numbers);
          block = NULL;
        }
      }
      continue;
    }
    if (block != NULL) {
      guint n = i + 1;

      g_ptr_array_add (block, (gpointer) l);
      g_array_append_val (numbers, n);
    }
  }
  if (block != NULL) {
    g_ptr_array_unref (block);
    g_array_unref (numbers);
  }
  g_strfreev (lines);
  if (n_blocks)
    *n_blocks = blocks;
  return out;
}

/* A doc comment's line without its leading " * ". */
static const gchar *
comment_content (const gchar * l)
{
  while (*l == ' ' || *l == '\t')
    l++;
  if (*l == '*' && l[1] != '/')
    l++;
  if (*l == ' ')
    l++;
  return l;
}

gboolean
vss_docs_element_commands (const gchar * file, const gchar * text,
    GPtrArray * commands, GPtrArray * data, GPtrArray * sections,
    GPtrArray * section_blocks, GError ** error)
{
  gchar **lines = g_strsplit (text, "\n", -1);
  gboolean in_section = FALSE, ok = TRUE;
  GPtrArray *block = NULL;
  GArray *numbers = NULL;
  guint blocks = 0, block_line = 0, section_cmd_blocks = 0;

  for (guint i = 0; lines[i] && ok; i++) {
    const gchar *l = lines[i];
    const gchar *sec = strstr (l, "SECTION:element-");

    if (!in_section) {
      if (sec != NULL) {
        const gchar *name = sec + strlen ("SECTION:element-");
        gsize n = strcspn (name, " \t:");

        in_section = TRUE;
        section_cmd_blocks = 0;
        g_ptr_array_add (sections, g_strndup (name, n));
      }
      continue;
    }
    if (strstr (l, "*/") != NULL) {
      if (block != NULL) {
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
            "%s:%u: a |[ block is not closed by ]| before the comment ends",
            file, block_line);
        ok = FALSE;
        break;
      }
      in_section = FALSE;
      g_ptr_array_add (section_blocks, GUINT_TO_POINTER (section_cmd_blocks));
      continue;
    }
    l = comment_content (l);
    if (block == NULL) {
      if (g_str_has_prefix (l, "|[")) {
        block = g_ptr_array_new_with_free_func (g_free);
        numbers = g_array_new (FALSE, FALSE, sizeof (guint));
        block_line = i + 1;
      }
      continue;
    }
    if (g_str_has_prefix (l, "]|")) {
      gchar *joined;
      json_t *json;

      g_ptr_array_add (block, NULL);
      joined = g_strjoinv ("\n", (gchar **) block->pdata);
      json = json_loads (joined, JSON_DECODE_ANY, NULL);
      if (json != NULL) {
        VssDocData *d = g_new0 (VssDocData, 1);

        d->file = g_strdup (file);
        d->line = block_line + 1;
        d->text = joined;
        g_ptr_array_add (data, d);
        json_decref (json);
      } else {
        block_commands (file, blocks++, (gchar **) block->pdata,
            (const guint *) numbers->data, commands);
        section_cmd_blocks++;
        g_free (joined);
      }
      g_ptr_array_unref (block);
      g_array_unref (numbers);
      block = NULL;
      continue;
    }
    {
      guint n = i + 1;

      g_ptr_array_add (block, g_strdup (l));
      g_array_append_val (numbers, n);
    }
  }
  if (ok && block != NULL) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
        "%s:%u: a |[ block is not closed", file, block_line);
    ok = FALSE;
  }
  if (block != NULL) {
    g_ptr_array_unref (block);
    g_array_unref (numbers);
  }
  g_strfreev (lines);
  return ok;
}
