/* gst-vss Valkey module: fuzz target for the FT.CREATE and FT.SEARCH
 * parsers, the filter binding and evaluation, and tag splitting.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Input: one selector byte ('C' FT.CREATE, anything else FT.SEARCH), then
 * the arguments separated by '\n'. Built with libFuzzer by
 * tools/fuzz-module.sh; fuzz-replay.c runs the kept corpus in the test
 * suite.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "vss-ft.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

#define MAX_ARGS 256

static vss_ft_schema *
fixed_schema (void)
{
  static const char *words[] = { "idx",     "PREFIX",
                                 "1",       "doc:",
                                 "SCHEMA",  "v",
                                 "VECTOR",  "HNSW",
                                 "6",       "TYPE",
                                 "FLOAT32", "DIM",
                                 "2",       "DISTANCE_METRIC",
                                 "L2",      "t",
                                 "TAG",     "SEPARATOR",
                                 "|",       "n",
                                 "NUMERIC", "c",
                                 "TAG",     "CASESENSITIVE" };
  vss_ft_arg a[sizeof words / sizeof words[0]];
  vss_ft_schema *s = NULL;
  char err[VSS_FT_ERRLEN];

  for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
    a[i].ptr = words[i];
    a[i].len = strlen (words[i]);
  }
  if (vss_ft_create_parse (a, (int)(sizeof words / sizeof words[0]), &s, err,
                           sizeof err)
      < 0)
    abort ();
  return s;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  vss_ft_arg args[MAX_ARGS];
  int argc = 0;
  size_t start = 1;
  char err[VSS_FT_ERRLEN];

  if (size < 1)
    return 0;
  for (size_t i = 1; i <= size && argc < MAX_ARGS; i++)
    if (i == size || data[i] == '\n') {
      args[argc].ptr = (const char *)data + start;
      args[argc].len = i - start;
      argc++;
      start = i + 1;
    }
  if (data[0] == 'C') {
    vss_ft_schema *s = NULL;
    if (vss_ft_create_parse (args, argc, &s, err, sizeof err) == 0) {
      if (s == NULL || s->n_fields == 0)
        abort ();
      vss_ft_schema_matches_key (s, "doc:1", 5);
      vss_ft_schema_free (s);
    }
  } else {
    static vss_ft_schema *schema;
    vss_ft_query *q = NULL;
    if (schema == NULL)
      schema = fixed_schema ();
    if (vss_ft_search_parse (args, argc, &q, err, sizeof err) == 0) {
      if (vss_ft_query_bind (q, schema, err, sizeof err) == 0) {
        vss_ft_attrs *a = vss_ft_attrs_new (schema->n_fields);
        if (a != NULL) {
          const char *tv = argc > 0 ? args[argc - 1].ptr : "";
          size_t tl = argc > 0 ? args[argc - 1].len : 0;
          vss_ft_attrs_set_tags (a, 2, tv, tl, '|', 0);
          vss_ft_attrs_set_tags (a, 4, tv, tl, ',', 1);
          vss_ft_attrs_set_num (a, 3, tv, tl);
          vss_ft_filter_eval (q->filter, a);
          vss_ft_attrs_free (a);
        }
      }
      vss_ft_query_free (q);
    }
  }
  return 0;
}
