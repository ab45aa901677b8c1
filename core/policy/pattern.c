/* policy/pattern: string.find, match, gmatch and gsub for policies, with
 * Lua 5.4's pattern language (reference manual 6.4.1) and a meter.
 *
 * The stock matcher backtracks in C, where the instruction budget cannot see
 * it: string.rep("a", 31000):find("a-b") is 2.5 s in one call, and a bound
 * computed from the pattern before it runs refuses ordinary patterns on long
 * texts while still letting seconds through. This matcher is the same
 * backtracking algorithm with its work counted: every step (an item tried at
 * a position, a character of a repetition, a stretch of a set, a
 * back-reference or %b scanned) is a unit charged to the run's budget, so
 * all the pattern calls of a policy call share that call's one budget with
 * its instructions, and a pathological pattern fails with "instruction
 * budget exceeded in string.find" instead of holding the loop thread. Plain
 * finds use memmem (linear) and are charged by the bytes searched.
 *
 * Results, captures and error messages are those of the stock functions
 * (tests/unit/test_policy_pattern.c compares the two on generated cases). */
#include <ctype.h>
#include <lauxlib.h>
#include <stddef.h>
#include <string.h>

#include "policy/safelib.h"
#include "policy/sandbox.h"

#define MAX_CAPTURES 32 /* LUA_MAXCAPTURES */
#define MAX_DEPTH 200   /* recursion of the matcher ("pattern too complex") */
#define CAP_OPEN (-1)
#define CAP_POSITION (-2)
/* Steps are charged to the budget in batches of this many. */
#define CHARGE_EVERY 4096
/* Bytes that scanning (memcmp, memmem, a set's characters) counts as one step. */
#define BYTES_PER_STEP 16
/* Steps a %1 in a gsub replacement counts: a capture pushed, made a string
 * and copied. */
#define CAPTURE_STEPS 16

typedef struct {
    lua_State *L;
    const char *src, *src_end; /* the subject */
    const char *pat_end;
    const char *what;          /* "string.find" ...: names the work in a budget error */
    int depth;                 /* recursion left */
    int level;                 /* captures opened */
    struct {
        const char *at;
        ptrdiff_t len;         /* CAP_OPEN, CAP_POSITION or the length */
    } cap[MAX_CAPTURES];
    uint64_t steps;            /* not charged yet */
} matcher;

static void steps(matcher *m, uint64_t n) {
    m->steps += n;
    if (m->steps >= CHARGE_EVERY) {
        uint64_t s = m->steps;
        m->steps = 0;
        sandbox_charge(m->L, s, m->what);
    }
}

static void charge_rest(matcher *m) {
    uint64_t s = m->steps;
    m->steps = 0;
    if (s) sandbox_charge(m->L, s, m->what);
}

static void matcher_init(matcher *m, lua_State *L, const char *s, size_t ls, const char *p,
                         size_t lp, const char *what) {
    m->L = L;
    m->src = s;
    m->src_end = s + ls;
    m->pat_end = p + lp;
    m->what = what;
    m->steps = 0;
}

static void matcher_reset(matcher *m) {
    m->depth = MAX_DEPTH;
    m->level = 0;
}

/* %a, %d ... (an upper-case letter is the complement); any other character
 * stands for itself. */
static int class_has(int c, int cl) {
    int in;
    switch (tolower(cl)) {
    case 'a': in = isalpha(c); break;
    case 'c': in = iscntrl(c); break;
    case 'd': in = isdigit(c); break;
    case 'g': in = isgraph(c); break;
    case 'l': in = islower(c); break;
    case 'p': in = ispunct(c); break;
    case 's': in = isspace(c); break;
    case 'u': in = isupper(c); break;
    case 'w': in = isalnum(c); break;
    case 'x': in = isxdigit(c); break;
    case 'z': in = c == 0; break; /* deprecated, still in Lua 5.4 */
    default: return cl == c;
    }
    return isupper(cl) ? !in : in != 0;
}

/* Whether c is in the set [..] that starts at p and closes at close. */
static int set_has(matcher *m, int c, const char *p, const char *close) {
    int found = 1;
    p++;
    if (*p == '^') {
        found = 0;
        p++;
    }
    steps(m, (uint64_t)(close - p) / BYTES_PER_STEP);
    for (; p < close; p++) {
        if (*p == '%') {
            p++;
            if (class_has(c, (unsigned char)*p)) return found;
        } else if (p[1] == '-' && p + 2 < close) {
            if ((unsigned char)p[0] <= c && c <= (unsigned char)p[2]) return found;
            p += 2;
        } else if ((unsigned char)*p == c) {
            return found;
        }
    }
    return !found;
}

