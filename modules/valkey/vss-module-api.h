/* gst-vss Valkey module: the part of the module ABI we use
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Redis and Valkey hand a module its API as function pointers fetched by
 * name: the first field of the context given to RedisModule_OnLoad() is a
 * GetApi(name, &pointer) function. We declare only what we call, with the
 * documented signatures and constant values of Redis 7.0 (unchanged in
 * Valkey 7.2 and 8, which also answer to the "RedisModule_" names), instead
 * of vendoring a header.
 */
#ifndef VSS_MODULE_API_H
#define VSS_MODULE_API_H

#include <stddef.h>
#include <stdint.h>

#define RM_OK 0
#define RM_ERR 1
#define RM_APIVER_1 1

#define RM_READ (1 << 0)
#define RM_OPEN_KEY_NOTOUCH (1 << 16)

#define RM_KEYTYPE_EMPTY 0
#define RM_KEYTYPE_HASH 3

#define RM_HASH_CFIELDS (1 << 2)

#define RM_POSTPONED_LEN (-1)

#define RM_REPLY_ERROR 1

#define RM_CTX_FLAGS_LUA (1 << 0)
#define RM_CTX_FLAGS_MULTI (1 << 1)
#define RM_CTX_FLAGS_SLAVE (1 << 3)
#define RM_CTX_FLAGS_REPLICATED (1 << 12)
#define RM_CTX_FLAGS_LOADING (1 << 13)
#define RM_CTX_FLAGS_DENY_BLOCKING (1 << 21)

#define RM_NOTIFY_GENERIC (1 << 2)
#define RM_NOTIFY_STRING (1 << 3)
#define RM_NOTIFY_LIST (1 << 4)
#define RM_NOTIFY_SET (1 << 5)
#define RM_NOTIFY_HASH (1 << 6)
#define RM_NOTIFY_ZSET (1 << 7)
#define RM_NOTIFY_EXPIRED (1 << 8)
#define RM_NOTIFY_EVICTED (1 << 9)
#define RM_NOTIFY_STREAM (1 << 10)
#define RM_NOTIFY_MODULE (1 << 13)

#define RM_EVENT_FLUSHDB 2
#define RM_EVENT_LOADING 3
#define RM_SUBEVENT_FLUSHDB_START 0
#define RM_SUBEVENT_LOADING_RDB_START 0
#define RM_SUBEVENT_LOADING_AOF_START 1
#define RM_SUBEVENT_LOADING_REPL_START 2
#define RM_SUBEVENT_LOADING_ENDED 3
#define RM_SUBEVENT_LOADING_FAILED 4

#define RM_AUX_BEFORE_RDB (1 << 0)
#define RM_TYPE_METHOD_VERSION_AUX 2

typedef struct RedisModuleCtx RedisModuleCtx;
typedef struct RedisModuleKey RedisModuleKey;
typedef struct RedisModuleString RedisModuleString;
typedef struct RedisModuleIO RedisModuleIO;
typedef struct RedisModuleType RedisModuleType;
typedef struct RedisModuleScanCursor RedisModuleScanCursor;
typedef struct RedisModuleInfoCtx RedisModuleInfoCtx;
typedef struct RedisModuleBlockedClient RedisModuleBlockedClient;
typedef struct RedisModuleCallReply RedisModuleCallReply;
typedef uint64_t RedisModuleTimerID;
typedef long long mstime_t;

typedef struct {
  uint64_t id;
  uint64_t dataver;
} RedisModuleEvent;

typedef struct {
  uint64_t version;
  int32_t sync;
  int32_t dbnum; /* -1: every database */
} RedisModuleFlushInfo;

typedef int (*RedisModuleCmdFunc) (RedisModuleCtx *ctx,
                                   RedisModuleString **argv, int argc);
typedef int (*RedisModuleNotificationFunc) (RedisModuleCtx *ctx, int type,
                                            const char *event,
                                            RedisModuleString *key);
typedef void (*RedisModuleEventCallback) (RedisModuleCtx *ctx,
                                          RedisModuleEvent eid,
                                          uint64_t subevent, void *data);
