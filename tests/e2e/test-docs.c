/* gst-vss tests: every command of the documentation runs as written
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Finds the commands of README.md (its ```sh blocks) and of the element
 * documentation (the `|[ ... ]|` blocks of the SECTION:element-... comments
 * in plugins/<element>/gst*.c) and runs each one for real, with bash, the
 * way a user pastes it, against real servers on free loopback ports:
 * redis-server with our module, the Bedrock test server (SigV4 checked,
 * deterministic embeddings), the RTSP test server serving a clip made of
 * real photographs, and s3rver for s3:// (started when a command has one).
 * Nothing is skipped in silence: a command is run, or excused by the table
 * `excuses` below with the reason it cannot run here, and a command that
 * is neither fails the test, so a new doc command is run or consciously
 * excused. An excuse that no longer matches a command fails too.
 *
 * What the test changes in a command, and nothing else, is in the table
 * `substitutions` (placeholders such as clip.mp4 or rtsp://door/ become
 * the local fixtures; redis://127.0.0.1:6379 becomes the test's server,
 * which never binds 6379) and in the program-specific edits of the runners
 * (marked "substitution:"), each written into the report of the command.
 * The environment is a user's: our plugins in GST_PLUGIN_PATH (as the
 * README says to export; unset for `meson devenv`, which must set it),
 * the tools on PATH (as after `meson install`), AWS credentials and region
 * for the Bedrock test server (and a profile file with [my-profile]), a
 * HOME of the command's own, and nothing else from the caller's.
 *
 * Every command runs in a folder of its own that looks like the
 * repository root (symbolic links to its files and folders; `build` is the
 * build this test belongs to), against a server emptied before it (keys
 * and indexes). Commands that would run until Ctrl-C (live sources,
 * servers) get Ctrl-C: SIGINT to their process group after a few seconds,
 * and must then end with their documented status. Each run checks its
 * exit status and what the command promises: frames and keys stored,
 * files written, matches printed, a server answering with the module
 * loaded, no warnings, nothing left running.
 *
 * On failure the report names the file and line, the command as written
 * and as run, its status and the end of its output, and every command's
 * folder (with its stdout.txt and stderr.txt) stays in
 * <build>/tests/e2e/docs-runs until the next run.
 *
 * Argument: the path of vss-search.so.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <glib/gstdio.h>
#include "vss-docs.h"
#include "vss-e2e.h"
#include "vss-test-bedrock.h"
#include "vss-test-redis.h"
#include "vss-test-s3rver.h"

/* s3rver knows only these; the Bedrock test server is given the same. */
#define AWS_KEY "S3RVER"
#define AWS_SECRET "S3RVER"
#define AWS_REGION "us-east-1"

/* A live command gets Ctrl-C after this long... */
#define LIVE_SECONDS 12
/* ...and must end within this long after it (vsssink drains on the way). */
#define GRACE_SECONDS 90
/* Any command must end within this long. */
#define LIMIT_SECONDS 400

/* ------------------------------------------------------------------ */
/* The reviewed tables                                                 */

/* Commands that cannot run here, matched (anchored) against the command
 * without its comment. Keep the patterns narrow: they must not excuse a
 * command that could run. */
static const struct
{
  const gchar *pattern;
  const gchar *reason;
} excuses[] = {
  {"tools/install-deps\\.sh( --tests)?",
      "installs Debian packages with apt-get as root: changes this machine "
        "and needs the network"},
  {"tools/run-tests\\.sh",
      "installs packages, then builds and runs every suite, this test "
        "included (it would run itself); CI runs exactly this (.ci/run)"},
  {"meson test -C build",
      "runs every test, this one included (it would run itself)"},
  {"meson test -C build --benchmark --verbose",
      "runs every benchmark, tens of minutes on 2 cores; each benchmark is "
        "a meson benchmark of its own"},
  {"sudo meson install -C build",
      "installs into the system's plugin and library folders as root"},
  {"vss-ingest /dev/video0( .*)?",
      "needs a camera at /dev/video0; there is none here (webcam.sh's "
        "refusal without one is in the examples test)"},
};

typedef struct _Run Run;
typedef gchar *(*SubstFunc) (Run * r, const GMatchInfo * m);

static gchar *sub_clip_uri (Run * r, const GMatchInfo * m);
static gchar *sub_clip_path (Run * r, const GMatchInfo * m);
static gchar *sub_photo (Run * r, const GMatchInfo * m);
static gchar *sub_rtsp (Run * r, const GMatchInfo * m);
static gchar *sub_frames_dir (Run * r, const GMatchInfo * m);
static gchar *sub_valkey (Run * r, const GMatchInfo * m);
static gchar *sub_camera_source (Run * r, const GMatchInfo * m);
static gchar *sub_fakesink (Run * r, const GMatchInfo * m);

/* Placeholders and addresses in the docs, and what they become. Applied in
 * this order to the command as written. */
static const struct
{
  const gchar *pattern;
  const gchar *what;
  SubstFunc with;
} substitutions[] = {
  {"file:///(path/)?clip\\.mp4", "a video file: the test's clip",
      sub_clip_uri},
  {"(?<=[\\s=])clip\\.mp4(?=[\\s'\"]|$)", "a video file: the test's clip",
      sub_clip_path},
  {"/srv/ref/parcel\\.jpg|/tmp/door\\.jpg",
      "a reference picture: the photograph of the clip's first scene (from "
        "its ground truth)", sub_photo},
  {"(?<![\\w/.-])IMAGE(?![\\w/.-])",
        "an image to search by: the photograph of the clip's first scene",
      sub_photo},
  {"rtsp://([^\\s/@'\"]+@)?[^\\s/'\"]+/[^\\s'\"]*",
      "a camera: the RTSP test server serving the clip", sub_rtsp},
  {"file:///var/lib/frames",
      "a system folder: a folder in the command's own folder (this test "
        "may run as root and must not write there)", sub_frames_dir},
  {"redis://127\\.0\\.0\\.1:6379",
      "Valkey: the test's redis-server with our module, on a free port "
        "(never 6379)", sub_valkey},
  {"(?<=gst-launch-1\\.0 -m )\\.\\.\\.(?= !)",
      "the elided source of a camera pipeline: rtspsrc from the RTSP test "
        "server, decoded, one frame a second", sub_camera_source},
  {"(?<=! )\\.\\.\\.(?=\\s*(#.*)?$)", "the elided end of a pipeline: fakesink",
      sub_fakesink},
};

/* ------------------------------------------------------------------ */
/* Fixtures                                                            */

static const gchar *src_root, *build_root, *module_path;
static gchar *tmp_dir, *runs_dir, *clip, *clip_uri, *truth, *photo;
static gchar *cred_file, *config_file, *registry, *asan_preload;
static VssTestRedis *redis;
static gchar *valkey_url;
static guint16 valkey_port;
static VssTestBedrock *bedrock;
static VssE2eRtsp *rtsp;
static GHashTable *s3rvers;     /* bucket -> GSubprocess */
static gchar *s3_dir;
static guint16 s3_port;

static GPtrArray *commands, *data_blocks, *results;

/* The process group of the command running now, for the signal handler. */
static volatile pid_t running_pgid;
static struct sigaction old_term, old_int;

typedef enum
{
  OUTCOME_PASSED,
  OUTCOME_FAILED,
  OUTCOME_EXCUSED,
  OUTCOME_APPLIED,
} Outcome;

typedef struct
{
  VssDocCmd *doc;
  Outcome outcome;
  gchar *detail;
} Result;

struct _Run
{
  VssDocCmd *doc;
  gchar **words;                /* of doc->bare */
  gint prog;                    /* the program in words */
  gint eff;                     /* the program run (after meson devenv) */
  gchar *text;                  /* as run */
  gchar *dir;                   /* its own folder */
  gchar **env;
  GPtrArray *notes;             /* substitutions and set-up */
  GPtrArray *failures;
  gint status;                  /* wait status */
  gboolean interrupted;         /* we sent Ctrl-C */
  gboolean timed_out;
  gdouble seconds;
  gchar *out, *err;
};

static void
fail (Run * r, const gchar * fmt, ...)
G_GNUC_PRINTF (2, 3);

     static void fail (Run * r, const gchar * fmt, ...)
{
  va_list ap;

  va_start (ap, fmt);
  g_ptr_array_add (r->failures, g_strdup_vprintf (fmt, ap));
  va_end (ap);
}

static void
note (Run * r, const gchar * fmt, ...)
G_GNUC_PRINTF (2, 3);

     static void note (Run * r, const gchar * fmt, ...)
{
  va_list ap;

  va_start (ap, fmt);
  g_ptr_array_add (r->notes, g_strdup_vprintf (fmt, ap));
  va_end (ap);
}

static gchar *
cli (GError ** error, ...)
    G_GNUC_NULL_TERMINATED;

     static gchar *cli (GError ** error, ...)
{
  GPtrArray *args = g_ptr_array_new ();
  const gchar *a;
  gchar *out;
  va_list ap;

  va_start (ap, error);
  while ((a = va_arg (ap, const gchar *)) != NULL)
      g_ptr_array_add (args, (gpointer) a);
  va_end (ap);
  g_ptr_array_add (args, NULL);
  out = vss_test_redis_cliv (redis, 0, (const gchar * const *) args->pdata,
      error);
  g_ptr_array_unref (args);
  return out;
}