/* The end of the single-character item at p (a character, '.', %x or a
 * set); a quantifier may follow it. The pattern text is a Lua string, so
 * reading its terminating NUL is safe, as the stock matcher does. */
static const char *item_end(matcher *m, const char *p) {
    if (*p == '%') {
        if (p + 1 >= m->pat_end) luaL_error(m->L, "malformed pattern (ends with '%%')");
        return p + 2;
    }
    if (*p != '[') return p + 1;
    const char *q = p + 1;
    if (*q == '^') q++;
    for (;;) { /* the first character, even ']', belongs to the set */
        if (q >= m->pat_end) luaL_error(m->L, "malformed pattern (missing ']')");
        if (*q++ == '%' && q < m->pat_end) q++;
        if (q < m->pat_end && *q == ']') break;
    }
    steps(m, (uint64_t)(q - p) / BYTES_PER_STEP);
    return q + 1;
}

/* Whether the item [p, ep) matches the subject character at s. */
static int item_matches(matcher *m, const char *s, const char *p, const char *ep) {
    steps(m, 1);
    if (s >= m->src_end) return 0;
    int c = (unsigned char)*s;
    switch (*p) {
    case '.': return 1;
    case '%': return class_has(c, (unsigned char)p[1]);
    case '[': return set_has(m, c, p, ep - 1);
    default: return (unsigned char)*p == c;
    }
}

static const char *match_here(matcher *m, const char *s, const char *p);

/* %bxy at s: the end of a balanced x..y run, or NULL. */
static const char *balanced(matcher *m, const char *s, const char *p) {
    if (p + 1 >= m->pat_end) luaL_error(m->L, "malformed pattern (missing arguments to '%%b')");
    if (s >= m->src_end || *s != p[0]) return NULL;
    const char *start = s;
    int open = 1;
    while (++s < m->src_end) {
        if (*s == p[1]) {
            if (--open == 0) {
                steps(m, (uint64_t)(s - start) / BYTES_PER_STEP + 1);
                return s + 1;
            }
        } else if (*s == p[0]) {
            open++;
        }
    }
    steps(m, (uint64_t)(s - start) / BYTES_PER_STEP + 1);
    return NULL;
}

/* %1..%9 at s: the end of a copy of that capture, or NULL. */
static const char *back_reference(matcher *m, const char *s, int digit) {
    int l = digit - '1';
    if (l < 0 || l >= m->level || m->cap[l].len == CAP_OPEN)
        luaL_error(m->L, "invalid capture index %%%d", l + 1);
    if (m->cap[l].len == CAP_POSITION) return NULL; /* never matches, as in Lua */
    size_t len = (size_t)m->cap[l].len;
    steps(m, len / BYTES_PER_STEP + 1);
    if ((size_t)(m->src_end - s) >= len && memcmp(m->cap[l].at, s, len) == 0) return s + len;
    return NULL;
}

static const char *open_capture(matcher *m, const char *s, const char *p, ptrdiff_t what) {
    if (m->level >= MAX_CAPTURES) luaL_error(m->L, "too many captures");
    m->cap[m->level].at = s;
    m->cap[m->level].len = what;
    m->level++;
    const char *r = match_here(m, s, p);
    if (r == NULL) m->level--;
    return r;
}

static const char *close_capture(matcher *m, const char *s, const char *p) {
    int l = m->level - 1;
    while (l >= 0 && m->cap[l].len != CAP_OPEN) l--;
    if (l < 0) luaL_error(m->L, "invalid pattern capture");
    m->cap[l].len = s - m->cap[l].at;
    const char *r = match_here(m, s, p);
    if (r == NULL) m->cap[l].len = CAP_OPEN;
    return r;
}

/* item* or item+ (after its first match): as many as possible, then back off. */
static const char *repeat_greedy(matcher *m, const char *s, const char *p, const char *ep) {
    ptrdiff_t n = 0;
    while (item_matches(m, s + n, p, ep)) n++;
    for (; n >= 0; n--) {
        const char *r = match_here(m, s + n, ep + 1);
        if (r != NULL) return r;
    }
    return NULL;
}

