/* util/emit: one interface for writing a document, several sinks.
 *
 * A typed value (a case, an order, a decision's output) is walked once by its
 * encoder, which calls the sink's operations in document order: begin/end of
 * objects and arrays, a key before each member, scalar values. The JSON
 * writer (util/jsonw.h) turns the calls into text for the store, the API and
 * the feed; the policy host turns the same calls into read-only Lua tables
 * (policy views). So the shape a policy sees and the shape the API shows are
 * written by the same code and cannot drift apart.
 *
 * A sink remembers its first failure (out of memory) itself; encoders never
 * check after each call. */
#ifndef AS_UTIL_EMIT_H
#define AS_UTIL_EMIT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct emitter emitter;

typedef struct {
    /* size: the members to come, if the encoder knows (0 if not); a sink that
     * builds tables sizes them once instead of growing them */
    void (*object_begin)(emitter *e, int size);
    void (*object_end)(emitter *e);
    void (*array_begin)(emitter *e);
    void (*array_end)(emitter *e);
    void (*key)(emitter *e, const char *k); /* the next member's name */
    void (*string)(emitter *e, const char *s, size_t len);
    void (*integer)(emitter *e, int64_t v);
    void (*boolean)(emitter *e, int v);
    void (*null)(emitter *e);
    /* A value that is JSON text already, written by this program's own
     * encoders (a policy's output as the host wrote it, stored survey
     * questions): never text from outside, which goes through Jansson first.
     * The JSON writer splices it in as it is; a sink of another format parses
     * it. */
    void (*raw)(emitter *e, const char *json, size_t len);
} emitter_ops;

struct emitter {
    const emitter_ops *ops;
};

/* "No value": optional integers (times, amounts, scores) hold this when
 * absent, and encode as JSON null. */
#define AS_NONE INT64_MIN

static inline void emit_object(emitter *e) { e->ops->object_begin(e, 0); }
static inline void emit_object_n(emitter *e, int size) { e->ops->object_begin(e, size); }
static inline void emit_object_end(emitter *e) { e->ops->object_end(e); }
static inline void emit_array(emitter *e) { e->ops->array_begin(e); }
static inline void emit_array_end(emitter *e) { e->ops->array_end(e); }
static inline void emit_key(emitter *e, const char *k) { e->ops->key(e, k); }
static inline void emit_null(emitter *e) { e->ops->null(e); }
static inline void emit_int(emitter *e, int64_t v) { e->ops->integer(e, v); }
static inline void emit_bool(emitter *e, int v) { e->ops->boolean(e, v); }
/* A string, or null for NULL. */
static inline void emit_str(emitter *e, const char *s) {
    if (s) e->ops->string(e, s, strlen(s));
    else e->ops->null(e);
}
/* An optional integer: AS_NONE is null. */
static inline void emit_opt(emitter *e, int64_t v) {
    if (v == AS_NONE) e->ops->null(e);
    else e->ops->integer(e, v);
}

/* Members: key and value in one call. */
static inline void emit_kstr(emitter *e, const char *k, const char *s) { emit_key(e, k), emit_str(e, s); }
static inline void emit_kint(emitter *e, const char *k, int64_t v) { emit_key(e, k), emit_int(e, v); }
static inline void emit_kopt(emitter *e, const char *k, int64_t v) { emit_key(e, k), emit_opt(e, v); }
static inline void emit_kbool(emitter *e, const char *k, int v) { emit_key(e, k), emit_bool(e, v); }
static inline void emit_knull(emitter *e, const char *k) { emit_key(e, k), emit_null(e); }

#endif
