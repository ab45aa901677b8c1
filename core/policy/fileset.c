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

/* "NAME.lua" with a valid module (or test) name. */
static int lua_file_ok(const char *s, int dots) {
    size_t len = strlen(s);
    return len > 4 && strcmp(s + len - 4, ".lua") == 0 && segment_ok(s, len - 4, dots);
}

/* The kind a relative path belongs to, or -1 if it names no policy file. */
static int classify(const char *path) {
    const char *slash = strchr(path, '/');
    if (slash == NULL) return lua_file_ok(path, 0) ? FILESET_MODULES : -1;
    if (strncmp(path, "tests/", 6) == 0)
        return strchr(path + 6, '/') == NULL && lua_file_ok(path + 6, 1) ? FILESET_TESTS : -1;
    if (strncmp(path, "merchants/", 10) != 0) return -1;
    const char *id = path + 10, *end = strchr(id, '/');
    if (end == NULL || !segment_ok(id, (size_t)(end - id), 1)) return -1;
    return strchr(end + 1, '/') == NULL && lua_file_ok(end + 1, 0) ? FILESET_MODULES : -1;
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

/* Reads every policy file of DIR/sub (prefix "sub/" in names). A missing sub
 * directory is an empty one; a missing top directory is an error. */
static int read_dir(pfiles *fs, const char *dir, const char *sub, fileset_kind kind,
                    char *err, size_t errlen) {
    char path[4096], name[1024];
    snprintf(path, sizeof path, "%s%s%s", dir, sub[0] ? "/" : "", sub);
    DIR *d = opendir(path);
    if (d == NULL) {
        if (sub[0] && errno == ENOENT) return 0;
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    int rc = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        snprintf(name, sizeof name, "%s%s%s", sub, sub[0] ? "/" : "", e->d_name);
        char full[8192];
        snprintf(full, sizeof full, "%s/%s", dir, name);
        if (kind == FILESET_MODULES && strcmp(name, "merchants") == 0 && is_kind(full, S_IFDIR)) {
            rc = read_dir(fs, dir, "merchants", kind, err, errlen);
        } else if (kind == FILESET_MODULES && strcmp(sub, "merchants") == 0) {
            if (is_kind(full, S_IFDIR)) rc = read_dir(fs, dir, name, kind, err, errlen);
        } else if (is_kind(full, S_IFREG) && strlen(name) > 4 &&
                   strcmp(name + strlen(name) - 4, ".lua") == 0) {
            if (classify(name) != (int)kind) {
                snprintf(err, errlen, "%s: not a valid policy file name (letters, digits, _ and -)", name);
                rc = -1;
            } else {
                rc = read_file(fs, full, name, err, errlen);
            }
        }
    }
    closedir(d);
    return rc;
}

static int apply_sources(pfiles *fs, const json_t *sources, fileset_kind kind, char *err,
                         size_t errlen) {
    if (sources == NULL || json_is_null(sources)) return 0;
    if (!json_is_object(sources)) {
        snprintf(err, errlen, "sources: must be an object of file name to text");
        return -1;
    }
    const char *name;
    json_t *text;
    json_object_foreach((json_t *)sources, name, text) {
        int k = classify(name);
        if (k < 0 || (!json_is_string(text) && !json_is_null(text))) {
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

int fileset_gather(const char *dir, const json_t *sources, fileset_kind kind, pfiles *out,
                   char *err, size_t errlen) {
    memset(out, 0, sizeof *out);
    int rc = 0;
    if (dir != NULL) {
        if (kind == FILESET_TESTS && !is_kind(dir, S_IFDIR)) {
            snprintf(err, errlen, "%s: %s", dir, strerror(ENOENT));
            rc = -1;
        } else {
            rc = read_dir(out, dir, kind == FILESET_TESTS ? "tests" : "", kind, err, errlen);
        }
    }
    if (rc == 0) rc = apply_sources(out, sources, kind, err, errlen);
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
