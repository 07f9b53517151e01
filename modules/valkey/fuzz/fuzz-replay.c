/* gst-vss Valkey module: runs the kept fuzz corpus through the parsers
 * (the regression test of tools/fuzz-module.sh's findings).
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 *   fuzz-replay DIR...   runs every file of every DIR; exits 0 when none
 *                        crashes (under ASan/UBSan in the sanitizer build).
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static int
run_file (const char *path)
{
  FILE *f = fopen (path, "rb");
  uint8_t *buf;
  long n;

  if (f == NULL)
    return -1;
  if (fseek (f, 0, SEEK_END) < 0 || (n = ftell (f)) < 0
      || fseek (f, 0, SEEK_SET) < 0) {
    fclose (f);
    return -1;
  }
  buf = malloc ((size_t)n + 1);
  if (buf == NULL || fread (buf, 1, (size_t)n, f) != (size_t)n) {
    free (buf);
    fclose (f);
    return -1;
  }
  fclose (f);
  LLVMFuzzerTestOneInput (buf, (size_t)n);
  free (buf);
  return 0;
}

int
main (int argc, char **argv)
{
  int files = 0;

  for (int i = 1; i < argc; i++) {
    DIR *d = opendir (argv[i]);
    struct dirent *e;
    if (d == NULL) {
      fprintf (stderr, "fuzz-replay: cannot open %s\n", argv[i]);
      return 1;
    }
    while ((e = readdir (d)) != NULL) {
      char path[4096];
      if (e->d_name[0] == '.')
        continue;
      snprintf (path, sizeof path, "%s/%s", argv[i], e->d_name);
      if (run_file (path) < 0) {
        fprintf (stderr, "fuzz-replay: cannot read %s\n", path);
        closedir (d);
        return 1;
      }
      files++;
    }
    closedir (d);
  }
  printf ("fuzz-replay: %d inputs, no crash\n", files);
  return files > 0 ? 0 : 1;
}