/* item-: as few as possible, one more at a time. */
static const char *repeat_lazy(matcher *m, const char *s, const char *p, const char *ep) {
    for (;;) {
        const char *r = match_here(m, s, ep + 1);
        if (r != NULL) return r;
        if (!item_matches(m, s, p, ep)) return NULL;
        s++;
    }
}

/* %f[set] at s: the frontier where the previous character is not in the
 * set and this one is. ep is the end of the set. */
static int frontier(matcher *m, const char *s, const char *p, const char *ep) {
    int prev = s == m->src ? '\0' : (unsigned char)s[-1];
    int here = s < m->src_end ? (unsigned char)*s : '\0';
    return !set_has(m, prev, p, ep - 1) && set_has(m, here, p, ep - 1);
}

/* %bxy, %f[set] and back-references %1..%9 at *p: returns 1 when *p is
 * one, with *s and *p moved past it (*s NULL when it does not match at *s);
 * 0 for any other item. */
static int special_item(matcher *m, const char **s, const char **p) {
    const char *q = *p;
    if (*q != '%' || q + 1 == m->pat_end) return 0;
    if (q[1] == 'b') {
        *s = balanced(m, *s, q + 2);
        *p = q + 4;
        return 1;
    }
    if (q[1] == 'f') {
        q += 2;
        if (*q != '[') luaL_error(m->L, "missing '[' after '%%f' in pattern");
        const char *ep = item_end(m, q);
        if (!frontier(m, *s, q, ep)) *s = NULL;
        *p = ep;
        return 1;
    }
    if (isdigit((unsigned char)q[1])) {
        *s = back_reference(m, *s, (unsigned char)q[1]);
        *p = q + 2;
        return 1;
    }
    return 0;
}

/* The end of a match of pattern p at s, or NULL. Tail positions loop
 * instead of recursing; the recursion that remains (captures, repetitions,
 * '?') is at most MAX_DEPTH deep. */
static const char *match_here(matcher *m, const char *s, const char *p) {
    if (m->depth-- == 0) luaL_error(m->L, "pattern too complex");
    while (s != NULL && p != m->pat_end) {
        steps(m, 1);
        int at_last = p + 1 == m->pat_end;
        if (*p == '(') {
            s = !at_last && p[1] == ')' ? open_capture(m, s, p + 2, CAP_POSITION)
                                        : open_capture(m, s, p + 1, CAP_OPEN);
            break;
        }
        if (*p == ')') {
            s = close_capture(m, s, p + 1);
            break;
        }
        if (*p == '$' && at_last) {
            if (s != m->src_end) s = NULL;
            break;
        }
        if (special_item(m, &s, &p)) continue;
        /* a single-character item, then maybe a quantifier */
        const char *ep = item_end(m, p);
        int quantifier = ep < m->pat_end ? *ep : '\0';
        if (!item_matches(m, s, p, ep)) {
            if (quantifier == '*' || quantifier == '?' || quantifier == '-') {
                p = ep + 1; /* zero repetitions */
                continue;
            }
            s = NULL;
            break;
        }
        if (quantifier == '?') {
            const char *r = match_here(m, s + 1, ep + 1);
            if (r != NULL) {
                s = r;
                break;
            }
            p = ep + 1;
            continue;
        }
        if (quantifier == '+' || quantifier == '*' || quantifier == '-') {
            s = quantifier == '-' ? repeat_lazy(m, s, p, ep)
                                  : repeat_greedy(m, quantifier == '+' ? s + 1 : s, p, ep);
            break;
        }
        s++;
        p = ep;
    }
    m->depth++;
    return s;
}

/* Pushes capture i (the whole match s..e when there are none and i is 0). */
static void push_capture(matcher *m, int i, const char *s, const char *e) {
    if (i >= m->level) {
        if (i != 0) luaL_error(m->L, "invalid capture index %%%d", i + 1);
        lua_pushlstring(m->L, s, (size_t)(e - s));
        return;
    }
    ptrdiff_t len = m->cap[i].len;
    if (len == CAP_OPEN) luaL_error(m->L, "unfinished capture");
    if (len == CAP_POSITION) lua_pushinteger(m->L, (lua_Integer)(m->cap[i].at - m->src) + 1);
    else lua_pushlstring(m->L, m->cap[i].at, (size_t)len);
}