typedef void (*RedisModuleInfoFunc) (RedisModuleInfoCtx *ctx,
                                     int for_crash_report);
typedef void (*RedisModuleTimerProc) (RedisModuleCtx *ctx, void *data);
typedef void (*RedisModuleScanCB) (RedisModuleCtx *ctx,
                                   RedisModuleString *keyname,
                                   RedisModuleKey *key, void *privdata);
typedef void (*RedisModuleScanKeyCB) (RedisModuleKey *key,
                                      RedisModuleString *field,
                                      RedisModuleString *value, void *privdata);
typedef void *(*RedisModuleTypeLoadFunc) (RedisModuleIO *rdb, int encver);
typedef void (*RedisModuleTypeSaveFunc) (RedisModuleIO *rdb, void *value);
typedef void (*RedisModuleTypeRewriteFunc) (RedisModuleIO *aof,
                                            RedisModuleString *key,
                                            void *value);
typedef size_t (*RedisModuleTypeMemUsageFunc) (const void *value);
typedef void (*RedisModuleTypeDigestFunc) (void *digest, void *value);
typedef void (*RedisModuleTypeFreeFunc) (void *value);
typedef int (*RedisModuleTypeAuxLoadFunc) (RedisModuleIO *rdb, int encver,
                                           int when);
typedef void (*RedisModuleTypeAuxSaveFunc) (RedisModuleIO *rdb, int when);

/* The methods structure up to version 2 (aux fields); the server reads
 * only as far as `version` says. */
typedef struct {
  uint64_t version;
  RedisModuleTypeLoadFunc rdb_load;
  RedisModuleTypeSaveFunc rdb_save;
  RedisModuleTypeRewriteFunc aof_rewrite;
  RedisModuleTypeMemUsageFunc mem_usage;
  RedisModuleTypeDigestFunc digest;
  RedisModuleTypeFreeFunc free;
  RedisModuleTypeAuxLoadFunc aux_load;
  RedisModuleTypeAuxSaveFunc aux_save;
  int aux_save_triggers;
} RedisModuleTypeMethods;

