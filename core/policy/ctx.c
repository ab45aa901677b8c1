/* policy/ctx: the `ctx` table every policy call receives.
 *
 * One ctx per set, built at load: a read-only proxy over a fields table whose
 * functions are C closures reading the set (calendar) and the policy_ctx of
 * the call running (ps->cur). A call only updates now and merchant_id, so no
 * table is built per request. The fields table never reaches a policy (not
 * even through pairs); ctx.log and ctx.customer are bounded per call (the
 * limits are in policy_impl.h). */
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "policy/luajson.h"
#include "policy/policy_impl.h"

static policy_set *self(lua_State *L) {
    return lua_touserdata(L, lua_upvalueindex(1));
}

static int64_t ctx_now(lua_State *L, policy_set *ps) {
    (void)L;
    return ps->cur ? ps->cur->now : (int64_t)time(NULL);
}

/* ctx.days_since(ts): (now - ts) / 86400 as a float. */
static int l_days_since(lua_State *L) {
    lua_Number ts = luaL_checknumber(L, 1);
    lua_pushnumber(L, ((lua_Number)ctx_now(L, self(L)) - ts) / 86400.0);
    return 1;
}

/* The calendar of the merchant whose policy runs (policy_call resolves it
 * before the run), so business time in a policy agrees with the SLA due
 * times the core computes for that merchant. */
static const calendar *ctx_calendar(lua_State *L, policy_set *ps) {
    const calendar *cal = ps->cur_cal != NULL ? ps->cur_cal : ps->cal;
    if (cal == NULL) luaL_error(L, "the business calendar is not ready while sla.calendar is built");
    return cal;
}

static int l_business_seconds(lua_State *L) {
    int64_t from = (int64_t)luaL_checkinteger(L, 1), to = (int64_t)luaL_checkinteger(L, 2);
    lua_pushinteger(L, (lua_Integer)calendar_business_seconds(ctx_calendar(L, self(L)), from, to));
    return 1;
}

static int l_add_business_seconds(lua_State *L) {
    int64_t ts = (int64_t)luaL_checkinteger(L, 1), s = (int64_t)luaL_checkinteger(L, 2);
    lua_pushinteger(L, (lua_Integer)calendar_add_business_seconds(ctx_calendar(L, self(L)), ts, s));
    return 1;
}

/* The memoised record of buyer in this call, or NULL with *found 0. */
static json_t *customer_memo(policy_set *ps, const char *buyer, int *found) {
    for (int i = 0; i < ps->ncustomers; i++)
        if (strcmp(ps->customers[i].buyer, buyer) == 0) {
            *found = 1;
            return ps->customers[i].record;
        }
    *found = 0;
    return NULL;
}

static void customer_remember(policy_set *ps, const char *buyer, json_t *record) {
    if (ps->ncustomers == POLICY_CUSTOMER_MEMO) return;
    char *copy = strdup(buyer);
    if (copy == NULL) return;
    ps->customers[ps->ncustomers].buyer = copy;
    ps->customers[ps->ncustomers].record = json_incref(record);
    ps->ncustomers++;
}

static void customers_forget(policy_set *ps) {
    for (int i = 0; i < ps->ncustomers; i++) {
        free(ps->customers[i].buyer);
        json_decref(ps->customers[i].record);
    }
    ps->ncustomers = 0;
}

/* ctx.customer(buyer_id): the server's record as a table, or nil (also for a
 * nil buyer_id, so policies need not guard order-less cases). A lookup is a
 * store read the meter cannot see: each one is charged
 * POLICY_CUSTOMER_UNITS, and the first POLICY_CUSTOMER_MEMO buyers' records
 * are kept for the call, so asking again (the floor asks the default, which
 * asks too) is free and gives the same record. The table is new each time.
 * A record being converted is parked in ps->tmp_json, so a memory error in
 * the middle does not leak it. */
static int l_customer(lua_State *L) {
    policy_set *ps = self(L);
    if (lua_isnoneornil(L, 1)) return 0; /* a case with no buyer has no record */
    const char *id = luaL_checkstring(L, 1);
    const policy_ctx *c = ps->cur;
    if (c == NULL || c->customer == NULL) return 0;
    int found;
    json_t *rec = customer_memo(ps, id, &found);
    json_decref(ps->tmp_json);
    if (found) {
        ps->tmp_json = json_incref(rec);
    } else {
        sandbox_charge(L, POLICY_CUSTOMER_UNITS, "ctx.customer");
        ps->tmp_json = c->customer(c->ud, id);
        customer_remember(ps, id, ps->tmp_json);
    }
    if (ps->tmp_json == NULL) return 0;
    luajson_push(L, ps->tmp_json);
    json_decref(ps->tmp_json);
    ps->tmp_json = NULL;
    return 1;
}

/* The length of the longest prefix of s (at most max bytes) that does not
 * split a UTF-8 sequence. */
static size_t utf8_cut(const char *s, size_t len, size_t max) {
    if (len <= max) return len;
    size_t n = max;
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80) n--;
    return n;
}

