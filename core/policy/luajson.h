/* policy/luajson: the one place JSON and Lua values are converted.
 *
 * JSON -> Lua: object -> table with string keys (null members omitted),
 * array -> sequence 1..n, integer -> Lua integer, real -> float, true/false,
 * null -> nil.
 * Lua -> JSON: a table whose keys are exactly 1..n (n > 0) -> array; an empty
 * table -> {}; any other table -> object (integer keys become their decimal
 * text; other non-string keys are an error); integers and integral floats
 * that fit in int64 -> integer (money is integral); other finite floats ->
 * real (NaN and infinities are an error); strings must be valid UTF-8;
 * functions, userdata and threads are errors. A read-only module view
 * (policy/view.h) converts as the table it shows. Tables are read raw: no
 * metamethod runs.
 *
 * Limits, both ways, so a conversion is bounded whatever the value: nesting
 * deeper than LUAJSON_MAX_DEPTH, a table containing itself, more than
 * LUAJSON_MAX_VALUES values (a table used twice counts twice: a result built
 * as t = {t, t} twenty times over is 2^21 values) or more than
 * LUAJSON_MAX_BYTES of strings (keys included) are errors. */
#ifndef AS_POLICY_LUAJSON_H
#define AS_POLICY_LUAJSON_H

#include <jansson.h>
#include <lua.h>
#include <stddef.h>

#define LUAJSON_MAX_DEPTH 64
#define LUAJSON_MAX_VALUES 20000
#define LUAJSON_MAX_BYTES ((size_t)2 << 20)

/* What a conversion went through: values (tables, strings, numbers ...) and
 * bytes of strings, for the caller to charge. */
typedef struct {
    size_t values;
    size_t bytes;
} luajson_work;

/* Pushes v (NULL or JSON null: nil). Raises a Lua error on a memory error or
 * past the limits, so call it in protected mode. */
void luajson_push(lua_State *L, const json_t *v);

/* Converts the value at idx to a new JSON reference, or returns NULL with a
 * message in err. Never raises a Lua error. nil gives JSON null. */
json_t *luajson_to_json(lua_State *L, int idx, char *err, size_t errlen);
/* The same, and fills *work (also when it fails). */
json_t *luajson_to_json_work(lua_State *L, int idx, luajson_work *work, char *err,
                             size_t errlen);

#endif
