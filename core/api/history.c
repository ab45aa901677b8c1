/* api/history: the kept policy versions in the store, and which one is active.
 *
 * Every set the server loaded (reload, shadow, upload, start) is kept with
 * its files, content-addressed, in DB_META under keys of its own
 * (key_str(space) then key_str(id), so none can meet the plain-string keys
 * DB_META already holds):
 *   "policy.file"       | sha256     the file's text, stored once whatever
 *                                    versions hold it
 *   "policy.version"    | version    {version, loaded_at, loaded_by, activated_at,
 *                                    activation (n of its latest), files:[{name, sha256}],
 *                                    tests:{passed, failed}|null}
 *   "policy.active"                  {version, previous, activated_at, how, by}
 *   "policy.dir"                     {version}: the policies directory as last read
 *   "policy.activation" | n (be64)   {n, at, version, previous, how, by, tests}
 * A version's files are its modules and its tests; the version (the hash of
 * the modules, policy.h) does not cover the tests, so a version loaded again
 * with other tests keeps the newest tests it was loaded with.
 *
 * Writes go into the caller's batch; the in-memory state (s->history) only
 * follows once that batch is durable (history_applied). */
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "util/digest.h"
#include "util/log.h"

#define SPACE_FILE "policy.file"
#define SPACE_VERSION "policy.version"
#define SPACE_ACTIVATION "policy.activation"
#define KEY_ACTIVE "policy.active"
#define KEY_DIR "policy.dir"

static void key_of(store_key *k, const char *space, const char *id) {
    key_init(k);
    key_str(k, space);
    if (id) key_str(k, id);
}

/* A stored JSON value, or NULL. */
static json_t *get_json(server *s, const store_key *k) {
    char *val = NULL;
    size_t len = 0;
    if (store_get_latest(s->db, DB_META, k->buf, k->len, &val, &len) != 0) return NULL;
    json_t *v = json_loadb(val, len, 0, NULL);
    free(val);
    return v;
}

static void put_json(store_batch *b, const store_key *k, const json_t *v) {
    char *text = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (text == NULL) {
        store_batch_fail(b, STORE_ENOMEM);
        return;
    }
    store_batch_put(b, DB_META, k->buf, k->len, text, strlen(text));
    free(text);
}

