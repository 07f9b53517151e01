/* gst-vss tests: redis-server fixture (plain, TLS, ACL, cluster)
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Servers never outlive the test: each child gets PR_SET_PDEATHSIG, a
 * signal handler kills every known server on abort (a failed g_assert) or
 * on meson's SIGTERM, and vss_test_redis_free() stops and removes
 * everything. Every port is on 127.0.0.1.
 *
 * Locking: `registry_lock` guards the pid registry (`pids`), which the
 * signal handler reads without a lock: slots are written whole. Leaf lock.
 */
#define _GNU_SOURCE             /* dl_iterate_phdr */
#include <link.h>
#include <string.h>
#include <signal.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <glib/gstdio.h>
#include <gio/gio.h>
#include "vss-test-redis.h"

#define MAX_PIDS 64
/* Generous: a loaded CI machine can take long to sync replicas. */
#define READY_TIMEOUT_US (60 * G_USEC_PER_SEC)

static volatile sig_atomic_t pids[MAX_PIDS];
/* Temp dirs, removed by the signal handler with fork+exec (both
 * async-signal-safe). Written under registry_lock before use. */
#define MAX_DIRS 16
static char dirs[MAX_DIRS][512];
static GMutex registry_lock;
static gboolean handlers_installed;

typedef struct
{
  guint16 port;
  gchar *dir;
  GPid pid;                     /* 0 when stopped */
} Server;

struct _VssTestRedis
{
  VssTestRedisOptions opts;
  gchar **extra_args;
  gchar **module_args;
  gchar *dir;
  gboolean cluster;
  GArray *servers;              /* Server */
};

static void
kill_all_from_handler (int sig)
{
  for (int i = 0; i < MAX_PIDS; i++)
    if (pids[i] > 0)
      kill ((pid_t) pids[i], SIGKILL);
  for (int i = 0; i < MAX_DIRS; i++) {
    if (dirs[i][0] == '/') {
      pid_t pid = fork ();
      if (pid == 0) {
        execl ("/bin/rm", "rm", "-rf", dirs[i], (char *) NULL);
        _exit (127);
      }
      if (pid > 0)
        waitpid (pid, NULL, 0);
    }
  }
  signal (sig, SIG_DFL);
  raise (sig);
}

static void
kill_all_at_exit (void)
{
  for (int i = 0; i < MAX_PIDS; i++)
    if (pids[i] > 0)
      kill ((pid_t) pids[i], SIGKILL);
}

static void
install_handlers (void)
{
  static const int sigs[] = { SIGABRT, SIGSEGV, SIGBUS, SIGTERM, SIGINT,
    SIGFPE, SIGILL, SIGTRAP
  };

  if (handlers_installed)
    return;
  handlers_installed = TRUE;
  for (guint i = 0; i < G_N_ELEMENTS (sigs); i++) {
    struct sigaction sa;
    memset (&sa, 0, sizeof sa);
    sa.sa_handler = kill_all_from_handler;
    sa.sa_flags = SA_RESETHAND;
    sigaction (sigs[i], &sa, NULL);
  }
  atexit (kill_all_at_exit);
}

static void
register_pid (GPid pid, gboolean add)
{
  g_mutex_lock (&registry_lock);
  for (int i = 0; i < MAX_PIDS; i++) {
    if (add && pids[i] == 0) {
      pids[i] = pid;
      break;
    }
    if (!add && pids[i] == pid) {
      pids[i] = 0;
      break;
    }
  }
  g_mutex_unlock (&registry_lock);
}

static void
register_dir (const gchar * dir, gboolean add)
{
  g_mutex_lock (&registry_lock);
  for (int i = 0; i < MAX_DIRS; i++) {
    if (add && dirs[i][0] == '\0' && strlen (dir) < sizeof dirs[i]) {
      strcpy (dirs[i], dir);
      break;
    }
    if (!add && !strcmp (dirs[i], dir)) {
      dirs[i][0] = '\0';
      break;
    }
  }
  g_mutex_unlock (&registry_lock);
}

static void
child_setup (gpointer data)
{
  /* If the test dies without cleaning up, the kernel kills the server. */
  prctl (PR_SET_PDEATHSIG, SIGKILL);
}

