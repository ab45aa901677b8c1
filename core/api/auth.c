/* api/auth: bearer tokens, roles and merchant binding.
 *
 * Tokens come from --tokens FILE. Without it the server keeps one admin token
 * in DATA/admin.token, created with 128 random bits on first start, so a fresh
 * install is never open to the world. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "api/api.h"
#include "util/log.h"

const char *role_name(api_role r) {
    switch (r) {
    case ROLE_ADMIN: return "admin";
    case ROLE_AGENT: return "agent";
    default: return "service";
    }
}

static int role_from_name(const char *name, api_role *out) {
    if (name == NULL) return -1;
    if (strcmp(name, "admin") == 0) *out = ROLE_ADMIN;
    else if (strcmp(name, "agent") == 0) *out = ROLE_AGENT;
    else if (strcmp(name, "service") == 0) *out = ROLE_SERVICE;
    else return -1;
    return 0;
}

static char *dup_or_null(const char *s) { return s ? strdup(s) : NULL; }

static int add_token(server *s, const char *token, api_role role, const char *merchant,
                     const char *agent) {
    principal *grown = realloc(s->tokens, (s->ntokens + 1) * sizeof *grown);
    if (grown == NULL) return -1;
    s->tokens = grown;
    principal *p = &s->tokens[s->ntokens];
    p->token = strdup(token);
    p->role = role;
    p->merchant = dup_or_null(merchant);
    p->agent = dup_or_null(agent);
    if (p->token == NULL || (merchant && !p->merchant) || (agent && !p->agent)) {
        free(p->token);
        free(p->merchant);
        free(p->agent);
        return -1;
    }
    s->ntokens++;
    return 0;
}

/* An optional string member: absent or null is NULL; anything but a
 * non-empty string is an error, so a typo never starts an unbound token. */
static int optional_name(const json_t *entry, const char *field, const char **out) {
    json_t *v = json_object_get(entry, field);
    *out = json_string_value(v);
    return v == NULL || json_is_null(v) || (*out && **out) ? 0 : -1;
}

static int token_known(const server *s, const char *token) {
    for (size_t i = 0; i < s->ntokens; i++)
        if (strcmp(s->tokens[i].token, token) == 0) return 1;
    return 0;
}

/* A member the file format does not have: "merchnt" must not leave a token
 * bound to no merchant. NULL if every member is known. */
static const char *unknown_member(const json_t *entry) {
    static const char *const known[] = {"token", "role", "merchant", "agent"};
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)entry, k, v) {
        size_t i = 0;
        while (i < sizeof known / sizeof known[0] && strcmp(k, known[i]) != 0) i++;
        if (i == sizeof known / sizeof known[0]) return k;
    }
    return NULL;
}

/* One entry of the tokens file, or -1 with the reason logged. */
static int load_token_entry(server *s, const char *path, size_t i, const json_t *t) {
    const char *token = json_string_value(json_object_get(t, "token"));
    const char *merchant, *agent, *unknown;
    api_role role;
    if (!json_is_object(t)) {
        log_msg(LOG_ERROR, "tokens file %s: entry %zu is not an object", path, i);
        return -1;
    }
    if ((unknown = unknown_member(t)) != NULL) {
        log_msg(LOG_ERROR, "tokens file %s: entry %zu has an unknown member '%s' "
                           "(token, role, merchant, agent)", path, i, unknown);
        return -1;
    }
    if (token == NULL || strlen(token) < 1 ||
        role_from_name(json_string_value(json_object_get(t, "role")), &role) != 0) {
        log_msg(LOG_ERROR, "tokens file %s: entry %zu needs a token and a role "
                           "(admin, agent or service)", path, i);
        return -1;
    }
    if (optional_name(t, "merchant", &merchant) != 0 || optional_name(t, "agent", &agent) != 0) {
        log_msg(LOG_ERROR, "tokens file %s: entry %zu: merchant and agent must be non-empty strings",
                path, i);
        return -1;
    }
    if (token_known(s, token)) {
        log_msg(LOG_ERROR, "tokens file %s: entry %zu repeats a token", path, i);
        return -1;
    }
    return add_token(s, token, role, merchant, agent);
}