long ctx_log_clip(ctx_log *st, const char *msg, size_t len, char *out) {
    if (st->lines >= POLICY_LOG_MAX || st->bytes >= POLICY_LOG_TOTAL_MAX) {
        st->dropped_lines++;
        st->dropped_bytes += len;
        return -1;
    }
    size_t room = POLICY_LOG_TOTAL_MAX - st->bytes;
    size_t max = room < POLICY_LOG_LINE_MAX ? room : POLICY_LOG_LINE_MAX;
    size_t n = utf8_cut(msg, len, max);
    memcpy(out, msg, n);
    int m = 0;
    if (n < len) m = snprintf(out + n, CTX_LOG_OUT_MAX - n, " [ctx.log: cut, %zu of %zu bytes kept]", n, len);
    out[n + (size_t)m] = '\0';
    st->lines++;
    st->bytes += n;
    return (long)(n + (size_t)m);
}

void ctx_log_summary(const ctx_log *st, char *out, size_t outlen) {
    snprintf(out, outlen,
             "[ctx.log: %zu more lines (%zu bytes) dropped; a call keeps at most %d lines and %d bytes]",
             st->dropped_lines, st->dropped_bytes, POLICY_LOG_MAX, POLICY_LOG_TOTAL_MAX);
}

/* Appends line (or its replacement when not UTF-8) to the array log. */
static void log_append(json_t *log, const char *line, size_t len, long at) {
    json_t *v = json_stringn(line, len);
    if (v == NULL) v = json_string("(log line is not valid UTF-8)");
    if (v == NULL) return;
    if (at >= 0) json_array_set_new(log, (size_t)at, v);
    else json_array_append_new(log, v);
}

/* ctx.log(msg): one line for the case's timeline. A line is cut at
 * POLICY_LOG_LINE_MAX bytes and a call keeps POLICY_LOG_MAX lines and
 * POLICY_LOG_TOTAL_MAX bytes; what is dropped is counted on one last line. */
static int l_log(lua_State *L) {
    policy_set *ps = self(L);
    size_t len;
    const char *s = luaL_tolstring(L, 1, &len);
    const policy_ctx *c = ps->cur;
    if (c == NULL || c->log == NULL) return 0;
    char line[CTX_LOG_OUT_MAX];
    long n = ctx_log_clip(&ps->log, s, len, line);
    sandbox_charge(L, 1 + (n > 0 ? (uint64_t)n / ALLOC_BYTES_PER_UNIT : 0), "ctx.log");
    if (n >= 0) {
        log_append(c->log, line, (size_t)n, -1);
        return 0;
    }
    ctx_log_summary(&ps->log, line, sizeof line);
    if (ps->log.summary < 0) ps->log.summary = (long)json_array_size(c->log);
    log_append(c->log, line, strlen(line), ps->log.summary < (long)json_array_size(c->log) ? ps->log.summary : -1);
    return 0;
}

static int ctx_newindex(lua_State *L) {
    return luaL_error(L, "ctx is read-only (field '%s')",
                      lua_type(L, 2) == LUA_TSTRING ? lua_tostring(L, 2) : "?");
}

/* The iterator of pairs(ctx): next over the fields behind the proxy. The
 * fields table is its upvalue, never a value a policy gets: handing it out
 * as the loop's state (next, fields, nil) would let a policy write it, and
 * ctx is shared by every call of the set. */
static int fields_next(lua_State *L) {
    lua_settop(L, 2);
    lua_rawgeti(L, LUA_REGISTRYINDEX, self(L)->ctx_fields_ref);
    lua_pushvalue(L, 2);
    if (lua_next(L, 3)) return 2;
    return 0;
}

static int ctx_pairs(lua_State *L) {
    lua_pushlightuserdata(L, self(L));
    lua_pushcclosure(L, fields_next, 1);
    lua_pushvalue(L, 1);
    lua_pushnil(L);
    return 3;
}

void ctx_create(lua_State *L, policy_set *ps) {
    static const luaL_Reg fns[] = {
        {"days_since", l_days_since},
        {"business_seconds", l_business_seconds},
        {"add_business_seconds", l_add_business_seconds},
        {"customer", l_customer},
        {"log", l_log},
        {NULL, NULL}};
    luaL_checkstack(L, 6, "building ctx");
    lua_createtable(L, 0, 8);
    lua_pushlightuserdata(L, ps);
    luaL_setfuncs(L, fns, 1);
    lua_pushvalue(L, -1);
    ps->ctx_fields_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_newtable(L); /* the proxy */
    lua_createtable(L, 0, 4);
    lua_pushvalue(L, -3);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, ctx_newindex);
    lua_setfield(L, -2, "__newindex");
    lua_pushlightuserdata(L, ps);
    lua_pushcclosure(L, ctx_pairs, 1);
    lua_setfield(L, -2, "__pairs");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_setmetatable(L, -2);
    ps->ctx_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_pop(L, 1);
}

static void log_reset(ctx_log *st) {
    memset(st, 0, sizeof *st);
    st->summary = -1;
}

void ctx_begin(lua_State *L, policy_set *ps, const policy_ctx *c, const char *merchant_id) {
    ps->cur = c;
    log_reset(&ps->log);
    customers_forget(ps);
    const char *m = c && c->merchant_id ? c->merchant_id : merchant_id;
    luaL_checkstack(L, 3, "ctx");
    lua_rawgeti(L, LUA_REGISTRYINDEX, ps->ctx_fields_ref);
    lua_pushinteger(L, (lua_Integer)ctx_now(L, ps));
    lua_setfield(L, -2, "now");
    if (m) lua_pushstring(L, m);
    else lua_pushnil(L);
    lua_setfield(L, -2, "merchant_id");
    lua_pop(L, 1);
}

void ctx_end(policy_set *ps) {
    ps->cur = NULL;
    ps->cur_cal = NULL;
    log_reset(&ps->log);
    customers_forget(ps);
}