gboolean
vss_test_redis_require_programs (GError ** error)
{
  static const gchar *progs[] = { "redis-server", "redis-cli", "openssl" };

  for (guint i = 0; i < G_N_ELEMENTS (progs); i++) {
    gchar *p = g_find_program_in_path (progs[i]);
    if (p == NULL) {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
          "%s is not installed (apt-get install redis-server redis-tools "
          "openssl)", progs[i]);
      return FALSE;
    }
    g_free (p);
  }
  return TRUE;
}

static gboolean
port_free (guint16 port)
{
  GSocket *s = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
      G_SOCKET_PROTOCOL_TCP, NULL);
  GInetAddress *lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  GSocketAddress *addr = g_inet_socket_address_new (lo, port);
  gboolean ok = s && g_socket_bind (s, addr, FALSE, NULL);

  g_object_unref (addr);
  g_object_unref (lo);
  if (s) {
    g_socket_close (s, NULL);
    g_object_unref (s);
  }
  return ok;
}

/* A port whose cluster bus port (+10000) is free too. */
static guint16
pick_port (void)
{
  for (int tries = 0; tries < 200; tries++) {
    guint16 p = (guint16) g_random_int_range (20000, 55000);
    if (port_free (p) && port_free (p + 10000))
      return p;
  }
  return 0;
}

static gboolean
run_sync (const gchar * const *argv, const gchar * cwd, gchar ** out,
    GError ** error)
{
  gchar *sout = NULL, *serr = NULL;
  gint status;

  if (!g_spawn_sync (cwd, (gchar **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL,
          NULL, &sout, &serr, &status, error))
    return FALSE;
  if (!g_spawn_check_wait_status (status, NULL)) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
        "%s failed: %s%s", argv[0], serr ? serr : "", sout ? sout : "");
    g_free (sout);
    g_free (serr);
    return FALSE;
  }
  g_free (serr);
  if (out)
    *out = sout;
  else
    g_free (sout);
  return TRUE;
}

static gboolean
openssl (const gchar * dir, GError ** error, ...)
{
  GPtrArray *argv = g_ptr_array_new ();
  const gchar *a;
  va_list ap;
  gboolean ok;

  g_ptr_array_add (argv, (gpointer) "openssl");
  va_start (ap, error);
  while ((a = va_arg (ap, const gchar *)))
      g_ptr_array_add (argv, (gpointer) a);
  va_end (ap);
  g_ptr_array_add (argv, NULL);
  ok = run_sync ((const gchar * const *) argv->pdata, dir, NULL, error);
  g_ptr_array_unref (argv);
  return ok;
}

static gboolean
make_certs (const gchar * dir, GError ** error)
{
  gchar *srv_ext = g_build_filename (dir, "server.ext", NULL);
  gchar *cli_ext = g_build_filename (dir, "client.ext", NULL);
  gboolean ok;

  ok = g_file_set_contents (srv_ext,
      "basicConstraints=CA:FALSE\n"
      "keyUsage=digitalSignature,keyEncipherment\n"
      "extendedKeyUsage=serverAuth,clientAuth\n"
      "subjectAltName=DNS:localhost,IP:127.0.0.1\n", -1, error)
      && g_file_set_contents (cli_ext,
      "basicConstraints=CA:FALSE\n"
      "keyUsage=digitalSignature,keyEncipherment\n"
      "extendedKeyUsage=clientAuth\n", -1, error);
  g_free (srv_ext);
  g_free (cli_ext);
  if (!ok)
    return FALSE;

#define EC "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"
  return openssl (dir, error, "req", "-x509", EC, "-keyout", "ca.key",
      "-out", "ca.crt", "-days", "2", "-subj", "/CN=gst-vss test CA", NULL)
      && openssl (dir, error, "req", "-x509", EC, "-keyout", "other-ca.key",
      "-out", "other-ca.crt", "-days", "2", "-subj", "/CN=unrelated CA", NULL)
      && openssl (dir, error, "req", EC, "-keyout", "server.key",
      "-out", "server.csr", "-subj", "/CN=localhost", NULL)
      && openssl (dir, error, "x509", "-req", "-in", "server.csr", "-CA",
      "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out", "server.crt",
      "-days", "2", "-extfile", "server.ext", NULL)
      && openssl (dir, error, "req", EC, "-keyout", "client.key",
      "-out", "client.csr", "-subj", "/CN=gst-vss test client", NULL)
      && openssl (dir, error, "x509", "-req", "-in", "client.csr", "-CA",
      "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out", "client.crt",
      "-days", "2", "-extfile", "client.ext", NULL);
#undef EC
}