static gchar **
lines_of (const gchar * text)
{
  gchar **l = g_strsplit (text ? text : "", "\n", -1);
  GPtrArray *out = g_ptr_array_new ();

  for (guint i = 0; l[i]; i++) {
    if (*g_strstrip (l[i]) != '\0')
      g_ptr_array_add (out, g_strdup (l[i]));
  }
  g_strfreev (l);
  g_ptr_array_add (out, NULL);
  return (gchar **) g_ptr_array_free (out, FALSE);
}

/* Every command starts with an empty server: no keys, no indexes. */
static void
reset_server (void)
{
  GError *err = NULL;
  gchar *list = cli (&err, "FT._LIST", NULL);
  gchar **names;
  gchar *ok;

  if (list == NULL)
    g_error ("the test's redis-server does not answer: %s", err->message);
  names = lines_of (list);
  for (guint i = 0; names[i]; i++) {
    gchar *o = cli (&err, "FT.DROPINDEX", names[i], NULL);

    if (o == NULL)
      g_error ("FT.DROPINDEX %s: %s", names[i], err->message);
    g_free (o);
  }
  ok = cli (&err, "FLUSHALL", NULL);
  if (ok == NULL)
    g_error ("FLUSHALL: %s", err->message);
  g_free (ok);
  g_strfreev (names);
  g_free (list);
}

static gchar **
server_keys (const gchar * pattern)
{
  GError *err = NULL;
  gchar *out = cli (&err, "KEYS", pattern, NULL);
  gchar **k;

  if (out == NULL)
    g_error ("KEYS %s: %s", pattern, err->message);
  k = lines_of (out);
  g_free (out);
  return k;
}