/* X(return type, name, arguments): every function we fetch. */
#define VSS_RM_API(X)                                                          \
  X (void, SetModuleAttribs,                                                   \
     (RedisModuleCtx * ctx, const char *name, int ver, int apiver))            \
  X (int, CreateCommand,                                                       \
     (RedisModuleCtx * ctx, const char *name, RedisModuleCmdFunc fn,           \
      const char *flags, int firstkey, int lastkey, int keystep))              \
  X (int, WrongArity, (RedisModuleCtx * ctx))                                  \
  X (int, ReplicateVerbatim, (RedisModuleCtx * ctx))                           \
  X (const char *, StringPtrLen, (const RedisModuleString *str, size_t *len))  \
  X (RedisModuleString *, CreateString,                                        \
     (RedisModuleCtx * ctx, const char *ptr, size_t len))                      \
  X (void, FreeString, (RedisModuleCtx * ctx, RedisModuleString * str))        \
  X (int, ReplyWithError, (RedisModuleCtx * ctx, const char *err))             \
  X (int, ReplyWithSimpleString, (RedisModuleCtx * ctx, const char *msg))      \
  X (int, ReplyWithArray, (RedisModuleCtx * ctx, long len))                    \
  X (void, ReplySetArrayLength, (RedisModuleCtx * ctx, long len))              \
  X (int, ReplyWithNull, (RedisModuleCtx * ctx))                               \
  X (int, ReplyWithLongLong, (RedisModuleCtx * ctx, long long ll))             \
  X (int, ReplyWithStringBuffer,                                               \
     (RedisModuleCtx * ctx, const char *buf, size_t len))                      \
  X (int, ReplyWithCString, (RedisModuleCtx * ctx, const char *buf))           \
  X (int, ReplyWithString, (RedisModuleCtx * ctx, RedisModuleString * str))    \
  X (int, GetContextFlags, (RedisModuleCtx * ctx))                             \
  X (int, GetSelectedDb, (RedisModuleCtx * ctx))                               \
  X (RedisModuleKey *, OpenKey,                                                \
     (RedisModuleCtx * ctx, RedisModuleString * keyname, int mode))            \
  X (void, CloseKey, (RedisModuleKey * key))                                   \
  X (int, KeyType, (RedisModuleKey * key))                                     \
  X (int, HashGet, (RedisModuleKey * key, int flags, ...))                     \
  X (int, ScanKey,                                                             \
     (RedisModuleKey * key, RedisModuleScanCursor * cursor,                    \
      RedisModuleScanKeyCB fn, void *privdata))                                \
  X (int, SubscribeToKeyspaceEvents,                                           \
     (RedisModuleCtx * ctx, int types, RedisModuleNotificationFunc cb))        \
  X (int, SubscribeToServerEvent,                                              \
     (RedisModuleCtx * ctx, RedisModuleEvent event,                            \
      RedisModuleEventCallback cb))                                            \
  X (RedisModuleScanCursor *, ScanCursorCreate, (void))                        \
  X (void, ScanCursorRestart, (RedisModuleScanCursor * cursor))                \
  X (void, ScanCursorDestroy, (RedisModuleScanCursor * cursor))                \
  X (int, Scan,                                                                \
     (RedisModuleCtx * ctx, RedisModuleScanCursor * cursor,                    \
      RedisModuleScanCB fn, void *privdata))                                   \
  X (unsigned long long, DbSize, (RedisModuleCtx * ctx))                       \
  X (RedisModuleTimerID, CreateTimer,                                          \
     (RedisModuleCtx * ctx, mstime_t period, RedisModuleTimerProc cb,          \
      void *data))                                                             \
  X (int, StopTimer,                                                           \
     (RedisModuleCtx * ctx, RedisModuleTimerID id, void **data))               \
  X (RedisModuleType *, CreateDataType,                                        \
     (RedisModuleCtx * ctx, const char *name, int encver,                      \
      RedisModuleTypeMethods *methods))                                        \
  X (void, SaveUnsigned, (RedisModuleIO * io, uint64_t value))                 \
  X (uint64_t, LoadUnsigned, (RedisModuleIO * io))                             \
  X (void, SaveStringBuffer,                                                   \
     (RedisModuleIO * io, const char *str, size_t len))                        \
  X (char *, LoadStringBuffer, (RedisModuleIO * io, size_t * len))             \
  X (int, IsIOError, (RedisModuleIO * io))                                     \
  X (void, Free, (void *ptr))                                                  \
  X (int, RegisterInfoFunc, (RedisModuleCtx * ctx, RedisModuleInfoFunc cb))    \
  X (int, InfoAddSection, (RedisModuleInfoCtx * ctx, const char *name))        \
  X (int, InfoAddFieldLongLong,                                                \
     (RedisModuleInfoCtx * ctx, const char *field, long long value))           \
  X (void, Log,                                                                \
     (RedisModuleCtx * ctx, const char *level, const char *fmt, ...))          \
  X (RedisModuleBlockedClient *, BlockClient,                                  \
     (RedisModuleCtx * ctx, RedisModuleCmdFunc reply_callback,                 \
      RedisModuleCmdFunc timeout_callback,                                     \
      void (*free_privdata) (RedisModuleCtx *, void *), long long timeout_ms)) \
  X (int, UnblockClient, (RedisModuleBlockedClient * bc, void *privdata))      \
  X (void *, GetBlockedClientPrivateData, (RedisModuleCtx * ctx))              \
  X (RedisModuleCallReply *, Call,                                             \
     (RedisModuleCtx * ctx, const char *cmdname, const char *fmt, ...))        \
  X (int, CallReplyType, (RedisModuleCallReply * reply))                       \
  X (void, FreeCallReply, (RedisModuleCallReply * reply))

/* The module defines a static pointer per entry (rm_<Name>): names that
 * differ from the server's own exported RM_<Name> functions, which would
 * otherwise interpose on them. */

#endif /* VSS_MODULE_API_H */