/* redis-cli arguments that reach node @i (TLS, ACL). */
static void
cli_base_args (VssTestRedis * r, guint i, GPtrArray * argv)
{
  Server *s = &g_array_index (r->servers, Server, i);

  g_ptr_array_add (argv, g_strdup ("redis-cli"));
  g_ptr_array_add (argv, g_strdup ("-h"));
  g_ptr_array_add (argv, g_strdup ("127.0.0.1"));
  g_ptr_array_add (argv, g_strdup ("-p"));
  g_ptr_array_add (argv, g_strdup_printf ("%u", s->port));
  if (r->opts.tls) {
    g_ptr_array_add (argv, g_strdup ("--tls"));
    g_ptr_array_add (argv, g_strdup ("--cacert"));
    g_ptr_array_add (argv, g_build_filename (r->dir, "ca.crt", NULL));
    g_ptr_array_add (argv, g_strdup ("--cert"));
    g_ptr_array_add (argv, g_build_filename (r->dir, "client.crt", NULL));
    g_ptr_array_add (argv, g_strdup ("--key"));
    g_ptr_array_add (argv, g_build_filename (r->dir, "client.key", NULL));
  }
  if (r->opts.acl_user) {
    g_ptr_array_add (argv, g_strdup ("--user"));
    g_ptr_array_add (argv, g_strdup (r->opts.acl_user));
    g_ptr_array_add (argv, g_strdup ("--pass"));
    g_ptr_array_add (argv, g_strdup (r->opts.acl_password));
    g_ptr_array_add (argv, g_strdup ("--no-auth-warning"));
  }
}

/**
 * vss_test_redis_cliv:
 *
 * Runs redis-cli against node @node with @args.
 *
 * Returns: its standard output without the trailing newline.
 */
gchar *
vss_test_redis_cliv (VssTestRedis * r, guint node, const gchar * const *args,
    GError ** error)
{
  GPtrArray *argv = g_ptr_array_new_with_free_func (g_free);
  gchar *out = NULL;

  cli_base_args (r, node, argv);
  for (guint i = 0; args[i]; i++)
    g_ptr_array_add (argv, g_strdup (args[i]));
  g_ptr_array_add (argv, NULL);
  if (run_sync ((const gchar * const *) argv->pdata, r->dir, &out, error))
    g_strchomp (out);
  g_ptr_array_unref (argv);
  return out;
}

gchar *
vss_test_redis_cli (VssTestRedis * r, guint node, GError ** error, ...)
{
  GPtrArray *args = g_ptr_array_new ();
  const gchar *a;
  gchar *out;
  va_list ap;

  va_start (ap, error);
  while ((a = va_arg (ap, const gchar *)))
      g_ptr_array_add (args, (gpointer) a);
  va_end (ap);
  g_ptr_array_add (args, NULL);
  out = vss_test_redis_cliv (r, node, (const gchar * const *) args->pdata,
      error);
  g_ptr_array_unref (args);
  return out;
}

static gchar *
read_log (Server * s)
{
  gchar *path = g_build_filename (s->dir, "redis.log", NULL);
  gchar *log = NULL;

  g_file_get_contents (path, &log, NULL, NULL);
  g_free (path);
  return log ? log : g_strdup ("(no log)");
}

static int
find_sanitizers (struct dl_phdr_info *info, size_t size, void *data)
{
  const gchar *name = info->dlpi_name;

  if (name != NULL && (strstr (name, "libasan.so")
          || strstr (name, "libubsan.so") || strstr (name, "libtsan.so"))) {
    GString *s = data;

    g_string_append_printf (s, "%s%s", s->len ? " " : "", name);
  }
  return 0;
}

gchar *
vss_test_sanitizer_preload (void)
{
  GString *s = g_string_new (NULL);

  dl_iterate_phdr (find_sanitizers, s);
  return g_string_free (s, FALSE);
}

/* What a server runs with: ours, plus the sanitizer runtimes when it loads
 * an instrumented module. */