/* A JSON answer of the Bedrock test server (GET), or NULL. */
static json_t *
bedrock_get (const gchar * path)
{
  GSocketClient *c = g_socket_client_new ();
  guint port = (guint) g_ascii_strtoull (strrchr (bedrock->endpoint, ':') + 1,
      NULL, 10);
  GSocketConnection *conn = g_socket_client_connect_to_host (c, "127.0.0.1",
      port, NULL, NULL);
  gchar *req, buf[4096];
  GString *resp = g_string_new (NULL);
  gssize n;
  json_t *j = NULL;
  const gchar *body;

  if (conn != NULL) {
    GOutputStream *o = g_io_stream_get_output_stream (G_IO_STREAM (conn));
    GInputStream *in = g_io_stream_get_input_stream (G_IO_STREAM (conn));

    req = g_strdup_printf ("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        "Connection: close\r\n\r\n", path);
    if (g_output_stream_write_all (o, req, strlen (req), NULL, NULL, NULL)) {
      while ((n = g_input_stream_read (in, buf, sizeof buf, NULL, NULL)) > 0)
        g_string_append_len (resp, buf, n);
    }
    g_free (req);
    g_object_unref (conn);
  }
  body = strstr (resp->str, "\r\n\r\n");
  if (body != NULL)
    j = json_loads (body + 4, 0, NULL);
  g_string_free (resp, TRUE);
  g_object_unref (c);
  return j;
}

static gint64
bedrock_invokes (void)
{
  json_t *j = bedrock_get ("/_stats");
  gint64 n;

  if (j == NULL)
    g_error ("the Bedrock test server does not answer GET /_stats");
  n = json_integer_value (json_object_get (j, "invokes"));
  json_decref (j);
  return n;
}

/* s3rver for a bucket, started the first time a command names it. */
static void
ensure_s3rver (Run * r, const gchar * bucket)
{
  GError *err = NULL;
  GSubprocess *p;

  if (g_hash_table_contains (s3rvers, bucket))
    return;
  /* One s3rver serves one configured bucket: one process per bucket,
   * one endpoint for all (the first), so only one bucket is possible. */
  if (g_hash_table_size (s3rvers) > 0) {
    fail (r, "a second S3 bucket (%s): the test serves one s3rver; give "
        "the docs one bucket or start one s3rver per endpoint here", bucket);
    return;
  }
  s3_port = vss_e2e_free_port ();
  g_mkdir_with_parents (s3_dir, 0700);
  p = vss_test_s3rver_start (s3_dir, s3_port, bucket, &err);
  if (p == NULL)
    g_error ("%s", err->message);
  g_hash_table_insert (s3rvers, g_strdup (bucket), p);
}

/* ------------------------------------------------------------------ */
/* Substitutions                                                       */

static gchar *
sub_clip_uri (Run * r, const GMatchInfo * m)
{
  return g_strdup (clip_uri);
}

static gchar *
sub_clip_path (Run * r, const GMatchInfo * m)
{
  return g_shell_quote (clip);
}

static gchar *
sub_photo (Run * r, const GMatchInfo * m)
{
  return g_strdup (photo);
}

static gchar *
sub_rtsp (Run * r, const GMatchInfo * m)
{
  gchar *user = g_match_info_fetch (m, 1);
  gchar *s = g_strdup_printf ("rtsp://%s127.0.0.1:%u/stream",
      user ? user : "", rtsp->port);

  g_free (user);
  return s;
}

static gchar *
sub_frames_dir (Run * r, const GMatchInfo * m)
{
  gchar *d = g_build_filename (r->dir, "var", "lib", "frames", NULL);
  gchar *uri = g_filename_to_uri (d, NULL, NULL);

  g_free (d);
  return uri;
}

static gchar *
sub_valkey (Run * r, const GMatchInfo * m)
{
  return g_strdup (valkey_url);
}

static gchar *
sub_camera_source (Run * r, const GMatchInfo * m)
{
  return g_strdup_printf ("rtspsrc location=rtsp://127.0.0.1:%u/stream ! "
      "decodebin ! videoconvert ! videorate ! video/x-raw,framerate=1/1",
      rtsp->port);
}

static gchar *
sub_fakesink (Run * r, const GMatchInfo * m)
{
  return g_strdup ("fakesink");
}

typedef struct
{
  Run *run;
  guint entry;
} SubstCtx;

static gboolean
subst_eval (const GMatchInfo * m, GString * result, gpointer data)
{
  SubstCtx *c = data;
  gchar *orig = g_match_info_fetch (m, 0);
  gchar *with = substitutions[c->entry].with (c->run, m);

  note (c->run, "substitution: %s -> %s (%s)", orig, with,
      substitutions[c->entry].what);
  g_string_append (result, with);
  g_free (with);
  g_free (orig);
  return FALSE;
}

static gchar *
apply_substitutions (Run * r, const gchar * text)
{
  gchar *cur = g_strdup (text);

  for (guint i = 0; i < G_N_ELEMENTS (substitutions); i++) {
    GRegex *re = g_regex_new (substitutions[i].pattern, 0, 0, NULL);
    SubstCtx c = { r, i };
    gchar *next;

    g_assert_nonnull (re);
    next = g_regex_replace_eval (re, cur, -1, 0, 0, subst_eval, &c, NULL);
    g_regex_unref (re);
    g_free (cur);
    cur = next;
  }
  return cur;
}

/* ------------------------------------------------------------------ */
/* Running a command                                                   */

static void
child_setup (gpointer data)
{
  /* Its own process group, as a shell's job: Ctrl-C goes to all of it,
   * and what it leaves running can be found. */
  setpgid (0, 0);
  prctl (PR_SET_PDEATHSIG, SIGKILL);
}

static void
on_fatal_signal (int sig)
{
  struct sigaction *old = sig == SIGTERM ? &old_term : &old_int;

  if (running_pgid > 0)
    kill (-running_pgid, SIGKILL);
  sigaction (sig, old, NULL);
  raise (sig);
}

/* The processes of group @pgid that are still alive (not zombies). */
static gchar *
group_members (pid_t pgid)
{
  GString *s = g_string_new (NULL);
  DIR *d = opendir ("/proc");
  struct dirent *e;

  while (d != NULL && (e = readdir (d)) != NULL) {
    gchar *path, *stat = NULL, *comm_end;
    long pgrp = 0;
    char state = 0;

    if (!g_ascii_isdigit (e->d_name[0]))
      continue;
    path = g_build_filename ("/proc", e->d_name, "stat", NULL);
    if (g_file_get_contents (path, &stat, NULL, NULL)
        && (comm_end = strrchr (stat, ')')) != NULL
        && sscanf (comm_end + 1, " %c %*d %ld", &state, &pgrp) == 2
        && pgrp == pgid && state != 'Z') {
      gchar *comm = strchr (stat, '(');

      *comm_end = '\0';
      g_string_append_printf (s, "%s%s (pid %s)", s->len ? ", " : "",
          comm ? comm + 1 : "?", e->d_name);
    }
    g_free (stat);
    g_free (path);
  }
  if (d != NULL)
    closedir (d);
  if (s->len == 0) {
    g_string_free (s, TRUE);
    return NULL;
  }
  return g_string_free (s, FALSE);
}

typedef gboolean (*LiveProbe) (Run * r);

/* Runs @text with bash in r->dir. With @live_s > 0 it gets Ctrl-C (SIGINT
 * to its group) after that many seconds, or as soon as @probe returns
 * TRUE; it must end within GRACE_SECONDS after that. */
static void
spawn (Run * r, const gchar * text, guint live_s, LiveProbe probe)
{
  gchar *out_path = g_build_filename (r->dir, "stdout.txt", NULL);
  gchar *err_path = g_build_filename (r->dir, "stderr.txt", NULL);
  const gchar *argv[] = { "bash", "-c", text, NULL };
  gint in_fd = open ("/dev/null", O_RDONLY | O_CLOEXEC);
  gint out_fd = open (out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  gint err_fd = open (err_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  gint64 t0 = g_get_monotonic_time (), deadline;
  GError *err = NULL;
  GPid pid;
  gchar *left;

  g_assert_cmpint (in_fd, >=, 0);
  g_assert_cmpint (out_fd, >=, 0);
  g_assert_cmpint (err_fd, >=, 0);
  if (!g_spawn_async_with_fds (r->dir, (gchar **) argv, r->env,
          G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD, child_setup, NULL,
          &pid, in_fd, out_fd, err_fd, &err))
    g_error ("cannot run bash: %s", err->message);
  close (in_fd);
  close (out_fd);
  close (err_fd);
  /* Set it from here too: the handler must not miss a just-born child. */
  setpgid (pid, pid);
  running_pgid = pid;
  deadline = t0 + (gint64) G_USEC_PER_SEC *LIMIT_SECONDS;
  for (;;) {
    gint st;
    gint64 now = g_get_monotonic_time ();
    pid_t w = waitpid (pid, &st, WNOHANG);

    if (w == pid) {
      r->status = st;
      break;
    }
    if (w < 0 && errno != EINTR)
      g_error ("waitpid: %s", g_strerror (errno));
    if (live_s > 0 && !r->interrupted && ((probe != NULL && probe (r))
            || now - t0 >= (gint64) live_s * G_USEC_PER_SEC)) {
      kill (-pid, SIGINT);
      r->interrupted = TRUE;
      deadline = now + (gint64) G_USEC_PER_SEC *GRACE_SECONDS;
    }
    if (now >= deadline && !r->timed_out) {
      r->timed_out = TRUE;
      kill (-pid, SIGKILL);
    }
    g_usleep (r->interrupted || probe == NULL ? 50000 : 200000);
  }
  r->seconds = (g_get_monotonic_time () - t0) / 1e6;
  /* What it started must end with it (a server stopped, a pipeline
   * closed); give stragglers a moment. */
  left = group_members (pid);
  for (guint i = 0; left != NULL && i < 60; i++) {
    g_usleep (50000);
    g_free (left);
    left = group_members (pid);
  }
  if (left != NULL) {
    fail (r, "left running after it ended: %s", left);
    kill (-pid, SIGKILL);
    g_free (left);
  }
  running_pgid = 0;
  g_spawn_close_pid (pid);
  g_file_get_contents (out_path, &r->out, NULL, NULL);
  g_file_get_contents (err_path, &r->err, NULL, NULL);
  if (r->out == NULL)
    r->out = g_strdup ("");
  if (r->err == NULL)
    r->err = g_strdup ("");
  if (r->timed_out)
    fail (r, "did not end within %d s%s (killed)", r->interrupted ?
        GRACE_SECONDS : LIMIT_SECONDS, r->interrupted ? " of Ctrl-C" : "");
  g_free (out_path);
  g_free (err_path);
}

/* Fails unless it exited with @code. */
static void
expect_exit (Run * r, gint code)
{
  if (WIFEXITED (r->status) && WEXITSTATUS (r->status) == code)
    return;
  if (WIFEXITED (r->status))
    fail (r, "exit status %d, documented: %d", WEXITSTATUS (r->status), code);
  else if (WIFSIGNALED (r->status))
    fail (r, "killed by signal %d (%s), documented: exit status %d",
        WTERMSIG (r->status), g_strsignal (WTERMSIG (r->status)), code);
}

static gboolean
output_has (Run * r, const gchar * s)
{
  return strstr (r->out, s) != NULL || strstr (r->err, s) != NULL;
}

/* Appends @args to the command as run, before its comment if it has
 * one. */
static void
append_args (Run * r, const gchar * args)
{
  gchar *bare = vss_docs_strip_comment (r->text);

  g_free (r->text);
  r->text = g_strconcat (bare, " ", args, NULL);
  g_free (bare);
}

/* ------------------------------------------------------------------ */
/* Words of a command                                                  */

static gboolean
has_word (Run * r, const gchar * w)
{
  for (gint i = r->eff; r->words[i]; i++)
    if (!strcmp (r->words[i], w))
      return TRUE;
  return FALSE;
}

/* The value of option @opt (`--opt V` or `--opt=V`), or NULL. */
static const gchar *
option (Run * r, const gchar * opt, const gchar * short_opt)
{
  gsize n = strlen (opt);

  for (gint i = r->eff + 1; r->words[i]; i++) {
    if ((!strcmp (r->words[i], opt) || (short_opt
                && !strcmp (r->words[i], short_opt))) && r->words[i + 1])
      return r->words[i + 1];
    if (!strncmp (r->words[i], opt, n) && r->words[i][n] == '=')
      return r->words[i] + n + 1;
  }
  return NULL;
}

/* In a gst-launch line, the value of property @prop of the first element
 * @element, or NULL (also when there is no such element: see
 * has_element). */
static const gchar *
element_prop (Run * r, const gchar * element, const gchar * prop)
{
  gsize n = strlen (prop);

  for (gint i = r->eff + 1; r->words[i]; i++) {
    if (strcmp (r->words[i], element) != 0)
      continue;
    for (gint j = i + 1; r->words[j] && strcmp (r->words[j], "!"); j++)
      if (!strncmp (r->words[j], prop, n) && r->words[j][n] == '=')
        return r->words[j] + n + 1;
    return NULL;
  }
  return NULL;
}

static gboolean
has_element (Run * r, const gchar * element)
{
  return has_word (r, element);
}

/* The tools' --valkey defaults to redis://127.0.0.1:6379: point it at the
 * test's server when the command does not give one. */
static void
valkey_option (Run * r)
{
  gchar *q, *a;

  if (option (r, "--valkey", "-V") != NULL)
    return;
  q = g_shell_quote (valkey_url);
  a = g_strconcat ("--valkey ", q, NULL);
  append_args (r, a);
  note (r, "substitution: --valkey %s appended (%s's default is "
      "redis://127.0.0.1:6379, which the test does not bind)", valkey_url,
      r->words[r->eff]);
  g_free (a);
  g_free (q);
}

/* ------------------------------------------------------------------ */
/* Checks shared by runners                                            */

/* The object behind a stored frame's uri exists. */
static void
check_object (Run * r, const gchar * key, const gchar * uri)
{
  if (g_str_has_prefix (uri, "file://")) {
    gchar *path = g_filename_from_uri (uri, NULL, NULL);

    if (path == NULL || !g_file_test (path, G_FILE_TEST_IS_REGULAR))
      fail (r, "key %s points at %s, which does not exist", key, uri);
    g_free (path);
  } else if (g_str_has_prefix (uri, "s3://")) {
    /* s3rver keeps an object as <dir>/<bucket>/<key>._S3rver_object. */
    gchar *path = g_strconcat (s3_dir, "/", uri + 5, "._S3rver_object",
        NULL);

    if (!g_file_test (path, G_FILE_TEST_IS_REGULAR))
      fail (r, "key %s points at %s, which s3rver does not hold", key, uri);
    g_free (path);
  } else {
    fail (r, "key %s has an object URI of an unknown kind: %s", key, uri);
  }
}

/* At least one key under @prefix, each with its object and, when @dim > 0,
 * a vector of that many floats. Returns the number of keys. */
static guint
check_stored (Run * r, const gchar * prefix, guint dim)
{
  gchar *pattern = g_strconcat (prefix, "*", NULL);
  gchar **keys = server_keys (pattern);
  guint n = g_strv_length (keys);

  if (n == 0)
    fail (r, "no key %s in Valkey: nothing was stored", pattern);
  for (guint i = 0; keys[i]; i++) {
    GError *err = NULL;
    gchar *uri = cli (&err, "HGET", keys[i], "uri", NULL);

    if (uri != NULL && *uri)
      check_object (r, keys[i], uri);
    g_clear_error (&err);
    g_free (uri);
    if (dim > 0) {
      gchar *len = cli (&err, "HSTRLEN", keys[i], "vector", NULL);

      if (len == NULL || g_ascii_strtoull (len, NULL, 10) != dim * 4)
        fail (r, "key %s has a vector of %s bytes, expected %u floats",
            keys[i], len ? len : "?", dim);
      g_clear_error (&err);
      g_free (len);
    }
  }
  if (n > 0)
    note (r, "stored: %u keys %s", n, pattern);
  g_strfreev (keys);
  g_free (pattern);
  return n;
}

/* Lines in which a program reports an error or a warning. */
static void
check_no_warnings (Run * r)
{
  const gchar *outs[] = { r->out, r->err };

  for (guint o = 0; o < 2; o++) {
    gchar **l = g_strsplit (outs[o], "\n", -1);

    for (guint i = 0; l[i]; i++)
      if (g_str_has_prefix (l[i], "ERROR:")
          || g_str_has_prefix (l[i], "WARNING:"))
        fail (r, "it reported: %s", l[i]);
    g_strfreev (l);
  }
}

/* A run of vss-ingest that stores the clip's frames as another stream,
 * for a command that searches stored frames. */
static void
seed_frames (Run * r, const gchar * why, const gchar * provider,
    const gchar * dimension, const gchar * index)
{
  gchar *frames = g_build_filename (r->dir, "seed-frames", NULL);
  gchar *spool = g_build_filename (r->dir, "seed-spool", NULL);
  gchar *q_clip = g_shell_quote (clip), *q_frames = g_shell_quote (frames);
  gchar *q_spool = g_shell_quote (spool);
  gchar *dim = dimension ? g_strdup_printf (" --dimension %s", dimension) :
      g_strdup ("");
  gchar *text = g_strdup_printf ("vss-ingest %s --valkey %s --provider %s%s "
      "--index %s --stream-id docs-other-camera --frames %s --spool-dir %s "
      "--quiet", q_clip, valkey_url, provider, dim, index, q_frames, q_spool);
  Run seed = { 0 };

  seed.dir = r->dir;
  seed.env = r->env;
  seed.failures = g_ptr_array_new_with_free_func (g_free);
  seed.notes = g_ptr_array_new_with_free_func (g_free);
  spawn (&seed, text, 0, NULL);
  note (r, "set-up (%s): %s", why, text);
  if (!WIFEXITED (seed.status) || WEXITSTATUS (seed.status) != 0)
    fail (r, "set-up failed (wait status %d): %s\n%s", seed.status, text,
        seed.err);
  for (guint i = 0; i < seed.failures->len; i++)
    fail (r, "set-up: %s", (gchar *) g_ptr_array_index (seed.failures, i));
  g_ptr_array_unref (seed.failures);
  g_ptr_array_unref (seed.notes);
  g_free (seed.out);
  g_free (seed.err);
  g_free (text);
  g_free (dim);
  g_free (q_clip);
  g_free (q_frames);
  g_free (q_spool);
  g_free (frames);
  g_free (spool);
}

/* ------------------------------------------------------------------ */
/* Runners, one per program                                            */

static void
run_gst_launch (Run * r)
{
  gboolean live = has_element (r, "rtspsrc") || has_element (r, "v4l2src")
      || has_word (r, "is-live=true");
  gboolean messages = has_word (r, "-m");
  gboolean bedrock_used = has_word (r, "provider=bedrock");
  gint64 invokes = bedrock_invokes ();
  const gchar *history = element_prop (r, "vssquery", "history");

  if (history != NULL && !strcmp (history, "true")) {
    const gchar *provider = element_prop (r, "vssquery", "provider");
    const gchar *index = element_prop (r, "vssquery", "index");

    seed_frames (r, "history searches the frames of other streams",
        provider ? provider : "local", element_prop (r, "vssquery",
            "dimension"), index ? index : "frames");
  }
  if (live)
    note (r, "live source: Ctrl-C after %d s, then exit status 0",
        LIVE_SECONDS);
  spawn (r, r->text, live ? LIVE_SECONDS : 0, NULL);
  expect_exit (r, 0);
  if (!output_has (r, "Execution ended after"))
    fail (r, "the pipeline never ran (no \"Execution ended after\")");
  check_no_warnings (r);

  if (has_element (r, "vsssink")) {
    const gchar *prefix = element_prop (r, "vsssink", "key-prefix");
    const gchar *stream = element_prop (r, "vsssink", "stream-id");
    gchar *p = g_strconcat (prefix ? prefix : "frame:", stream ? stream : "",
        stream ? ":" : "", NULL);

    check_stored (r, p, 0);
    g_free (p);
  }
  if (has_element (r, "multifilesink")) {
    const gchar *loc = element_prop (r, "multifilesink", "location");
    GRegex *re = g_regex_new ("%0?\\d*d", 0, 0, NULL);
    gchar *glob = loc ? g_regex_replace_literal (re, loc, -1, 0, "*", 0,
        NULL) : NULL;
    gchar *sh = glob ? g_strdup_printf ("ls -1 %s | wc -l", glob) : NULL;
    gchar *argv[] = { (gchar *) "bash", (gchar *) "-c", sh, NULL };
    gchar *out = NULL;

    if (sh != NULL)
      g_spawn_sync (r->dir, argv, NULL, G_SPAWN_SEARCH_PATH |
          G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL, &out, NULL, NULL, NULL);
    if (out == NULL || g_ascii_strtoull (out, NULL, 10) == 0)
      fail (r, "multifilesink wrote no %s", loc ? loc : "file");
    else
      note (r, "written: %s files %s", g_strstrip (out), glob);
    g_free (out);
    g_free (sh);
    g_free (glob);
    g_regex_unref (re);
  }
  /* An image query with a photograph the clip shows: with -m the matches
   * are printed, and there must be some. */
  if (messages && has_element (r, "vssquery")) {
    const gchar *q = element_prop (r, "vssquery", "queries");

    if (q != NULL && strstr (q, "\"image\"") != NULL) {
      if (!output_has (r, "vss-match"))
        fail (r, "no vss-match message, although the query image is a "
            "photograph the video shows");
      else
        note (r, "matches: vss-match messages printed");
    }
  }
  if (bedrock_used && bedrock_invokes () <= invokes)
    fail (r, "provider=bedrock, but the Bedrock test server got no request");
}

static void
run_gst_inspect (Run * r)
{
  const gchar *element = r->words[r->eff + 1];

  spawn (r, r->text, 0, NULL);
  expect_exit (r, 0);
  if (strstr (r->out, "Factory Details") == NULL || element == NULL
      || strstr (r->out, element) == NULL)
    fail (r, "gst-inspect-1.0 did not describe %s", element ? element : "?");
}

static gboolean
is_live_input (const gchar * w)
{
  return g_str_has_prefix (w, "rtsp://") || g_str_has_prefix (w, "rtsps://")
      || g_str_has_prefix (w, "srt://") || g_str_has_prefix (w, "udp://")
      || g_str_has_prefix (w, "/dev/video");
}

static void
run_vss_ingest (Run * r)
{
  gboolean live = has_word (r, "--live"), bedrock_used;
  const gchar *provider = option (r, "--provider", "-p");
  const gchar *dim = option (r, "--dimension", NULL);
  const gchar *prefix = option (r, "--key-prefix", NULL);
  gint64 invokes = bedrock_invokes ();
  gint expect;

  for (gint i = r->eff + 1; r->words[i]; i++)
    live = live || is_live_input (r->words[i]);
  valkey_option (r);
  bedrock_used = provider != NULL && !strcmp (provider, "bedrock");
  /* Documented: 0 done or --duration reached, 130 interrupted. */
  expect = live && option (r, "--duration", "-d") == NULL ? 130 : 0;
  if (live && expect == 130)
    note (r, "live input: Ctrl-C after %d s, then exit status 130",
        LIVE_SECONDS);
  spawn (r, r->text, live ? LIVE_SECONDS : 0, NULL);
  expect_exit (r, expect);
  if (has_word (r, "--print-pipeline")) {
    if (strstr (r->out, "vssembed") == NULL || strstr (r->out, "vsssink")
        == NULL)
      fail (r, "--print-pipeline printed no pipeline");
    return;
  }
  if (has_word (r, "--dry-run") || has_word (r, "-n"))
    return;
  check_stored (r, prefix ? prefix : "frame:", bedrock_used ?
      (dim ? (guint) g_ascii_strtoull (dim, NULL, 10) : 1024) : 0);
  if (!output_has (r, " stored, ") && !has_word (r, "--json"))
    fail (r, "no summary line (\"...; N stored, ...\")");
  if (bedrock_used && bedrock_invokes () <= invokes)
    fail (r, "--provider bedrock, but the Bedrock test server got no "
        "request");
}

static void
run_vss_search (Run * r)
{
  const gchar *provider = option (r, "--provider", "-p");
  const gchar *index = option (r, "--index", NULL);
  const gchar *html = option (r, "--html", NULL);

  valkey_option (r);
  seed_frames (r, "frames to search", provider ? provider : "local",
      option (r, "--dimension", NULL), index ? index : "frames");
  spawn (r, r->text, 0, NULL);
  expect_exit (r, 0);
  if (has_word (r, "--json")) {
    json_t *j = json_loads (r->out, 0, NULL);

    if (json_array_size (json_object_get (j, "results")) == 0)
      fail (r, "--json printed no results");
    json_decref (j);
  } else if (strstr (r->out, "DISTANCE") == NULL
      || strstr (r->out, "://") == NULL) {
    fail (r, "no results table");
  }
  if (html != NULL) {
    gchar *path = g_build_filename (r->dir, html, NULL), *page = NULL;

    if (!g_file_get_contents (g_path_is_absolute (html) ? html : path, &page,
            NULL, NULL) || strstr (page, "data:image/") == NULL)
      fail (r, "--html %s is missing or has no thumbnails", html);
    g_free (page);
    g_free (path);
  }
}

static void
run_main_job (Run * r)
{
  gchar *sample = g_build_filename (r->dir, "sample", NULL);
  gchar *s_clip = g_build_filename (sample, "clip.mkv", NULL);
  gchar *s_truth = g_build_filename (sample, "clip.json", NULL);
  gchar *html = g_build_filename (sample, "results.html", NULL);
  gchar *page = NULL;
  GMatchInfo *m = NULL;
  GRegex *re;

  /* The sample clip is made only when missing: give it the test's. */
  g_mkdir_with_parents (sample, 0700);
  if (symlink (clip, s_clip) != 0 || symlink (truth, s_truth) != 0)
    g_error ("cannot link the clip into %s: %s", sample, g_strerror (errno));
  note (r, "substitution: sample/clip.mkv and sample/clip.json are the "
      "test's clip (main-job.sh makes them only when missing)");
  r->env = g_environ_setenv (r->env, "VSS_SKIP_INSTALL", "1", TRUE);
  note (r, "substitution: VSS_SKIP_INSTALL=1 (installing packages with "
      "apt-get as root is not for a test; the build is this test's)");
  spawn (r, r->text, 0, NULL);
  expect_exit (r, 0);
  re = g_regex_new ("^frames: +(.+) +\\((\\d+) JPEG files\\)$",
      G_REGEX_MULTILINE, 0, NULL);
  if (!g_regex_match (re, r->out, 0, &m)) {
    fail (r, "no \"frames: ... (N JPEG files)\" line");
  } else {
    gchar *n = g_match_info_fetch (m, 2);

    if (g_ascii_strtoull (n, NULL, 10) == 0)
      fail (r, "no frame was stored");
    else
      note (r, "stored: %s JPEG files", n);
    g_free (n);
  }
  g_match_info_free (m);
  g_regex_unref (re);
  if (strstr (r->out, "DISTANCE") == NULL)
    fail (r, "no search results printed");
  if (!g_file_get_contents (html, &page, NULL, NULL)
      || strstr (page, "data:image/") == NULL)
    fail (r, "sample/results.html is missing or has no thumbnails");
  if (strstr (r->out, "stopped redis-server") == NULL)
    fail (r, "it did not say it stopped its redis-server");
  g_free (page);
  g_free (html);
  g_free (s_truth);
  g_free (s_clip);
  g_free (sample);
}

static void
run_ninja (Run * r)
{
  const gchar *dir = option (r, "-C", NULL);

  spawn (r, r->text, 0, NULL);
  expect_exit (r, 0);
  /* A target after the options must exist afterwards. */
  for (gint i = r->eff + 1; r->words[i]; i++) {
    gchar *path;

    if (r->words[i][0] == '-' || (i > 0 && !strcmp (r->words[i - 1], "-C")))
      continue;
    path = g_build_filename (r->dir, dir ? dir : ".", r->words[i], NULL);
    if (!g_file_test (path, G_FILE_TEST_EXISTS))
      fail (r, "target %s was not built", r->words[i]);
    g_free (path);
  }
}

static void run_program (Run * r);

static void
run_meson (Run * r)
{
  const gchar *sub = r->words[r->eff + 1];

  if (sub != NULL && !strcmp (sub, "devenv")) {
    gint i = r->eff + 2;

    while (r->words[i] && r->words[i][0] == '-')
      i += !strcmp (r->words[i], "-C") && r->words[i + 1] ? 2 : 1;
    if (r->words[i] == NULL) {
      fail (r, "meson devenv without a command: it would start a shell");
      return;
    }
    /* devenv must provide the plugin path itself. */
    r->env = g_environ_unsetenv (r->env, "GST_PLUGIN_PATH");
    note (r, "GST_PLUGIN_PATH unset: meson devenv must set it");
    r->eff = i;
    run_program (r);
    return;
  }
  if (sub != NULL && !strcmp (sub, "setup")) {
    const gchar *dir = NULL;
    gchar *ninja;

    for (gint i = r->eff + 2; r->words[i] && dir == NULL; i++)
      if (r->words[i][0] != '-')
        dir = r->words[i];

    /* The build folder of its own (the link to this test's build is
     * removed): a real configure, a few seconds. */
    if (dir != NULL) {
      gchar *link = g_build_filename (r->dir, dir, NULL);

      if (g_file_test (link, G_FILE_TEST_IS_SYMLINK))
        g_unlink (link);
      g_free (link);
    }
    note (r, "`%s` is a new folder: a fresh configure", dir ? dir : "?");
    spawn (r, r->text, 0, NULL);
    expect_exit (r, 0);
    ninja = g_build_filename (r->dir, dir ? dir : ".", "build.ninja", NULL);
    if (!g_file_test (ninja, G_FILE_TEST_IS_REGULAR))
      fail (r, "no %s/build.ninja after the configure", dir);
    g_free (ninja);
    return;
  }
  fail (r, "meson %s: the test has no runner for it; run it or excuse it "
      "in the table `excuses` of tests/e2e/test-docs.c", sub ? sub : "");
}

static guint16 started_port;
static gboolean started_ok, started_module;

static gboolean
probe_started_server (Run * r)
{
  gchar *p = g_strdup_printf ("%u", started_port);
  gchar *argv[] = { (gchar *) "redis-cli", (gchar *) "-h",
    (gchar *) "127.0.0.1", (gchar *) "-p", p, (gchar *) "MODULE",
    (gchar *) "LIST", NULL
  };
  gchar *out = NULL;
  gint st = -1;

  started_ok = g_spawn_sync (NULL, argv, NULL, G_SPAWN_SEARCH_PATH |
      G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL, &out, NULL, &st, NULL)
      && g_spawn_check_wait_status (st, NULL) && out != NULL
      && strstr (out, "Could not connect") == NULL && *out != '\0';
  if (started_ok)
    started_module = strstr (out, "vss-search") != NULL;
  g_free (out);
  g_free (p);
  return started_ok;
}

static void
run_redis_server (Run * r)
{
  gboolean module = has_word (r, "--loadmodule");

  started_port = vss_e2e_free_port ();
  started_ok = started_module = FALSE;
  if (option (r, "--port", NULL) != NULL) {
    GRegex *re = g_regex_new ("(?<=--port )\\d+", 0, 0, NULL);
    gchar *p = g_strdup_printf ("%u", started_port);
    gchar *text = g_regex_replace_literal (re, r->text, -1, 0, p, 0, NULL);

    note (r, "substitution: --port %s -> --port %s (a free port)",
        option (r, "--port", NULL), p);
    g_free (r->text);
    r->text = text;
    g_free (p);
    g_regex_unref (re);
  } else {
    gchar *a = g_strdup_printf ("--port %u", started_port);

    append_args (r, a);
    note (r, "substitution: %s appended (a free port, never 6379)", a);
    g_free (a);
  }
  if (option (r, "--bind", NULL) == NULL) {
    append_args (r, "--bind 127.0.0.1");
    note (r, "substitution: --bind 127.0.0.1 appended (nothing may listen "
        "beyond loopback)");
  }
  note (r, "a server: Ctrl-C once it answers, then exit status 0");
  spawn (r, r->text, 30, probe_started_server);
  expect_exit (r, 0);
  if (!started_ok)
    fail (r, "the server never answered on port %u", started_port);
  else if (module && !started_module)
    fail (r, "the server answered, but MODULE LIST has no vss-search");
  else
    note (r, "answered on port %u%s", started_port, module ?
        ", module vss-search loaded" : "");
}

static void
run_redis_cli (Run * r)
{
  if (option (r, "-p", NULL) == NULL && option (r, "-h", NULL) == NULL
      && option (r, "-u", NULL) == NULL) {
    GRegex *re = g_regex_new ("\\bredis-cli\\b", 0, 0, NULL);
    gchar *p = g_strdup_printf ("redis-cli -p %u", valkey_port);
    gchar *text = g_regex_replace_literal (re, r->text, -1, 0, p, 0, NULL);

    note (r, "substitution: redis-cli -> %s (the test's server; the default "
        "is port 6379)", p);
    g_free (r->text);
    r->text = text;
    g_free (p);
    g_regex_unref (re);
  }
  spawn (r, r->text, 0, NULL);
  expect_exit (r, 0);
  if (g_str_has_prefix (r->out, "ERR") || strstr (r->out, "(error)")
      || g_str_has_prefix (r->out, "Could not connect"))
    fail (r, "the server refused it: %s", r->out);
  if (r->words[r->eff + 1]
      && !g_ascii_strcasecmp (r->words[r->eff + 1], "FT.CREATE")
      && r->words[r->eff + 2]) {
    GError *err = NULL;
    gchar *info = cli (&err, "FT.INFO", r->words[r->eff + 2], NULL);

    if (info == NULL || strstr (info, "index_name") == NULL)
      fail (r, "FT.INFO %s after it: %s", r->words[r->eff + 2],
          err ? err->message : info);
    else
      note (r, "index %s exists", r->words[r->eff + 2]);
    g_clear_error (&err);
    g_free (info);
  }
}

static void
run_conformance (Run * r)
{
  GRegex *re = g_regex_new ("^(\\d+) passed, 0 failed$", G_REGEX_MULTILINE,
      0, NULL);

  spawn (r, r->text, 0, NULL);
  expect_exit (r, 0);
  if (!g_regex_match (re, r->out, 0, NULL))
    fail (r, "no \"N passed, 0 failed\" line");
  g_regex_unref (re);
}

static void
run_export (Run * r)
{
  for (gint i = r->eff + 1; r->words[i]; i++)
    if (strchr (r->words[i], '=') == NULL)
      fail (r, "export %s: only NAME=VALUE is understood here", r->words[i]);
  note (r, "applied to the commands after it in its block");
}

static const struct
{
  const gchar *program;
  void (*run) (Run * r);
} runners[] = {
  {"gst-launch-1.0", run_gst_launch},
  {"gst-inspect-1.0", run_gst_inspect},
  {"vss-ingest", run_vss_ingest},
  {"vss-search", run_vss_search},
  {"tools/main-job.sh", run_main_job},
  {"ninja", run_ninja},
  {"meson", run_meson},
  {"redis-server", run_redis_server},
  {"redis-cli", run_redis_cli},
  {"build/modules/valkey/vss-conformance", run_conformance},
};

static void
run_program (Run * r)
{
  const gchar *prog = r->words[r->eff];

  for (guint i = 0; i < G_N_ELEMENTS (runners); i++) {
    if (!strcmp (runners[i].program, prog)) {
      runners[i].run (r);
      return;
    }
  }
  fail (r, "neither run nor excused: the test has no runner for `%s`; run "
      "it (table `runners`) or excuse it with a reason (table `excuses` in "
      "tests/e2e/test-docs.c)%s", prog, r->doc->follows_open_line ?
      "; the line before it ends in '!' or '|' without a '\\': is it the "
      "rest of that command?" : "");
}

/* ------------------------------------------------------------------ */
/* The test of one command                                             */

static gchar **
doc_env (Run * r)
{
  gchar **env = g_get_environ ();
  gchar *home = g_build_filename (r->dir, "home", NULL);
  const gchar *drop[] = { "GST_PLUGIN_PATH_1_0", "GST_PLUGIN_PATH",
    "GST_DEBUG", "GST_DEBUG_FILE", "VSS_SOURCE_ROOT", "VSS_BUILD_ROOT",
    "VSS_SHARED_DIR", "VSS_SKIP_INSTALL", "AWS_PROFILE", "AWS_SESSION_TOKEN",
    "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_AUTHORIZATION_TOKEN",
    "AWS_EC2_METADATA_SERVICE_ENDPOINT", "http_proxy", "https_proxy",
    "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "all_proxy", "VALKEY",
    "FRAMES", "STREAM", "INDEX", "OLDPWD", NULL
  };
  gchar *plugins, *sys, *tools, *path, *xdg;
  GString *pp = g_string_new (NULL);
  gchar *pdir = g_build_filename (build_root, "plugins", NULL);
  GDir *d = g_dir_open (pdir, 0, NULL);
  const gchar *name;
  GPtrArray *names = g_ptr_array_new_with_free_func (g_free);

  for (guint i = 0; drop[i]; i++)
    env = g_environ_unsetenv (env, drop[i]);
  /* Our plugins as the README says to export them; the system's plugins
   * are the subset the test suite links (tests/meson.build). */
  while (d != NULL && (name = g_dir_read_name (d)) != NULL)
    g_ptr_array_add (names, g_strdup (name));
  g_ptr_array_sort (names, (GCompareFunc) g_strcmp0);
  for (guint i = 0; i < names->len; i++) {
    gchar *p = g_build_filename (pdir, g_ptr_array_index (names, i), NULL);

    if (g_file_test (p, G_FILE_TEST_IS_DIR))
      g_string_append_printf (pp, "%s%s", pp->len ? ":" : "", p);
    g_free (p);
  }
  if (d != NULL)
    g_dir_close (d);
  plugins = g_string_free (pp, FALSE);
  sys = g_build_filename (build_root, "tests", "system-plugins", NULL);
  env = g_environ_setenv (env, "GST_PLUGIN_PATH", plugins, TRUE);
  env = g_environ_setenv (env, "GST_PLUGIN_SYSTEM_PATH_1_0", sys, TRUE);
  env = g_environ_setenv (env, "GST_REGISTRY_1_0", registry, TRUE);
  /* The tools on PATH, as after `meson install`. */
  tools = g_build_filename (build_root, "tools", NULL);
  path = g_strconcat (tools, ":", g_environ_getenv (env, "PATH") ?
      g_environ_getenv (env, "PATH") : "/usr/bin:/bin", NULL);
  env = g_environ_setenv (env, "PATH", path, TRUE);
  /* A home of its own: vsssink's default spool, caches, ~/.aws. */
  g_mkdir_with_parents (home, 0700);
  env = g_environ_setenv (env, "HOME", home, TRUE);
  xdg = g_build_filename (home, ".local", "state", NULL);
  env = g_environ_setenv (env, "XDG_STATE_HOME", xdg, TRUE);
  g_free (xdg);
  xdg = g_build_filename (home, ".cache", NULL);
  env = g_environ_setenv (env, "XDG_CACHE_HOME", xdg, TRUE);
  g_free (xdg);
  xdg = g_build_filename (home, ".config", NULL);
  env = g_environ_setenv (env, "XDG_CONFIG_HOME", xdg, TRUE);
  g_free (xdg);
  env = g_environ_setenv (env, "PWD", r->dir, TRUE);
  /* AWS: the Bedrock test server; nothing leaves 127.0.0.1. */
  env = g_environ_setenv (env, "AWS_ACCESS_KEY_ID", AWS_KEY, TRUE);
  env = g_environ_setenv (env, "AWS_SECRET_ACCESS_KEY", AWS_SECRET, TRUE);
  env = g_environ_setenv (env, "AWS_REGION", AWS_REGION, TRUE);
  env = g_environ_setenv (env, "AWS_ENDPOINT_URL_BEDROCK_RUNTIME",
      bedrock->endpoint, TRUE);
  env = g_environ_setenv (env, "AWS_EC2_METADATA_DISABLED", "true", TRUE);
  env = g_environ_setenv (env, "AWS_SHARED_CREDENTIALS_FILE", cred_file, TRUE);
  env = g_environ_setenv (env, "AWS_CONFIG_FILE", config_file, TRUE);
  env = g_environ_setenv (env, "no_proxy", "127.0.0.1,localhost", TRUE);
  if (s3_port != 0) {
    gchar *e = g_strdup_printf ("http://127.0.0.1:%u", s3_port);

    env = g_environ_setenv (env, "AWS_ENDPOINT_URL_S3", e, TRUE);
    g_free (e);
  }
  if (asan_preload != NULL) {
    /* gst-launch-1.0, redis-server and meson are not instrumented; our
     * plugins and module are. Their own leaks are not ours to judge. */
    env = g_environ_setenv (env, "LD_PRELOAD", asan_preload, TRUE);
    env = g_environ_setenv (env, "ASAN_OPTIONS", "detect_leaks=0", TRUE);
  }
  /* `export` lines before it in its block. */
  for (guint i = 0; r->doc->exports[i]; i += 2)
    env = g_environ_setenv (env, r->doc->exports[i], r->doc->exports[i + 1],
        TRUE);
  /* Who names a profile has the keys in it (the credentials file has
   * [my-profile]): the keys in the environment would come first. */
  if (g_environ_getenv (env, "AWS_PROFILE") != NULL) {
    env = g_environ_unsetenv (env, "AWS_ACCESS_KEY_ID");
    env = g_environ_unsetenv (env, "AWS_SECRET_ACCESS_KEY");
    note (r, "AWS_PROFILE set: credentials from its profile in %s, not "
        "from AWS_ACCESS_KEY_ID", cred_file);
  }
  g_ptr_array_unref (names);
  g_free (pdir);
  g_free (plugins);
  g_free (sys);
  g_free (tools);
  g_free (path);
  g_free (home);
  return env;
}

/* A folder that looks like the repository root: links to the source's
 * files and folders, `build` to this test's build. */
static void
make_run_dir (Run * r, guint index)
{
  GDir *d = g_dir_open (src_root, 0, NULL);
  const gchar *name;
  gchar *base = g_strdup_printf ("%02u-%s-%u", index, r->doc->file,
      r->doc->line), *link;

  g_strcanon (base, G_CSET_a_2_z G_CSET_A_2_Z G_CSET_DIGITS "-.", '_');
  r->dir = g_build_filename (runs_dir, base, NULL);
  g_free (base);
  if (g_mkdir_with_parents (r->dir, 0700) != 0)
    g_error ("cannot make %s: %s", r->dir, g_strerror (errno));
  while (d != NULL && (name = g_dir_read_name (d)) != NULL) {
    gchar *target;

    if (name[0] == '.' || g_str_has_prefix (name, "build")
        || !strcmp (name, "sample"))
      continue;
    target = g_build_filename (src_root, name, NULL);
    link = g_build_filename (r->dir, name, NULL);
    if (symlink (target, link) != 0)
      g_error ("symlink %s: %s", link, g_strerror (errno));
    g_free (target);
    g_free (link);
  }
  if (d != NULL)
    g_dir_close (d);
  link = g_build_filename (r->dir, "build", NULL);
  if (symlink (build_root, link) != 0)
    g_error ("symlink %s: %s", link, g_strerror (errno));
  g_free (link);
}

static gint
excuse_of (VssDocCmd * c)
{
  for (guint i = 0; i < G_N_ELEMENTS (excuses); i++) {
    gchar *anchored = g_strconcat ("^(?:", excuses[i].pattern, ")$", NULL);
    gboolean hit = g_regex_match_simple (anchored, c->bare, 0, 0);

    g_free (anchored);
    if (hit)
      return (gint) i;
  }
  return -1;
}

static gchar *
tail_lines (const gchar * text, guint n)
{
  gchar **l = g_strsplit (text ? text : "", "\n", -1);
  guint len = g_strv_length (l), from = len > n ? len - n : 0;
  gchar *s = g_strjoinv ("\n    ", l + from);

  g_strfreev (l);
  return s;
}

static void
add_result (VssDocCmd * c, Outcome o, const gchar * detail)
{
  Result *res = g_new0 (Result, 1);

  res->doc = c;
  res->outcome = o;
  res->detail = g_strdup (detail);
  g_ptr_array_add (results, res);
}

static void
result_free (Result * r)
{
  g_free (r->detail);
  g_free (r);
}

static void
test_command (gconstpointer data)
{
  VssDocCmd *c = (VssDocCmd *) data;
  Run r = { 0 };
  GError *err = NULL;
  gint excuse = excuse_of (c);
  static guint index;

  if (excuse >= 0) {
    g_test_message ("excused: %s", excuses[excuse].reason);
    add_result (c, OUTCOME_EXCUSED, excuses[excuse].reason);
    return;
  }
  r.doc = c;
  r.notes = g_ptr_array_new_with_free_func (g_free);
  r.failures = g_ptr_array_new_with_free_func (g_free);
  r.words = vss_docs_words (c->bare, &err);
  if (r.words == NULL) {
    fail (&r, "the shell cannot read it: %s", err->message);
    g_clear_error (&err);
  } else if ((r.prog = r.eff = vss_docs_program_index (r.words)) < 0) {
    fail (&r, "only assignments, no program");
  } else if (!strcmp (r.words[r.eff], "export")) {
    run_export (&r);
  } else {
    GRegex *re = g_regex_new ("s3://([a-z0-9][a-z0-9.-]+)", 0, 0, NULL);
    GMatchInfo *m = NULL;

    make_run_dir (&r, ++index);
    reset_server ();
    r.text = apply_substitutions (&r, c->text);
    /* s3:// needs s3rver, started for the first bucket named. */
    if (g_regex_match (re, r.text, 0, &m)) {
      gchar *bucket = g_match_info_fetch (m, 1);

      ensure_s3rver (&r, bucket);
      note (&r, "s3://%s: s3rver on 127.0.0.1:%u (AWS_ENDPOINT_URL_S3)",
          bucket, s3_port);
      g_free (bucket);
    }
    g_match_info_free (m);
    g_regex_unref (re);
    r.env = doc_env (&r);
    run_program (&r);
  }

  {
    GString *rep = g_string_new (NULL);
    gboolean failed = r.failures->len > 0;
    gboolean applied = r.words && r.eff >= 0 && r.words[r.eff]
        && !strcmp (r.words[r.eff], "export");

    g_string_append_printf (rep, "%s:%u: %s\n  command: %s\n", c->file,
        c->line, failed ? "FAILED" : "ok", c->text);
    if (r.text != NULL && strcmp (r.text, c->text) != 0)
      g_string_append_printf (rep, "  as run:  %s\n", r.text);
    if (r.dir != NULL)
      g_string_append_printf (rep, "  in:      %s\n", r.dir);
    for (guint i = 0; i < r.notes->len; i++)
      g_string_append_printf (rep, "  - %s\n",
          (gchar *) g_ptr_array_index (r.notes, i));
    if (r.out != NULL)
      g_string_append_printf (rep, "  ran %.1f s, wait status %d%s\n",
          r.seconds, r.status, r.interrupted ? " (after Ctrl-C)" : "");
    for (guint i = 0; i < r.failures->len; i++)
      g_string_append_printf (rep, "  ERROR: %s\n",
          (gchar *) g_ptr_array_index (r.failures, i));
    if (failed && r.out != NULL) {
      gchar *o = tail_lines (r.out, 25), *e = tail_lines (r.err, 25);

      g_string_append_printf (rep, "  stdout (end):\n    %s\n"
          "  stderr (end):\n    %s\n", o, e);
      g_free (o);
      g_free (e);
    }
    g_printerr ("%s", rep->str);
    if (failed) {
      GString *why = g_string_new (NULL);

      for (guint i = 0; i < r.failures->len; i++)
        g_string_append_printf (why, "%s%s", i ? "; " : "",
            (gchar *) g_ptr_array_index (r.failures, i));
      add_result (c, OUTCOME_FAILED, why->str);
      g_test_fail_printf ("%s:%u: %s", c->file, c->line, why->str);
      g_string_free (why, TRUE);
    } else {
      add_result (c, applied ? OUTCOME_APPLIED : OUTCOME_PASSED, NULL);
    }
    g_string_free (rep, TRUE);
  }
  g_ptr_array_unref (r.notes);
  g_ptr_array_unref (r.failures);
  g_strfreev (r.words);
  g_strfreev (r.env);
  g_free (r.text);
  g_free (r.dir);
  g_free (r.out);
  g_free (r.err);
}

/* ------------------------------------------------------------------ */
/* Coverage of the docs, and the extractor itself                      */

static guint readme_blocks;
static GPtrArray *sections, *section_blocks, *section_files;

static void
test_coverage (void)
{
  if (readme_blocks == 0)
    g_test_fail_printf ("README.md has no ```sh block: has the fence "
        "changed?");
  for (guint i = 0; i < sections->len; i++)
    if (GPOINTER_TO_UINT (g_ptr_array_index (section_blocks, i)) == 0)
      g_test_fail_printf ("%s: SECTION:element-%s has no runnable example "
          "(a |[ gst-launch-1.0 ... ]| block), which STYLE.md asks for",
          (gchar *) g_ptr_array_index (section_files, i),
          (gchar *) g_ptr_array_index (sections, i));
  if (sections->len == 0)
    g_test_fail_printf ("no SECTION:element-... comment in plugins/*/gst*.c");
}

/* An excuse that matches no command is stale. */
static void
test_excuses_used (void)
{
  guint hits[G_N_ELEMENTS (excuses)] = { 0 };

  for (guint i = 0; i < commands->len; i++) {
    gint e = excuse_of (g_ptr_array_index (commands, i));

    if (e >= 0)
      hits[e]++;
  }
  for (guint i = 0; i < G_N_ELEMENTS (excuses); i++)
    if (hits[i] == 0)
      g_test_fail_printf ("the excuse `%s` matches no command any more: "
          "remove it from the table", excuses[i].pattern);
}

static void
test_data_blocks (void)
{
  /* JSON, not commands: valid by construction (that is how they were told
   * apart); listed so that the report shows every block. */
  for (guint i = 0; i < data_blocks->len; i++) {
    VssDocData *d = g_ptr_array_index (data_blocks, i);

    g_test_message ("%s:%u: a JSON value, not a command", d->file, d->line);
  }
}

static void
test_extractor (void)
{
  const gchar *md = "text\n```sh\n# a comment\nexport A=1   # note\n"
      "prog one \\\n  two   # c\n\nprog 'x # y' three\n```\n```json\n"
      "{\"a\": 1}\n```\n```\nnot shell\n```\n";
  const gchar *src = "/**\n * SECTION:element-foo\n *\n * |[\n"
      " * [{\"id\":\"q1\"}]\n * ]|\n * |[\n * gst-launch-1.0 a !\n"
      " *   b ! c\n * ]|\n */\n";
  guint blocks = 0;
  GPtrArray *cmds = vss_docs_markdown_commands ("x.md", md, &blocks);
  GPtrArray *ec = g_ptr_array_new_with_free_func ((GDestroyNotify)
      vss_doc_cmd_free);
  GPtrArray *data = g_ptr_array_new_with_free_func ((GDestroyNotify)
      vss_doc_data_free);
  GPtrArray *secs = g_ptr_array_new_with_free_func (g_free);
  GPtrArray *nb = g_ptr_array_new ();
  VssDocCmd *c;
  GError *err = NULL;
  gchar **w;

  g_assert_cmpuint (blocks, ==, 1);
  g_assert_cmpuint (cmds->len, ==, 3);
  c = g_ptr_array_index (cmds, 0);
  g_assert_cmpstr (c->bare, ==, "export A=1");
  g_assert_cmpuint (c->line, ==, 4);
  c = g_ptr_array_index (cmds, 1);
  g_assert_cmpuint (c->line, ==, 5);
  g_assert_cmpstr (c->bare, ==, "prog one two");
  g_assert_cmpstr (c->exports[0], ==, "A");
  g_assert_cmpstr (c->exports[1], ==, "1");
  c = g_ptr_array_index (cmds, 2);
  g_assert_cmpstr (c->bare, ==, "prog 'x # y' three");
  w = vss_docs_words (c->bare, &err);
  g_assert_no_error (err);
  g_assert_cmpstr (w[1], ==, "x # y");
  g_strfreev (w);

  g_assert_true (vss_docs_element_commands ("f.c", src, ec, data, secs, nb,
          &err));
  g_assert_no_error (err);
  g_assert_cmpuint (secs->len, ==, 1);
  g_assert_cmpstr (g_ptr_array_index (secs, 0), ==, "foo");
  g_assert_cmpuint (GPOINTER_TO_UINT (g_ptr_array_index (nb, 0)), ==, 1);
  g_assert_cmpuint (data->len, ==, 1);
  /* Without backslashes a shell reads two commands. */
  g_assert_cmpuint (ec->len, ==, 2);
  c = g_ptr_array_index (ec, 1);
  g_assert_cmpuint (c->line, ==, 9);
  g_assert_true (c->follows_open_line);
  g_assert_cmpstr (c->bare, ==, "b ! c");

  g_ptr_array_unref (cmds);
  g_ptr_array_unref (ec);
  g_ptr_array_unref (data);
  g_ptr_array_unref (secs);
  g_ptr_array_unref (nb);
}

/* ------------------------------------------------------------------ */

static void
collect_commands (void)
{
  gchar *readme = g_build_filename (src_root, "README.md", NULL);
  gchar *text = NULL;
  gchar *pdir = g_build_filename (src_root, "plugins", NULL);
  GDir *d;
  const gchar *el;
  GPtrArray *files = g_ptr_array_new_with_free_func (g_free);
  GPtrArray *md;

  if (!g_file_get_contents (readme, &text, NULL, NULL))
    g_error ("cannot read %s", readme);
  md = vss_docs_markdown_commands ("README.md", text, &readme_blocks);
  for (guint i = 0; i < md->len; i++)
    g_ptr_array_add (commands, g_ptr_array_steal_index (md, i--));
  g_ptr_array_unref (md);
  g_free (text);

  d = g_dir_open (pdir, 0, NULL);
  if (d == NULL)
    g_error ("cannot read %s", pdir);
  while ((el = g_dir_read_name (d)) != NULL) {
    gchar *sub = g_build_filename (pdir, el, NULL);
    GDir *sd = g_dir_open (sub, 0, NULL);
    const gchar *f;

    while (sd != NULL && (f = g_dir_read_name (sd)) != NULL)
      if (g_str_has_prefix (f, "gst") && g_str_has_suffix (f, ".c"))
        g_ptr_array_add (files, g_build_filename ("plugins", el, f, NULL));
    if (sd != NULL)
      g_dir_close (sd);
    g_free (sub);
  }
  g_dir_close (d);
  g_ptr_array_sort (files, (GCompareFunc) g_strcmp0);
  for (guint i = 0; i < files->len; i++) {
    const gchar *rel = g_ptr_array_index (files, i);
    gchar *path = g_build_filename (src_root, rel, NULL);
    GError *err = NULL;
    guint before = sections->len;

    if (!g_file_get_contents (path, &text, NULL, &err))
      g_error ("%s", err->message);
    if (!vss_docs_element_commands (rel, text, commands, data_blocks,
            sections, section_blocks, &err))
      g_error ("%s", err->message);
    for (guint s = before; s < sections->len; s++)
      g_ptr_array_add (section_files, g_strdup (rel));
    g_free (text);
    g_free (path);
  }
  g_ptr_array_unref (files);
  g_free (pdir);
  g_free (readme);
}

static void
rm_rf (const gchar * path)
{
  gchar *rm[] = { (gchar *) "rm", (gchar *) "-rf", (gchar *) path, NULL };

  g_spawn_sync (NULL, rm, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL,
      NULL, NULL);
}

static void
start_fixtures (void)
{
  const gchar *clip_args[] = { "--duration", "20", "--fps", "10", "--width",
    "320", "--height", "180", "--seed", "9", NULL
  };
  const gchar *bedrock_args[] = { "--access-key", AWS_KEY, "--secret-key",
    AWS_SECRET, "--region", AWS_REGION, NULL
  };
  VssTestRedisOptions ro = { 0 };
  gchar *cache = g_build_filename (build_root, "tests", "e2e", NULL);
  gchar *t;
  json_t *j;
  GError *err = NULL;

  /* One clip for every command, kept in the build between runs. */
  clip = vss_e2e_make_clip (cache, "docs-clip.mkv", clip_args);
  clip_uri = g_filename_to_uri (clip, NULL, NULL);
  truth = g_strconcat (clip, ".json", NULL);
  j = json_load_file (truth, 0, NULL);
  if (j == NULL)
    g_error ("cannot read the clip's ground truth %s", truth);
  photo = g_strdup (json_string_value (json_object_get (json_array_get
              (json_object_get (j, "scenes"), 0), "path")));
  if (photo == NULL || !g_file_test (photo, G_FILE_TEST_IS_REGULAR))
    g_error ("the clip's first photograph is missing: %s", photo);
  json_decref (j);
  g_free (cache);

  if (!vss_test_redis_require_programs (&err))
    g_error ("%s", err->message);
  ro.module = module_path;
  redis = vss_test_redis_start (&ro, &err);
  if (redis == NULL)
    g_error ("cannot start redis-server with %s: %s", module_path,
        err->message);
  valkey_url = vss_test_redis_get_url (redis, NULL);
  valkey_port = vss_test_redis_get_port (redis, 0);

  bedrock = vss_test_bedrock_start (bedrock_args, &err);
  if (bedrock == NULL)
    g_error ("%s", err->message);
  rtsp = vss_e2e_rtsp_start (clip, 0, TRUE);
  s3rvers = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
      (GDestroyNotify) g_object_unref);

  /* In the build, emptied first: what a failed run leaves is there to
   * look at until the next run. */
  tmp_dir = g_build_filename (build_root, "tests", "e2e", "docs-runs", NULL);
  rm_rf (tmp_dir);
  if (g_mkdir_with_parents (tmp_dir, 0700) != 0)
    g_error ("cannot make %s: %s", tmp_dir, g_strerror (errno));
  /* A space in every command's folder: $PWD must be quoted wherever the
   * docs use it. */
  runs_dir = g_build_filename (tmp_dir, "doc runs", NULL);
  s3_dir = g_build_filename (tmp_dir, "s3", NULL);
  registry = g_build_filename (tmp_dir, "registry.bin", NULL);
  cred_file = g_build_filename (tmp_dir, "aws-credentials", NULL);
  config_file = g_build_filename (tmp_dir, "aws-config", NULL);
  /* What `AWS_PROFILE=my-profile` (README) finds. */
  t = g_strdup_printf ("[my-profile]\naws_access_key_id = %s\n"
      "aws_secret_access_key = %s\n", AWS_KEY, AWS_SECRET);
  g_file_set_contents (cred_file, t, -1, NULL);
  g_free (t);
  t = g_strdup_printf ("[profile my-profile]\nregion = %s\n", AWS_REGION);
  g_file_set_contents (config_file, t, -1, NULL);
  g_free (t);

  asan_preload = vss_e2e_uninstrumented_preload ();
}

static void
stop_fixtures (gboolean keep)
{
  g_hash_table_unref (s3rvers);
  vss_e2e_rtsp_stop (rtsp);
  vss_test_bedrock_stop (bedrock);
  vss_test_redis_free (redis);
  if (keep)
    g_printerr ("docs: every command's folder, output and files are in %s\n",
        tmp_dir);
  else
    rm_rf (tmp_dir);
  g_free (tmp_dir);
  g_free (runs_dir);
  g_free (s3_dir);
  g_free (registry);
  g_free (cred_file);
  g_free (config_file);
  g_free (asan_preload);
  g_free (valkey_url);
  g_free (clip);
  g_free (clip_uri);
  g_free (truth);
  g_free (photo);
}

static void
print_summary (void)
{
  guint n[4] = { 0 };

  for (guint i = 0; i < results->len; i++)
    n[((Result *) g_ptr_array_index (results, i))->outcome]++;
  g_printerr ("\ndocs: %u commands: %u run and passed, %u FAILED, %u excused, "
      "%u applied (export); %u JSON blocks\n", results->len, n[OUTCOME_PASSED],
      n[OUTCOME_FAILED], n[OUTCOME_EXCUSED], n[OUTCOME_APPLIED],
      data_blocks->len);
  for (guint i = 0; i < results->len; i++) {
    Result *r = g_ptr_array_index (results, i);
    const gchar *what[] = { "passed", "FAILED", "excused", "applied" };

    g_printerr ("  %-8s %s:%u  %s%s%s\n", what[r->outcome], r->doc->file,
        r->doc->line, r->doc->bare, r->detail ? "\n           " : "",
        r->detail ? r->detail : "");
  }
  for (guint i = 0; i < data_blocks->len; i++) {
    VssDocData *d = g_ptr_array_index (data_blocks, i);

    g_printerr ("  %-8s %s:%u  (a JSON value, not a command)\n", "data",
        d->file, d->line);
  }
}

int
main (int argc, char **argv)
{
  struct sigaction sa;
  gchar **args = g_new0 (gchar *, argc + 2);
  gint n_args = argc + 1, ret;

  /* Every command is run and reported, whatever failed before it. */
  memcpy (args, argv, argc * sizeof (gchar *));
  args[argc] = (gchar *) "--keep-going";
  argv = args;
  argc = n_args;
  g_test_init (&argc, &argv, NULL);
  if (argc < 2)
    g_error ("usage: test-docs vss-search.so");
  module_path = argv[1];
  src_root = g_getenv ("VSS_SOURCE_ROOT");
  build_root = g_getenv ("VSS_BUILD_ROOT");
  if (src_root == NULL || build_root == NULL)
    g_error ("VSS_SOURCE_ROOT and VSS_BUILD_ROOT must be set (meson test "
        "does)");

  commands = g_ptr_array_new_with_free_func ((GDestroyNotify)
      vss_doc_cmd_free);
  data_blocks = g_ptr_array_new_with_free_func ((GDestroyNotify)
      vss_doc_data_free);
  sections = g_ptr_array_new_with_free_func (g_free);
  section_files = g_ptr_array_new_with_free_func (g_free);
  section_blocks = g_ptr_array_new ();
  results = g_ptr_array_new_with_free_func ((GDestroyNotify) result_free);
  collect_commands ();

  g_test_add_func ("/docs/extractor", test_extractor);
  g_test_add_func ("/docs/coverage", test_coverage);
  g_test_add_func ("/docs/data-blocks", test_data_blocks);
  for (guint i = 0; i < commands->len; i++) {
    VssDocCmd *c = g_ptr_array_index (commands, i);
    gchar *path = g_strdup_printf ("/docs/run/%s:%u", c->file, c->line);

    g_test_add_data_func (path, c, test_command);
    g_free (path);
  }
  g_test_add_func ("/docs/excuses-used", test_excuses_used);

  start_fixtures ();
  memset (&sa, 0, sizeof sa);
  sa.sa_handler = on_fatal_signal;
  sigaction (SIGTERM, &sa, &old_term);
  sigaction (SIGINT, &sa, &old_int);

  ret = g_test_run ();
  print_summary ();

  stop_fixtures (ret != 0);
  g_ptr_array_unref (results);
  g_ptr_array_unref (commands);
  g_ptr_array_unref (data_blocks);
  g_ptr_array_unref (sections);
  g_ptr_array_unref (section_files);
  g_ptr_array_unref (section_blocks);
  g_free (args);
  return ret;
}