/* Pushes every capture (or the whole match when s is given and there are
 * none) and returns how many. */
static int push_captures(matcher *m, const char *s, const char *e) {
    int n = m->level == 0 && s != NULL ? 1 : m->level;
    luaL_checkstack(m->L, n, "too many captures");
    for (int i = 0; i < n; i++) push_capture(m, i, s, e);
    return n;
}

/* A 1-based start position (negative counts from the end) as an offset:
 * 0 .. len, or len + 1 and more past the end. */
static size_t start_offset(lua_Integer pos, size_t len) {
    if (pos > 0) return (size_t)pos - 1;
    if (pos == 0 || pos < -(lua_Integer)len) return 0;
    return (size_t)((lua_Integer)len + pos);
}

static int has_specials(const char *p, size_t lp) {
    for (size_t i = 0; i < lp; i++)
        if (strchr("^$*+?.([%-", p[i]) != NULL && p[i] != '\0') return 1;
    return 0;
}

static int find_aux(lua_State *L, int find) {
    size_t ls, lp;
    const char *s = luaL_checklstring(L, 1, &ls);
    const char *p = luaL_checklstring(L, 2, &lp);
    size_t init = start_offset(luaL_optinteger(L, 3, 1), ls);
    const char *what = find ? "string.find" : "string.match";
    if (init > ls) {
        luaL_pushfail(L);
        return 1;
    }
    if (find && (lua_toboolean(L, 4) || !has_specials(p, lp))) {
        sandbox_charge(L, (ls - init + lp) / BYTES_PER_STEP + 1, what);
        const char *hit = memmem(s + init, ls - init, p, lp);
        if (hit != NULL) {
            lua_pushinteger(L, (lua_Integer)(hit - s) + 1);
            lua_pushinteger(L, (lua_Integer)(hit - s) + (lua_Integer)lp);
            return 2;
        }
        luaL_pushfail(L);
        return 1;
    }
    int anchor = lp > 0 && *p == '^';
    if (anchor) {
        p++;
        lp--;
    }
    matcher m;
    matcher_init(&m, L, s, ls, p, lp, what);
    const char *s1 = s + init;
    do {
        matcher_reset(&m);
        const char *e = match_here(&m, s1, p);
        if (e != NULL) {
            charge_rest(&m);
            if (!find) return push_captures(&m, s1, e);
            lua_pushinteger(L, (lua_Integer)(s1 - s) + 1);
            lua_pushinteger(L, (lua_Integer)(e - s));
            return push_captures(&m, NULL, NULL) + 2;
        }
    } while (s1++ < m.src_end && !anchor);
    charge_rest(&m);
    luaL_pushfail(L);
    return 1;
}

static int sb_find(lua_State *L) {
    return find_aux(L, 1);
}

static int sb_match(lua_State *L) {
    return find_aux(L, 0);
}

/* gmatch's iterator state (a userdata, upvalue 3; the subject and pattern
 * strings are upvalues 1 and 2, which keeps the pointers valid). */
typedef struct {
    const char *src;       /* where the next search starts */
    const char *p;
    const char *lastmatch; /* the end of the last match: no empty match there */
    matcher m;
} gmatch_state;

static int gmatch_next(lua_State *L) {
    gmatch_state *g = lua_touserdata(L, lua_upvalueindex(3));
    g->m.L = L;
    for (const char *src = g->src; src <= g->m.src_end; src++) {
        matcher_reset(&g->m);
        const char *e = match_here(&g->m, src, g->p);
        if (e != NULL && e != g->lastmatch) {
            g->src = g->lastmatch = e;
            charge_rest(&g->m);
            return push_captures(&g->m, src, e);
        }
    }
    g->src = g->m.src_end + 1;
    charge_rest(&g->m);
    return 0;
}

/* In gmatch a leading '^' is an ordinary character, as in Lua 5.4. */
static int sb_gmatch(lua_State *L) {
    size_t ls, lp;
    const char *s = luaL_checklstring(L, 1, &ls);
    const char *p = luaL_checklstring(L, 2, &lp);
    size_t init = start_offset(luaL_optinteger(L, 3, 1), ls);
    lua_settop(L, 2);
    gmatch_state *g = lua_newuserdatauv(L, sizeof *g, 0);
    if (init > ls) init = ls + 1;
    matcher_init(&g->m, L, s, ls, p, lp, "string.gmatch");
    g->src = s + init;
    g->p = p;
    g->lastmatch = NULL;
    lua_pushcclosure(L, gmatch_next, 3);
    return 1;
}