static gchar **
server_environ (VssTestRedis * r)
{
  gchar **envp = g_get_environ ();
  gchar *preload;

  if (r->opts.module == NULL)
    return envp;
  preload = vss_test_sanitizer_preload ();
  if (preload[0]) {
    envp = g_environ_setenv (envp, "LD_PRELOAD", preload, TRUE);
    /* LeakSanitizer runs when a server exits cleanly (stopped with
     * SIGTERM): memory the module lost, e.g. on FT.DROPINDEX or MODULE
     * UNLOAD, is reported in the node's directory. Reports do not change
     * the exit code; vss_test_redis_check_reports() reads them. */
    envp = g_environ_setenv (envp, "ASAN_OPTIONS",
        "detect_leaks=1:abort_on_error=1:log_path=sanitizer", TRUE);
    envp = g_environ_setenv (envp, "LSAN_OPTIONS", "exitcode=0", TRUE);
    envp = g_environ_setenv (envp, "UBSAN_OPTIONS",
        "print_stacktrace=1:halt_on_error=1:log_path=sanitizer", TRUE);
    /* ThreadSanitizer reports a race and lets the server go on, so the
     * test gets to vss_test_redis_check_reports(), which shows the report
     * (a halted server would fail it on a lost connection instead, and the
     * report would go with the fixture's directory). By default it also
     * waits 1 s at exit while other threads live (the server's always do)
     * in case they touch what exit-time code changed: 1 s per clean stop,
     * 20 s per module-server run. Without the wait such a race is still
     * reported when the thread's access comes first. */
    envp = g_environ_setenv (envp, "TSAN_OPTIONS",
        "halt_on_error=0:second_deadlock_stack=1:atexit_sleep_ms=0:"
        "log_path=sanitizer", TRUE);
  }
  g_free (preload);
  return envp;
}

/**
 * vss_test_redis_check_reports:
 *
 * Fails the test (g_error) when a server of @r that loaded an instrumented
 * module wrote a sanitizer report. Servers report leaks when they exit
 * cleanly: call it after vss_test_redis_stop_node() or on a fixture whose
 * servers have stopped.
 */
void
vss_test_redis_check_reports (VssTestRedis * r)
{
  for (guint i = 0; i < r->servers->len; i++) {
    Server *s = &g_array_index (r->servers, Server, i);
    GDir *d = s->dir ? g_dir_open (s->dir, 0, NULL) : NULL;
    const gchar *name;

    while (d && (name = g_dir_read_name (d))) {
      if (g_str_has_prefix (name, "sanitizer")) {
        gchar *path = g_build_filename (s->dir, name, NULL);
        gchar *text = NULL;

        g_file_get_contents (path, &text, NULL, NULL);
        g_error ("redis-server on port %u with %s reported:\n%s", s->port,
            r->opts.module, text ? text : path);
      }
    }
    if (d)
      g_dir_close (d);
  }
}

