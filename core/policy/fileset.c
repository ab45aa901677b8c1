/* policy/fileset: which files make a policy set, their text and their hashes.
 *
 * Names are checked here once: module names are letters, digits, '_' and
 * '-' (they become Lua identifiers in floor.<module>_<fn>), merchant ids
 * never start with a dot, so a source key can never point outside the set. */
#include "policy/fileset.h"

#include <dirent.h>
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "policy/contract.h"
#include "policy/policy.h"
#include "util/digest.h"

static int name_char(char ch, int dots) {
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '_' || ch == '-' || (dots && ch == '.');
}

/* A path segment of len chars: non-empty, allowed chars, no leading dot. */
static int segment_ok(const char *s, size_t len, int dots) {
    if (len == 0 || s[0] == '.') return 0;
    for (size_t i = 0; i < len; i++)
        if (!name_char(s[i], dots)) return 0;
    return 1;
}

/* A merchant directory: a merchant id in lower case. Ids are matched
 * exactly, so merchants/Acme/ would never apply to merchant acme: the
 * directories of a set are lower case (docs/policies.md). */
static int merchant_ok(const char *s, size_t len, int strict) {
    if (!segment_ok(s, len, 1)) return 0;
    for (size_t i = 0; strict && i < len; i++)
        if (s[i] >= 'A' && s[i] <= 'Z') return 0;
    return 1;
}

/* "NAME.lua" with a valid module (or test) name. */
static int lua_file_ok(const char *s, int dots) {
    size_t len = strlen(s);
    return len > 4 && strcmp(s + len - 4, ".lua") == 0 && segment_ok(s, len - 4, dots);
}

static int has_suffix(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* A file a set may hold beside its policies and ignores: its documentation. */
static int doc_file(const char *name) {
    return has_suffix(name, ".md") || has_suffix(name, ".txt");
}

/* The module file "NAME.lua" of a default (merchant NULL) or of a merchant:
 * strict, NAME must be a module of the contract (helpers go in lib/, and the
 * floor is the platform's: a merchant cannot have one). */
static int module_name_ok(const char *file, const char *merchant, int strict, char *why, size_t whylen) {
    if (!lua_file_ok(file, 0)) {
        snprintf(why, whylen, "not a valid policy file name (letters, digits, _ and -, ending in .lua)");
        return 0;
    }
    if (!strict) return 1;
    char module[256];
    snprintf(module, sizeof module, "%.*s", (int)(strlen(file) - 4), file);
    if (!contract_is_module(module)) {
        snprintf(why, whylen, "unknown module '%.64s': the modules are %s%s", module, contract_modules(),
                 merchant ? "" : "; a helper module goes in lib/");
        return 0;
    }
    if (merchant && strcmp(module, "floor") == 0) {
        snprintf(why, whylen, "the floor is the platform's: a merchant cannot override floor.lua");
        return 0;
    }
    return 1;
}

/* The kind a relative path belongs to, or -1 (why says it) if it names no
 * file of a policy set:
 *   NAME.lua, lib/NAME.lua, merchants/ID/NAME.lua          modules
 *   tests/NAME.lua, merchants/ID/tests/NAME.lua            tests */
static int classify(const char *path, int strict, char *why, size_t whylen) {
    const char *slash = strchr(path, '/');
    snprintf(why, whylen, "not a policy file: a set holds NAME.lua, lib/NAME.lua, tests/NAME.lua, "
                          "merchants/ID/NAME.lua and merchants/ID/tests/NAME.lua");
    if (slash == NULL) return module_name_ok(path, NULL, strict, why, whylen) ? FILESET_MODULES : -1;
    if (strncmp(path, "tests/", 6) == 0)
        return strchr(path + 6, '/') == NULL && lua_file_ok(path + 6, 1) ? FILESET_TESTS : -1;
    if (strict && strncmp(path, "lib/", 4) == 0)
        return strchr(path + 4, '/') == NULL && lua_file_ok(path + 4, 0) ? FILESET_MODULES : -1;
    if (strncmp(path, "merchants/", 10) != 0) return -1;
    const char *id = path + 10, *end = strchr(id, '/');
    if (end == NULL) {
        snprintf(why, whylen, "merchants/ holds one directory per merchant (merchants/ID/NAME.lua), no files");
        return -1;
    }
    if (!merchant_ok(id, (size_t)(end - id), strict)) {
        snprintf(why, whylen, "merchants/%.*s/ is not a merchant id in lower case (letters, digits, '.', _ and -)",
                 (int)(end - id > 128 ? 128 : end - id), id);
        return -1;
    }
    const char *rest = end + 1;
    if (strict && strncmp(rest, "tests/", 6) == 0)
        return strchr(rest + 6, '/') == NULL && lua_file_ok(rest + 6, 1) ? FILESET_TESTS : -1;
    if (strchr(rest, '/') != NULL) return -1;
    return module_name_ok(rest, id, strict, why, whylen) ? FILESET_MODULES : -1;
}

/* Adds or replaces name with a copy of text. */
static int put_file(pfiles *fs, const char *name, const char *text, size_t len) {
    char *copy = malloc(len + 1);
    if (copy == NULL) return -1;
    memcpy(copy, text, len);
    copy[len] = '\0';
    pfile *f = NULL;
    for (size_t i = 0; i < fs->n && f == NULL; i++)
        if (strcmp(fs->v[i].name, name) == 0) f = &fs->v[i];
    if (f == NULL) {
        if (fs->n == fs->cap) {
            size_t cap = fs->cap ? fs->cap * 2 : 16;
            pfile *v = realloc(fs->v, cap * sizeof *v);
            if (v == NULL) goto fail;
            fs->v = v;
            fs->cap = cap;
        }
        f = &fs->v[fs->n];
        if ((f->name = strdup(name)) == NULL) goto fail;
        fs->n++;
    } else {
        free(f->text);
    }
    f->text = copy;
    f->len = len;
    if (sha256_hex(copy, len, f->sha256) != 0) return -1;
    return 0;
fail:
    free(copy);
    return -1;
}

static void drop_file(pfiles *fs, const char *name) {
    for (size_t i = 0; i < fs->n; i++) {
        if (strcmp(fs->v[i].name, name) != 0) continue;
        free(fs->v[i].name);
        free(fs->v[i].text);
        fs->v[i] = fs->v[--fs->n];
        return;
    }
}

static int read_file(pfiles *fs, const char *path, const char *name, char *err, size_t errlen) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        snprintf(err, errlen, "%s: %s", name, strerror(errno));
        return -1;
    }
    char *buf = malloc(FILESET_MAX_FILE + 1);
    size_t len = buf ? fread(buf, 1, FILESET_MAX_FILE + 1, f) : 0;
    int bad = buf == NULL || ferror(f) || len > FILESET_MAX_FILE;
    fclose(f);
    if (bad || put_file(fs, name, buf, len) != 0) {
        snprintf(err, errlen, "%s: %s", name,
                 len > FILESET_MAX_FILE ? "file larger than 4 MiB" : "cannot read file");
        free(buf);
        return -1;
    }
    free(buf);
    return 0;
}