static int load_tokens_file(server *s, const char *path) {
    json_error_t jerr;
    json_t *root = json_load_file(path, 0, &jerr);
    if (root == NULL) {
        log_msg(LOG_ERROR, "tokens file %s: %s (line %d)", path, jerr.text, jerr.line);
        return -1;
    }
    json_t *list = json_object_get(root, "tokens");
    if (!json_is_array(list)) {
        log_msg(LOG_ERROR, "tokens file %s: expected {\"tokens\":[...]}", path);
        json_decref(root);
        return -1;
    }
    size_t i;
    json_t *t;
    int rc = 0;
    json_array_foreach(list, i, t) {
        if ((rc = load_token_entry(s, path, i, t)) != 0) break;
    }
    json_decref(root);
    return rc;
}

/* Reads DATA/admin.token, or creates it with a random token. */
static int load_or_create_admin_token(server *s) {
    char path[4096], token[65] = {0};
    snprintf(path, sizeof path, "%s/admin.token", s->cfg.data_dir);
    FILE *f = fopen(path, "r");
    if (f != NULL) {
        int ok = fscanf(f, "%64s", token) == 1;
        fclose(f);
        if (!ok) {
            log_msg(LOG_ERROR, "%s is empty or unreadable", path);
            return -1;
        }
    } else {
        unsigned char raw[16];
        int rc = uv_random(NULL, NULL, raw, sizeof raw, 0, NULL);
        if (rc != 0) {
            log_msg(LOG_ERROR, "no randomness for the admin token: %s", uv_strerror(rc));
            return -1;
        }
        for (size_t i = 0; i < sizeof raw; i++) snprintf(token + 2 * i, 3, "%02x", raw[i]);
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
        if (fd < 0 || write(fd, token, strlen(token)) != (ssize_t)strlen(token) ||
            fsync(fd) != 0) {
            log_msg(LOG_ERROR, "cannot write %s: %s", path, strerror(errno));
            if (fd >= 0) close(fd);
            return -1;
        }
        close(fd);
    }
    json_t *fields = json_pack("{s:s}", "token_file", path);
    log_emit(LOG_INFO, "admin token (no --tokens given)", fields);
    return add_token(s, token, ROLE_ADMIN, NULL, NULL);
}

int auth_load(server *s) {
    if (s->cfg.tokens_file != NULL) return load_tokens_file(s, s->cfg.tokens_file);
    return load_or_create_admin_token(s);
}

void auth_free(server *s) {
    for (size_t i = 0; i < s->ntokens; i++) {
        free(s->tokens[i].token);
        free(s->tokens[i].merchant);
        free(s->tokens[i].agent);
    }
    free(s->tokens);
    s->tokens = NULL;
    s->ntokens = 0;
}

/* Compares in time independent of where the strings differ. */
static int token_equal(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    unsigned char diff = (unsigned char)(la != lb);
    for (size_t i = 0; i < la && i < lb; i++) diff |= (unsigned char)(a[i] ^ b[i]);
    return diff == 0;
}

const principal *auth_lookup(const server *s, const http_request *req) {
    const char *h = http_request_header(req, "Authorization");
    if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0) return NULL;
    const char *token = h + 7;
    while (*token == ' ') token++;
    for (size_t i = 0; i < s->ntokens; i++)
        if (token_equal(token, s->tokens[i].token)) return &s->tokens[i];
    return NULL;
}

int principal_sees_merchant(const principal *who, const char *merchant_id) {
    if (who->merchant == NULL) return 1;
    return merchant_id != NULL && strcmp(who->merchant, merchant_id) == 0;
}