static gboolean
spawn_server (VssTestRedis * r, guint i, GError ** error)
{
  Server *s = &g_array_index (r->servers, Server, i);
  GPtrArray *argv = g_ptr_array_new_with_free_func (g_free);
  gchar **envp;
  gint64 until;
  gboolean ok;

#define ADD(x) g_ptr_array_add (argv, g_strdup (x))
#define ADDF(...) g_ptr_array_add (argv, g_strdup_printf (__VA_ARGS__))
  ADD ("redis-server");
  ADD ("--bind");
  ADD ("127.0.0.1");
  ADD ("--dir");
  ADD (s->dir);
  ADD ("--logfile");
  ADD ("redis.log");
  ADD ("--daemonize");
  ADD ("no");
  ADD ("--save");
  ADD ("");
  ADD ("--protected-mode");
  ADD ("no");
  ADD ("--appendonly");
  ADD (r->opts.appendonly ? "yes" : "no");
  if (r->opts.appendonly) {
    ADD ("--appendfsync");
    ADD ("always");
  }
  if (r->opts.tls) {
    ADD ("--port");
    ADD ("0");
    ADD ("--tls-port");
    ADDF ("%u", s->port);
    ADD ("--tls-cert-file");
    ADDF ("%s/server.crt", r->dir);
    ADD ("--tls-key-file");
    ADDF ("%s/server.key", r->dir);
    ADD ("--tls-ca-cert-file");
    ADDF ("%s/ca.crt", r->dir);
    ADD ("--tls-auth-clients");
    ADD (r->opts.tls_auth_clients ? r->opts.tls_auth_clients : "yes");
    if (r->cluster) {
      ADD ("--tls-cluster");
      ADD ("yes");
    }
  } else {
    ADD ("--port");
    ADDF ("%u", s->port);
  }
  if (r->opts.acl_user) {
    ADD ("--user");
    ADD (r->opts.acl_user);
    ADD ("on");
    ADDF (">%s", r->opts.acl_password);
    ADD ("~*");
    ADD ("&*");
    ADD ("+@all");
    /* acl_user "default" is the requirepass case: keep that user on. */
    if (strcmp (r->opts.acl_user, "default")) {
      ADD ("--user");
      ADD ("default");
      ADD ("off");
    }
    if (r->cluster) {
      ADD ("--masteruser");
      ADD (r->opts.acl_user);
      ADD ("--masterauth");
      ADD (r->opts.acl_password);
    }
  }
  if (r->cluster) {
    ADD ("--cluster-enabled");
    ADD ("yes");
    ADD ("--cluster-config-file");
    ADD ("nodes.conf");
    ADD ("--cluster-node-timeout");
    ADD ("5000");
  }
  if (r->opts.module) {
    ADD ("--loadmodule");
    ADD (r->opts.module);
    for (guint k = 0; r->module_args && r->module_args[k]; k++)
      ADD (r->module_args[k]);
  }
  for (guint k = 0; r->extra_args && r->extra_args[k]; k++)
    ADD (r->extra_args[k]);
  g_ptr_array_add (argv, NULL);
#undef ADD
#undef ADDF

  envp = server_environ (r);
  ok = g_spawn_async (s->dir, (gchar **) argv->pdata, envp,
      G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD |
      G_SPAWN_STDOUT_TO_DEV_NULL, child_setup, NULL, &s->pid, error);
  g_strfreev (envp);
  g_ptr_array_unref (argv);
  if (!ok)
    return FALSE;
  register_pid (s->pid, TRUE);

  /* Ready when PING answers PONG (not LOADING). */
  until = g_get_monotonic_time () + READY_TIMEOUT_US;
  for (;;) {
    gchar *out;
    int status;

    if (waitpid (s->pid, &status, WNOHANG) == s->pid) {
      gchar *log = read_log (s);
      register_pid (s->pid, FALSE);
      s->pid = 0;
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
          "redis-server on port %u exited at start:\n%s", s->port, log);
      g_free (log);
      return FALSE;
    }
    out = vss_test_redis_cli (r, i, NULL, "PING", NULL);
    if (out && !strcmp (out, "PONG")) {
      g_free (out);
      return TRUE;
    }
    g_free (out);
    if (g_get_monotonic_time () > until) {
      gchar *log = read_log (s);
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
          "redis-server on port %u not ready after 20 s:\n%s", s->port, log);
      g_free (log);
      return FALSE;
    }
    g_usleep (20 * 1000);
  }
}

static VssTestRedis *
fixture_new (const VssTestRedisOptions * opts, gboolean cluster, guint n,
    GError ** error)
{
  VssTestRedis *r = g_new0 (VssTestRedis, 1);
  static const VssTestRedisOptions defaults = { 0, };

  install_handlers ();
  r->opts = opts ? *opts : defaults;
  r->extra_args = g_strdupv ((gchar **) r->opts.extra_args);
  r->opts.extra_args = NULL;
  r->module_args = g_strdupv ((gchar **) r->opts.module_args);
  r->opts.module_args = NULL;
  r->opts.acl_user = g_strdup (r->opts.acl_user);
  r->opts.acl_password = g_strdup (r->opts.acl_password);
  r->opts.tls_auth_clients = g_strdup (r->opts.tls_auth_clients);
  r->opts.module = g_strdup (r->opts.module);
  r->cluster = cluster;
  r->servers = g_array_new (FALSE, TRUE, sizeof (Server));
  r->dir = g_dir_make_tmp ("vss-redis-XXXXXX", error);
  if (r->dir == NULL)
    goto fail;
  register_dir (r->dir, TRUE);
  if (!vss_test_redis_require_programs (error))
    goto fail;
  if (r->opts.tls && !make_certs (r->dir, error))
    goto fail;
  for (guint i = 0; i < n; i++) {
    Server s = { 0, };
    s.port = pick_port ();
    s.dir = g_strdup_printf ("%s/node-%u", r->dir, i);
    g_mkdir (s.dir, 0700);
    g_array_append_val (r->servers, s);
    if (s.port == 0) {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "no free port");
      goto fail;
    }
  }
  for (guint i = 0; i < n; i++) {
    /* Another test may have taken the port since we checked it. */
    for (guint attempt = 0;; attempt++) {
      GError *err = NULL;
      Server *s = &g_array_index (r->servers, Server, i);
      if (spawn_server (r, i, &err))
        break;
      if (attempt < 3 && strstr (err->message, "already in use")) {
        g_clear_error (&err);
        s->port = pick_port ();
        continue;
      }
      g_propagate_error (error, err);
      goto fail;
    }
  }
  return r;

