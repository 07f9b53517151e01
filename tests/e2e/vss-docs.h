/* gst-vss tests: the commands of the documentation, as text
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Pure text work for tests/e2e/test-docs.c, without processes: the shell
 * blocks of a Markdown file (```sh), the `|[ ... ]|` blocks of the
 * `SECTION:element-...` comments of an element's source, each cut into
 * commands as a shell reads them (a trailing backslash continues a line,
 * `#` starts a comment), the words of a command and its program.
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct
{
  gchar *file;                  /* as given: relative to the source root */
  guint line;                   /* first line of the command in the file */
  guint block;                  /* the block's index in the file */
  gchar *text;                  /* as written; continuation lines joined */
  gchar *bare;                  /* without its comment, blanks collapsed */
  /* The line before it in its block ended in '!' or '|' with no
   * backslash: probably meant as its continuation. */
  gboolean follows_open_line;
  /* `export NAME=VALUE` lines earlier in the same block, as NAME, VALUE
   * pairs: a shell running the block has them when it reaches this one. */
  gchar **exports;
} VssDocCmd;

/* A `|[ ... ]|` block that is not a command but a JSON value (the form of
 * a property, say). */
typedef struct
{
  gchar *file;
  guint line;
  gchar *text;
} VssDocData;

void vss_doc_cmd_free (VssDocCmd * c);
void vss_doc_data_free (VssDocData * d);

/* Commands of the ```sh (also ```bash, ```shell) blocks of a Markdown text,
 * in order; *n_blocks gets the number of such blocks. */
GPtrArray *vss_docs_markdown_commands (const gchar * file,
    const gchar * text, guint * n_blocks);

/* Commands of the `|[ ... ]|` blocks inside the SECTION:element-... comments
 * of a C source; blocks that are JSON go to @data. The element names of the
 * sections found are added to @sections, and for each section the number of
 * its command blocks to @section_blocks (as GUINT_TO_POINTER). FALSE with
 * @error when a block is not closed. */
gboolean vss_docs_element_commands (const gchar * file, const gchar * text,
    GPtrArray * commands, GPtrArray * data, GPtrArray * sections,
    GPtrArray * section_blocks, GError ** error);

/* @cmd without a trailing shell comment (a '#' outside quotes after a
 * blank), blanks collapsed to one space, trimmed. */
gchar *vss_docs_strip_comment (const gchar * cmd);

/* The words of a command as the shell splits them (quotes removed), or
 * NULL with @error on unbalanced quotes. */
gchar **vss_docs_words (const gchar * bare, GError ** error);

/* Index of the program in @words: the first word that is not a
 * NAME=VALUE assignment; -1 when there is none. */
gint vss_docs_program_index (gchar ** words);

G_END_DECLS