static int is_kind(const char *path, mode_t kind) {
    struct stat st;
    return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == kind;
}

typedef struct {
    pfiles *fs;
    fileset_kind kind;
    int strict;
    char *err;
    size_t errlen;
} walker;

/* The directories a set may hold: merchants/, merchants/ID/, tests/, and
 * (strict) lib/ and merchants/ID/tests/. */
static int known_dir(const char *name, int strict) {
    if (!strcmp(name, "merchants") || !strcmp(name, "tests")) return 1;
    if (strict && !strcmp(name, "lib")) return 1;
    if (strncmp(name, "merchants/", 10) != 0) return 0;
    const char *end = strchr(name + 10, '/');
    return end == NULL || (strict && !strcmp(end + 1, "tests"));
}

/* Reads the files of w->kind under DIR/rel (rel "" for the root) and checks
 * every other entry: strict, an unknown directory or file is an error (a
 * misnamed directory or file would otherwise never load, silently); lax,
 * it is left alone. Documentation (*.md, *.txt) and dot files are skipped. */
static int walk(walker *w, const char *dir, const char *rel) {
    char path[4096];
    snprintf(path, sizeof path, "%s%s%s", dir, rel[0] ? "/" : "", rel);
    DIR *d = opendir(path);
    if (d == NULL) {
        snprintf(w->err, w->errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    int rc = 0;
    struct dirent *e;
    char why[300];
    while (rc == 0 && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        char name[1024], full[8192];
        snprintf(name, sizeof name, "%s%s%s", rel, rel[0] ? "/" : "", e->d_name);
        snprintf(full, sizeof full, "%s/%s", dir, name);
        if (is_kind(full, S_IFDIR)) {
            if (known_dir(name, w->strict)) {
                rc = walk(w, dir, name);
            } else if (w->strict) {
                if (strncmp(name, "merchants/", 10) == 0 && strchr(name + 10, '/') == NULL)
                    snprintf(w->err, w->errlen, "%s/: not a merchant id in lower case (letters, digits, '.', _ and -)",
                             name);
                else
                    snprintf(w->err, w->errlen, "%s/: unknown directory: a set holds lib/, tests/, merchants/ID/ "
                                                "and merchants/ID/tests/", name);
                rc = -1;
            }
        } else if (doc_file(e->d_name)) {
            continue;
        } else if (!has_suffix(e->d_name, ".lua") || !is_kind(full, S_IFREG)) {
            if (w->strict) {
                snprintf(w->err, w->errlen, "%s: unknown file: policy files end in .lua (documentation in .md or .txt)",
                         name);
                rc = -1;
            }
        } else {
            int k = classify(name, w->strict, why, sizeof why);
            if (k < 0) {
                snprintf(w->err, w->errlen, "%s: %s", name, why);
                rc = -1;
            } else if (k == (int)w->kind) {
                rc = read_file(w->fs, full, name, w->err, w->errlen);
            }
        }
    }
    closedir(d);
    return rc;
}

static int apply_sources(pfiles *fs, const json_t *sources, fileset_kind kind, int strict, char *err,
                         size_t errlen) {
    if (sources == NULL || json_is_null(sources)) return 0;
    if (!json_is_object(sources)) {
        snprintf(err, errlen, "sources: must be an object of file name to text");
        return -1;
    }
    const char *name;
    json_t *text;
    json_object_foreach((json_t *)sources, name, text) {
        char why[300];
        int k = classify(name, strict, why, sizeof why);
        if (k < 0) {
            snprintf(err, errlen, "sources: %.200s: %s", name, why);
            return -1;
        }
        if (!json_is_string(text) && !json_is_null(text)) {
            snprintf(err, errlen, "sources: '%.200s' is not a policy file name with text", name);
            return -1;
        }
        if (k != (int)kind) continue;
        if (json_is_null(text)) {
            drop_file(fs, name);
        } else if (put_file(fs, name, json_string_value(text), json_string_length(text)) != 0) {
            snprintf(err, errlen, "%s: out of memory", name);
            return -1;
        }
    }
    return 0;
}

static int by_name(const void *a, const void *b) {
    return strcmp(((const pfile *)a)->name, ((const pfile *)b)->name);
}

int fileset_gather(const char *dir, const json_t *sources, fileset_kind kind, int strict, pfiles *out,
                   char *err, size_t errlen) {
    memset(out, 0, sizeof *out);
    int rc = 0;
    if (dir != NULL) {
        walker w = {out, kind, strict, err, errlen};
        rc = walk(&w, dir, "");
    }
    if (rc == 0) rc = apply_sources(out, sources, kind, strict, err, errlen);
    if (rc != 0) {
        fileset_free(out);
        return -1;
    }
    if (out->n > 1) qsort(out->v, out->n, sizeof *out->v, by_name);
    return 0;
}

void fileset_free(pfiles *fs) {
    for (size_t i = 0; i < fs->n; i++) {
        free(fs->v[i].name);
        free(fs->v[i].text);
    }
    free(fs->v);
    memset(fs, 0, sizeof *fs);
}

int fileset_version(const pfiles *fs, char out[65]) {
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    int ok = ctx != NULL && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1;
    for (size_t i = 0; ok && i < fs->n; i++) {
        ok = EVP_DigestUpdate(ctx, fs->v[i].name, strlen(fs->v[i].name) + 1) == 1 &&
             EVP_DigestUpdate(ctx, fs->v[i].text, fs->v[i].len) == 1 &&
             EVP_DigestUpdate(ctx, "", 1) == 1;
    }
    ok = ok && EVP_DigestFinal_ex(ctx, md, &mdlen) == 1 && mdlen == 32;
    EVP_MD_CTX_free(ctx);
    if (!ok) return -1;
    for (unsigned i = 0; i < 32; i++) snprintf(out + 2 * i, 3, "%02x", md[i]);
    return 0;
}

static int files_into(json_t *out, const pfiles *fs, char *err, size_t errlen) {
    for (size_t i = 0; i < fs->n; i++) {
        json_t *t = json_stringn(fs->v[i].text, fs->v[i].len);
        if (t == NULL) {
            snprintf(err, errlen, "%s: not UTF-8 text", fs->v[i].name);
            return -1;
        }
        if (json_object_set_new(out, fs->v[i].name, t) != 0) {
            snprintf(err, errlen, "%s: out of memory", fs->v[i].name);
            return -1;
        }
    }
    return 0;
}

json_t *policy_files(const policy_config *cfg, char *err, size_t errlen) {
    pfiles mods, tests;
    if (fileset_gather(cfg->dir, cfg->sources, FILESET_MODULES, !cfg->lax, &mods, err, errlen) != 0) return NULL;
    if (fileset_gather(cfg->dir, cfg->sources, FILESET_TESTS, !cfg->lax, &tests, err, errlen) != 0) {
        fileset_free(&mods);
        return NULL;
    }
    json_t *out = json_object();
    if (out == NULL || files_into(out, &mods, err, errlen) != 0 || files_into(out, &tests, err, errlen) != 0) {
        if (out == NULL) snprintf(err, errlen, "out of memory");
        json_decref(out);
        out = NULL;
    }
    fileset_free(&mods);
    fileset_free(&tests);
    return out;
}