fail:
  vss_test_redis_free (r);
  return NULL;
}

VssTestRedis *
vss_test_redis_start (const VssTestRedisOptions * opts, GError ** error)
{
  return fixture_new (opts, FALSE, 1, error);
}

static gboolean
cluster_ok (VssTestRedis * r)
{
  for (guint i = 0; i < r->servers->len; i++) {
    gchar *info = vss_test_redis_cli (r, i, NULL, "CLUSTER", "INFO", NULL);
    gchar *repl = vss_test_redis_cli (r, i, NULL, "INFO", "replication",
        NULL);
    gboolean ok = info && strstr (info, "cluster_state:ok")
        && strstr (info, "cluster_slots_ok:16384")
        && strstr (info, "cluster_known_nodes:") && repl
        && (strstr (repl, "role:master")
        || strstr (repl, "master_link_status:up"));
    if (ok) {
      const gchar *k = strstr (info, "cluster_known_nodes:");
      ok = g_ascii_strtoull (k + strlen ("cluster_known_nodes:"), NULL,
          10) == r->servers->len;
    }
    g_free (info);
    g_free (repl);
    if (!ok)
      return FALSE;
  }
  return TRUE;
}

VssTestRedis *
vss_test_redis_start_cluster (guint n_primaries,
    const VssTestRedisOptions * opts, GError ** error)
{
  guint replicas = opts ? opts->cluster_replicas : 0;
  guint n = n_primaries * (1 + replicas);
  VssTestRedis *r = fixture_new (opts, TRUE, n, error);
  GPtrArray *args;
  gchar *out;
  gint64 until;

  if (r == NULL)
    return NULL;
  args = g_ptr_array_new_with_free_func (g_free);
  g_ptr_array_add (args, g_strdup ("--cluster"));
  g_ptr_array_add (args, g_strdup ("create"));
  for (guint i = 0; i < n; i++)
    g_ptr_array_add (args, g_strdup_printf ("127.0.0.1:%u",
            vss_test_redis_get_port (r, i)));
  g_ptr_array_add (args, g_strdup ("--cluster-replicas"));
  g_ptr_array_add (args, g_strdup_printf ("%u", replicas));
  g_ptr_array_add (args, g_strdup ("--cluster-yes"));
  g_ptr_array_add (args, NULL);
  out = vss_test_redis_cliv (r, 0, (const gchar * const *) args->pdata, error);
  g_ptr_array_unref (args);
  if (out == NULL)
    goto fail;
  g_free (out);

  until = g_get_monotonic_time () + READY_TIMEOUT_US;
  while (!cluster_ok (r)) {
    if (g_get_monotonic_time () > until) {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
          "the cluster did not reach cluster_state:ok with every replica in "
          "sync in 60 s");
      goto fail;
    }
    g_usleep (50 * 1000);
  }
  return r;

fail:
  vss_test_redis_free (r);
  return NULL;
}

void
vss_test_redis_stop_node (VssTestRedis * r, guint i, gboolean hard)
{
  Server *s = &g_array_index (r->servers, Server, i);
  gint64 until = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;
  int status;

  if (s->pid == 0)
    return;
  kill (s->pid, hard ? SIGKILL : SIGTERM);
  while (waitpid (s->pid, &status, WNOHANG) != s->pid) {
    if (g_get_monotonic_time () > until) {
      kill (s->pid, SIGKILL);
      waitpid (s->pid, &status, 0);
      break;
    }
    g_usleep (10 * 1000);
  }
  register_pid (s->pid, FALSE);
  g_spawn_close_pid (s->pid);
  s->pid = 0;
}

gboolean
vss_test_redis_restart_node (VssTestRedis * r, guint i, GError ** error)
{
  vss_test_redis_stop_node (r, i, FALSE);
  return spawn_server (r, i, error);
}

