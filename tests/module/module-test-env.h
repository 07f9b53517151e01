/* gst-vss tests: running the sanitizer build of vss-search.so in the
 * uninstrumented redis-server.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The module built with -Db_sanitize=address,undefined references the ASan
 * and UBSan runtimes, which redis-server does not load: every child of the
 * test (the fixture's redis-server and redis-cli) then runs with both
 * preloaded, and writes any sanitizer report to `sanitizer.<pid>` in its
 * working directory (the node's directory for a server), which
 * module_test_check_reports() turns into a test failure.
 */
#pragma once

#include <glib.h>

#if defined(__SANITIZE_ADDRESS__)
#define VSS_MODULE_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define VSS_MODULE_ASAN 1
#endif
#endif

static inline void
module_test_env_setup (void)
{
#ifdef VSS_MODULE_ASAN
  gchar *preload = g_strdup_printf ("%s %s", VSS_LIBASAN, VSS_LIBUBSAN);

  g_setenv ("LD_PRELOAD", preload, TRUE);
  /* LeakSanitizer runs when a server exits cleanly (the tests stop them
   * with SIGTERM): memory the module lost, e.g. on FT.DROPINDEX or MODULE
   * UNLOAD, is reported to the node's directory. Leak reports do not
   * change exit codes, so that redis-cli (run in the fixture's top
   * directory, which is not checked) never fails on its own leaks. */
  g_setenv ("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=1:"
      "log_path=sanitizer", TRUE);
  g_setenv ("LSAN_OPTIONS", "exitcode=0", TRUE);
  g_setenv ("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1:"
      "log_path=sanitizer", TRUE);
  g_free (preload);
#endif
}

/* Fails the test when a server in @dir (a fixture directory) wrote a
 * sanitizer report. */
static inline void
module_test_check_reports (const gchar * dir)
{
#ifdef VSS_MODULE_ASAN
  GDir *top = g_dir_open (dir, 0, NULL);
  const gchar *node;

  g_assert_nonnull (top);
  while ((node = g_dir_read_name (top))) {
    gchar *nd = g_build_filename (dir, node, NULL);
    GDir *d = g_dir_open (nd, 0, NULL);
    const gchar *name;
    while (d && (name = g_dir_read_name (d))) {
      if (g_str_has_prefix (name, "sanitizer")) {
        gchar *path = g_build_filename (nd, name, NULL);
        gchar *text = NULL;
        g_file_get_contents (path, &text, NULL, NULL);
        g_error ("redis-server with the module reported:\n%s", text);
      }
    }
    if (d)
      g_dir_close (d);
    g_free (nd);
  }
  g_dir_close (top);
#else
  (void) dir;
#endif
}