int history_version_ok(const char *v) {
    if (v == NULL || strlen(v) != 64) return 0;
    for (const char *p = v; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'))) return 0;
    return 1;
}

json_t *history_who(const principal *who) {
    if (who == NULL) return json_pack("{s:s}", "role", "system");
    char fp[SHA256_HEX_LEN + 1] = "";
    sha256_hex(who->token, strlen(who->token), fp);
    fp[12] = '\0'; /* enough to tell tokens apart in a log, useless to call with */
    return json_pack("{s:s,s:s?,s:s?,s:s}", "role", role_name(who->role), "agent", who->agent, "merchant",
                     who->merchant, "token_sha256", fp);
}

json_t *history_record(server *s, const char *version) {
    store_key k;
    key_of(&k, SPACE_VERSION, version);
    return get_json(s, &k);
}

static int by_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* [{name, sha256}] of files, sorted by name (the text hashed here). */
static json_t *listing(const json_t *files) {
    size_t n = json_object_size(files), i = 0;
    const char **names = calloc(n ? n : 1, sizeof *names);
    json_t *out = json_array();
    const char *name;
    json_t *text;
    if (names == NULL || out == NULL) goto fail;
    json_object_foreach((json_t *)files, name, text) names[i++] = name;
    qsort(names, n, sizeof *names, by_str);
    for (i = 0; i < n; i++) {
        json_t *t = json_object_get(files, names[i]);
        char sha[SHA256_HEX_LEN + 1];
        if (sha256_hex(json_string_value(t), json_string_length(t), sha) != 0 ||
            json_array_append_new(out, json_pack("{s:s,s:s}", "name", names[i], "sha256", sha)) != 0)
            goto fail;
    }
    free(names);
    return out;
fail:
    free(names);
    json_decref(out);
    return NULL;
}

int history_keep(server *s, store_batch *b, const char *version, const json_t *files, const json_t *tests,
                 const json_t *by, int64_t now) {
    json_t *list = listing(files);
    if (list == NULL) return -1;
    size_t i;
    json_t *f;
    json_array_foreach(list, i, f) {
        const char *sha = json_string_value(json_object_get(f, "sha256"));
        store_key k;
        key_of(&k, SPACE_FILE, sha);
        char *val = NULL;
        size_t len;
        if (store_batch_get_latest(b, DB_META, k.buf, k.len, &val, &len) == 0) { /* stored once */
            free(val);
            continue;
        }
        const json_t *t = json_object_get(files, json_string_value(json_object_get(f, "name")));
        store_batch_put(b, DB_META, k.buf, k.len, json_string_value(t), json_string_length(t));
    }
    json_t *rec = history_record(s, version);
    if (rec == NULL)
        rec = json_pack("{s:s,s:I,s:O,s:n}", "version", version, "loaded_at", (json_int_t)now, "loaded_by", by,
                        "activated_at");
    if (rec == NULL) {
        json_decref(list);
        return -1;
    }
    json_object_set_new(rec, "files", list);
    json_object_set_new(rec, "tests", tests ? json_deep_copy(tests) : json_null());
    store_key k;
    key_of(&k, SPACE_VERSION, version);
    put_json(b, &k, rec);
    json_decref(rec);
    return 0;
}

/* The activation record, the active pointer, the version's activated_at
 * and, when it replaces another version, the feed's policy.activated, in b. */
void history_activate(store_batch *b, const history_change *c, const json_t *by, const json_t *tests) {
    json_t *act = json_pack("{s:I,s:I,s:s,s:s?,s:s,s:O,s:O}", "n", (json_int_t)c->n, "at", (json_int_t)c->at,
                            "version", c->version, "previous", c->previous[0] ? c->previous : NULL, "how", c->how,
                            "by", by, "tests", tests ? tests : json_null());
    json_t *active = json_pack("{s:s,s:s?,s:I,s:s,s:O}", "version", c->version, "previous",
                               c->previous[0] ? c->previous : NULL, "activated_at", (json_int_t)c->at, "how",
                               c->how, "by", by);
    /* the record as this batch leaves it: the caller keeps a new version first */
    json_t *rec = NULL;
    char *text0 = NULL;
    size_t len0;
    store_key k;
    key_of(&k, SPACE_VERSION, c->version);
    if (store_batch_get_latest(b, DB_META, k.buf, k.len, &text0, &len0) == 0) rec = json_loadb(text0, len0, 0, NULL);
    free(text0);
    if (act == NULL || active == NULL || rec == NULL) {
        store_batch_fail(b, STORE_ENOMEM);
    } else {
        json_object_set_new(rec, "activated_at", json_integer(c->at));
        json_object_set_new(rec, "activation", json_integer((json_int_t)c->n));
        put_json(b, &k, rec);
        key_of(&k, KEY_ACTIVE, NULL);
        put_json(b, &k, active);
        key_of(&k, SPACE_ACTIVATION, NULL);
        key_u64(&k, c->n);
        put_json(b, &k, act);
        /* the feed tells of a switch: the very first version, active since
         * the first start, has none (and the feed of a new server starts
         * with the platform's own events) */
        json_t *ev = c->previous[0] == '\0'
                         ? NULL
                         : json_pack("{s:s,s:I,s:n,s:n,s:n,s:O}", "type", "policy.activated", "at", (json_int_t)c->at,
                                     "case_id", "order_id", "merchant_id", "data", act);
        json_object_del(json_object_get(ev, "data"), "n");
        char *text = ev ? json_dumps(ev, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
        if (c->previous[0] == '\0') {
        } else if (text == NULL) {
            store_batch_fail(b, STORE_ENOMEM);
        } else {
            static const char head[] = "{\"seq\":";
            text[0] = ','; /* the envelope's members after the seq (case/commit.c) */
            store_batch_put_seq(b, DB_EVENTS, head, sizeof head - 1, text, strlen(text));
        }
        free(text);
        json_decref(ev);
    }
    json_decref(act);
    json_decref(active);
    json_decref(rec);
}

void history_dir_seen(store_batch *b, const char *version) {
    store_key k;
    key_of(&k, KEY_DIR, NULL);
    json_t *v = json_pack("{s:s}", "version", version);
    if (v) put_json(b, &k, v);
    else store_batch_fail(b, STORE_ENOMEM);
    json_decref(v);
}

void history_change_init(server *s, history_change *c, const char *version, const char *how) {
    memset(c, 0, sizeof *c);
    snprintf(c->version, sizeof c->version, "%s", version);
    snprintf(c->previous, sizeof c->previous, "%s", s->history.active);
    snprintf(c->how, sizeof c->how, "%s", how);
    c->at = clock_now(&s->clock);
    c->n = s->history.next_activation++;
}

void history_applied(server *s, const history_change *c) {
    snprintf(s->history.previous, sizeof s->history.previous, "%s", c->previous);
    snprintf(s->history.active, sizeof s->history.active, "%s", c->version);
}

/* Calls fn(name entry, text) for each file of the stored record rec; -1
 * when a file is missing (the version cannot be loaded again). */
static int each_file(server *s, json_t *rec, void (*fn)(json_t *acc, json_t *entry, json_t *text), json_t *acc) {
    size_t i;
    json_t *f;
    json_array_foreach(json_object_get(rec, "files"), i, f) {
        store_key k;
        key_of(&k, SPACE_FILE, json_string_value(json_object_get(f, "sha256")));
        char *val = NULL;
        size_t len = 0;
        json_t *t = NULL;
        if (store_get_latest(s->db, DB_META, k.buf, k.len, &val, &len) == 0) t = json_stringn(val, len);
        free(val);
        if (t == NULL) return -1;
        fn(acc, f, t);
    }
    return 0;
}

static void add_text(json_t *acc, json_t *entry, json_t *text) {
    json_object_set_new(acc, json_string_value(json_object_get(entry, "name")), text);
}

static void add_source(json_t *acc, json_t *entry, json_t *text) {
    (void)acc;
    json_object_set_new(entry, "source", text);
}

json_t *history_files(server *s, const char *version) {
    json_t *rec = history_record(s, version), *out = json_object();
    if (rec == NULL || out == NULL || each_file(s, rec, add_text, out) != 0) {
        json_decref(out);
        out = NULL;
    }
    json_decref(rec);
    return out;
}

json_t *history_record_sources(server *s, const char *version) {
    json_t *rec = history_record(s, version);
    if (rec && each_file(s, rec, add_source, NULL) != 0) {
        json_decref(rec);
        return NULL;
    }
    if (rec) json_object_set_new(rec, "active", json_boolean(!strcmp(version, s->history.active)));
    return rec;
}

/* Most recently activated first (by activation number: a manual clock may
 * go back), then the versions never activated, newest loaded first. */
static int by_recent(const void *a, const void *b) {
    const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
    json_int_t nx = json_integer_value(json_object_get(x, "activation")),
               ny = json_integer_value(json_object_get(y, "activation"));
    json_int_t lx = json_integer_value(json_object_get(x, "loaded_at")),
               ly = json_integer_value(json_object_get(y, "loaded_at"));
    if (nx != ny) return nx < ny ? 1 : -1;
    if (lx != ly) return lx < ly ? 1 : -1;
    return strcmp(json_string_value(json_object_get(x, "version")), json_string_value(json_object_get(y, "version")));
}

/* Every value under key prefix space, parsed, in key order (reverse: newest
 * first), at most max. */
static json_t *scan(server *s, const char *space, int reverse, size_t max) {
    store_key k;
    key_of(&k, space, NULL);
    store_read *rd;
    store_iter *it;
    json_t *out = json_array();
    if (out == NULL || store_read_begin(s->db, &rd) != 0) return out;
    if (store_iter_open(rd, DB_META, k.buf, k.len, NULL, 0, reverse, &it) == 0) {
        const void *key, *val;
        size_t klen, vlen;
        while (json_array_size(out) < max && store_iter_next(it, &key, &klen, &val, &vlen) == 1) {
            json_t *v = json_loadb(val, vlen, 0, NULL);
            if (v) json_array_append_new(out, v);
        }
        store_iter_close(it);
    }
    store_read_end(rd);
    return out;
}

json_t *history_list(server *s, size_t limit) {
    json_t *all = scan(s, SPACE_VERSION, 0, (size_t)-1);
    size_t n = json_array_size(all);
    json_t **v = calloc(n ? n : 1, sizeof *v);
    json_t *out = json_array();
    if (v == NULL || out == NULL) {
        free(v);
        json_decref(all);
        json_decref(out);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) v[i] = json_array_get(all, i);
    qsort(v, n, sizeof *v, by_recent);
    for (size_t i = 0; i < n && i < limit; i++) {
        json_object_set_new(v[i], "active",
                            json_boolean(!strcmp(json_string_value(json_object_get(v[i], "version")), s->history.active)));
        json_array_append(out, v[i]);
    }
    free(v);
    json_decref(all);
    return json_pack("{s:o,s:I,s:s?,s:s?,s:o}", "versions", out, "total", (json_int_t)n, "active",
                     s->history.active[0] ? s->history.active : NULL, "previous",
                     s->history.previous[0] ? s->history.previous : NULL, "activations",
                     scan(s, SPACE_ACTIVATION, 1, 20));
}

int history_load_state(server *s) {
    store_key k;
    key_of(&k, KEY_ACTIVE, NULL);
    json_t *a = get_json(s, &k);
    const char *v = json_string_value(json_object_get(a, "version"));
    const char *p = json_string_value(json_object_get(a, "previous"));
    snprintf(s->history.active, sizeof s->history.active, "%s", history_version_ok(v) ? v : "");
    snprintf(s->history.previous, sizeof s->history.previous, "%s", history_version_ok(p) ? p : "");
    json_decref(a);
    key_of(&k, KEY_DIR, NULL);
    json_t *d = get_json(s, &k);
    v = json_string_value(json_object_get(d, "version"));
    snprintf(s->history.dir, sizeof s->history.dir, "%s", history_version_ok(v) ? v : "");
    json_decref(d);
    json_t *last = scan(s, SPACE_ACTIVATION, 1, 1);
    s->history.next_activation = (uint64_t)json_integer_value(json_object_get(json_array_get(last, 0), "n")) + 1;
    json_decref(last);
    return 0;
}