/* Appends the replacement string (argument 3) for the match s..e: %0 the
 * match, %1..%9 captures, %% a '%'. */
static void add_string(matcher *m, luaL_Buffer *b, const char *s, const char *e) {
    lua_State *L = m->L;
    size_t l;
    const char *r = lua_tolstring(L, 3, &l);
    steps(m, l / BYTES_PER_STEP + 1);
    const char *pc;
    while ((pc = memchr(r, '%', l)) != NULL) {
        luaL_addlstring(b, r, (size_t)(pc - r));
        pc++;
        if (*pc == '%') {
            luaL_addchar(b, '%');
        } else if (*pc == '0') {
            luaL_addlstring(b, s, (size_t)(e - s));
        } else if (isdigit((unsigned char)*pc)) {
            steps(m, CAPTURE_STEPS);
            push_capture(m, *pc - '1', s, e);
            luaL_tolstring(L, -1, NULL);
            lua_remove(L, -2);
            luaL_addvalue(b);
        } else {
            luaL_error(L, "invalid use of '%c' in replacement string", '%');
        }
        l -= (size_t)(pc + 1 - r);
        r = pc + 1;
    }
    luaL_addlstring(b, r, l);
}

/* Appends the replacement for the match s..e; 1 if it changed the text. */
static int add_value(matcher *m, luaL_Buffer *b, const char *s, const char *e, int type) {
    lua_State *L = m->L;
    if (type == LUA_TFUNCTION) {
        lua_pushvalue(L, 3);
        int n = push_captures(m, s, e);
        lua_call(L, n, 1);
    } else if (type == LUA_TTABLE) {
        push_capture(m, 0, s, e);
        lua_gettable(L, 3);
    } else {
        add_string(m, b, s, e);
        return 1;
    }
    if (!lua_toboolean(L, -1)) { /* nil or false: keep the match */
        lua_pop(L, 1);
        luaL_addlstring(b, s, (size_t)(e - s));
        return 0;
    }
    if (!lua_isstring(L, -1))
        return luaL_error(L, "invalid replacement value (a %s)", luaL_typename(L, -1));
    luaL_addvalue(b);
    return 1;
}

static int sb_gsub(lua_State *L) {
    size_t ls, lp;
    const char *src = luaL_checklstring(L, 1, &ls);
    const char *p = luaL_checklstring(L, 2, &lp);
    const char *lastmatch = NULL;
    int type = lua_type(L, 3);
    lua_Integer max = luaL_optinteger(L, 4, (lua_Integer)ls + 1);
    int anchor = lp > 0 && *p == '^';
    lua_Integer n = 0;
    int changed = 0;
    luaL_argexpected(L, type == LUA_TNUMBER || type == LUA_TSTRING || type == LUA_TFUNCTION ||
                            type == LUA_TTABLE,
                     3, "string/function/table");
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    if (anchor) {
        p++;
        lp--;
    }
    matcher m;
    matcher_init(&m, L, src, ls, p, lp, "string.gsub");
    while (n < max) {
        matcher_reset(&m);
        const char *e = match_here(&m, src, p);
        if (e != NULL && e != lastmatch) {
            n++;
            changed = add_value(&m, &b, src, e, type) | changed;
            src = lastmatch = e;
        } else if (src < m.src_end) {
            luaL_addchar(&b, *src++);
        } else {
            break;
        }
        if (anchor) break;
    }
    charge_rest(&m);
    if (!changed) {
        lua_pushvalue(L, 1);
    } else {
        luaL_addlstring(&b, src, (size_t)(m.src_end - src));
        luaL_pushresult(&b);
    }
    lua_pushinteger(L, n);
    return 2;
}

void safelib_patterns(lua_State *L, int lib) {
    static const luaL_Reg fns[] = {{"find", sb_find},
                                   {"match", sb_match},
                                   {"gmatch", sb_gmatch},
                                   {"gsub", sb_gsub},
                                   {NULL, NULL}};
    for (const luaL_Reg *f = fns; f->name; f++) {
        lua_pushcfunction(L, f->func);
        lua_setfield(L, lib, f->name);
    }
}