static void
rm_rf (const gchar * path)
{
  GDir *d = g_dir_open (path, 0, NULL);
  const gchar *name;

  if (d != NULL) {
    while ((name = g_dir_read_name (d))) {
      gchar *p = g_build_filename (path, name, NULL);
      if (g_file_test (p, G_FILE_TEST_IS_DIR)
          && !g_file_test (p, G_FILE_TEST_IS_SYMLINK))
        rm_rf (p);
      else
        g_unlink (p);
      g_free (p);
    }
    g_dir_close (d);
  }
  g_rmdir (path);
}

void
vss_test_redis_free (VssTestRedis * r)
{
  if (r == NULL)
    return;
  for (guint i = 0; i < r->servers->len; i++) {
    Server *s = &g_array_index (r->servers, Server, i);
    vss_test_redis_stop_node (r, i, TRUE);
    g_free (s->dir);
  }
  g_array_unref (r->servers);
  if (r->dir != NULL) {
    rm_rf (r->dir);
    register_dir (r->dir, FALSE);
  }
  g_free (r->dir);
  g_strfreev (r->extra_args);
  g_strfreev (r->module_args);
  g_free ((gchar *) r->opts.module);
  g_free ((gchar *) r->opts.acl_user);
  g_free ((gchar *) r->opts.acl_password);
  g_free ((gchar *) r->opts.tls_auth_clients);
  g_free (r);
}

guint
vss_test_redis_get_n_nodes (VssTestRedis * r)
{
  return r->servers->len;
}

guint16
vss_test_redis_get_port (VssTestRedis * r, guint i)
{
  return g_array_index (r->servers, Server, i).port;
}

const gchar *
vss_test_redis_get_dir (VssTestRedis * r)
{
  return r->dir;
}

gchar *
vss_test_redis_get_path (VssTestRedis * r, const gchar * file)
{
  return g_build_filename (r->dir, file, NULL);
}

/**
 * vss_test_redis_get_url:
 * @extra_query: (nullable): more `k=v&...` options.
 *
 * Returns: a URL for our client with every node as a seed, the ACL user and
 * the TLS files of the fixture.
 */
gchar *
vss_test_redis_get_url (VssTestRedis * r, const gchar * extra_query)
{
  GString *s = g_string_new (r->opts.tls ? "rediss://" : "redis://");
  gchar sep = '?';

  if (r->opts.acl_user) {
    gchar *u = g_uri_escape_string (r->opts.acl_user, NULL, FALSE);
    gchar *p = g_uri_escape_string (r->opts.acl_password, NULL, FALSE);
    g_string_append_printf (s, "%s:%s@", u, p);
    g_free (u);
    g_free (p);
  }
  for (guint i = 0; i < r->servers->len; i++)
    g_string_append_printf (s, i ? ",127.0.0.1:%u" : "127.0.0.1:%u",
        vss_test_redis_get_port (r, i));
  if (r->opts.tls) {
    g_string_append_printf (s, "?tls_ca_file=%s/ca.crt"
        "&tls_cert_file=%s/client.crt&tls_key_file=%s/client.key",
        r->dir, r->dir, r->dir);
    sep = '&';
  }
  if (extra_query)
    g_string_append_printf (s, "%c%s", sep, extra_query);
  return g_string_free (s, FALSE);
}

/**
 * vss_test_redis_wait_replicas_online:
 *
 * Waits until no replica of the cluster reports itself "loading" in
 * CLUSTER SHARDS (Redis says so of a replica whose replication offset is
 * still 0, and our client does not read from those).
 *
 * Returns: FALSE with @error after @timeout_s seconds.
 */
gboolean
vss_test_redis_wait_replicas_online (VssTestRedis * r, guint timeout_s,
    GError ** error)
{
  gint64 until = g_get_monotonic_time () + timeout_s * G_USEC_PER_SEC;

  for (;;) {
    gchar *shards = vss_test_redis_cli (r, 0, error, "CLUSTER", "SHARDS",
        NULL);
    gboolean loading;

    if (shards == NULL)
      return FALSE;
    loading = strstr (shards, "loading") != NULL;
    g_free (shards);
    if (!loading)
      return TRUE;
    if (g_get_monotonic_time () > until) {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
          "replicas still loading after %u s", timeout_s);
      return FALSE;
    }
    g_usleep (100 * 1000);
  }
}
