/* gst-vss bench: what the module benchmarks share (bench-module,
 * bench-module-threads): the data, the index, pipelined ingest, exact
 * answers and a few server questions.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Every function aborts the benchmark (g_error) on a failure: a benchmark
 * that goes on after one measures nothing.
 */
#pragma once

#include <glib.h>
#include "valkey/gstvssvalkeyclient.h"

G_BEGIN_DECLS
#define VSS_BENCH_DIM 1024
#define VSS_BENCH_K 10
#define VSS_BENCH_EF 64
/* HSETs in flight per round trip while ingesting. */
#define VSS_BENCH_DEPTH 64
#define VSS_BENCH_INDEX "frames"
#define VSS_BENCH_PREFIX "frame:"
/* @n unit-length documents and @nq held-out queries of one video-like
 * stream (vss_gen_video of tests/index). Returns the documents. */
    gfloat * vss_bench_generate (guint n, guint nq, gfloat ** queries);

VssValkeyClient *vss_bench_connect (const gchar * url);

VssValkeyReply *vss_bench_command (VssValkeyClient * c, gint argc,
    const gchar ** argv, const gsize * lens);

/* A command of text arguments, NULL after the last. An error reply aborts
 * (the client turns them into errors). */
VssValkeyReply *
vss_bench_cmd (VssValkeyClient * c, ...)
    G_GNUC_NULL_TERMINATED;

/* FT.CREATE frames ON HASH PREFIX 1 frame: with a 1024-d COSINE HNSW
 * vector (M 16, EF_CONSTRUCTION 200), a TAG and a NUMERIC field, on every
 * primary. */
     void vss_bench_create_index (VssValkeyClient * c);

/* HSET frame:<i> for i in [@first, @first + @n) from @data, pipelined
 * VSS_BENCH_DEPTH deep; returns after the last reply. */
     void vss_bench_ingest (VssValkeyClient * c, const gfloat * data,
    guint first, guint n);

/* FT.INFO frames num_docs. */
     guint64 vss_bench_num_docs (VssValkeyClient * c);

/* Exact top-K document numbers of @q among @n documents, nearest first. */
     void vss_bench_exact_topk (const gfloat * data, guint n, const gfloat * q,
    guint * out);

/* CPU seconds of the server process, all threads (INFO cpu). */
     gdouble vss_bench_server_cpu (VssValkeyClient * c);

/* The 1-minute load average, -1 when unknown. */
     gdouble vss_bench_load_average (void);

G_END_DECLS
