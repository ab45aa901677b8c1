/* cli/http_client: one blocking HTTP/1.1 request, for the command line.
 *
 * Connects, sends the request with Connection: close, reads until the server
 * closes, and parses the answer with llhttp (the parser the server uses), so
 * no HTTP is parsed by hand. Never used inside the server's loop. */
#ifndef AS_CLI_HTTP_CLIENT_H
#define AS_CLI_HTTP_CLIENT_H

#include <stddef.h>

typedef struct {
    int status;  /* the HTTP status, 0 if none came */
    char *body;  /* malloc'd, NUL-terminated (may be empty) */
    size_t len;
} http_answer;

/* url: http://HOST[:PORT]; path starts with '/'; token may be NULL; body may
 * be NULL (no body). 0, or -1 with err (no answer). */
int http_call(const char *url, const char *method, const char *path, const char *token, const char *body,
              http_answer *out, char *err, size_t errlen);
void http_answer_free(http_answer *a);

#endif
