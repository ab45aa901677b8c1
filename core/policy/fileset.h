/* policy/fileset (internal): the files of a policy set, read from a directory
 * and overlaid with candidate sources, sorted by relative path, hashed. */
#ifndef AS_POLICY_FILESET_H
#define AS_POLICY_FILESET_H

#include <jansson.h>
#include <stddef.h>

#define FILESET_MAX_FILE (4u << 20)

typedef struct {
    char *name;     /* relative path: "returns.lua", "merchants/m1/returns.lua", "tests/x.lua", "lib/money.lua" */
    char *text;
    size_t len;
    char sha256[65];
} pfile;

typedef struct {
    pfile *v;
    size_t n, cap;
} pfiles;

typedef enum { FILESET_MODULES, FILESET_TESTS } fileset_kind;

/* Modules: DIR/NAME.lua, DIR/lib/NAME.lua and DIR/merchants/ID/NAME.lua;
 * tests: DIR/tests/NAME.lua and DIR/merchants/ID/tests/NAME.lua. sources
 * ({"path": "text" or null to drop}) replace or add files of that kind. dir
 * may be NULL (sources only). strict: every name is checked against the
 * contract (contract.h) and an unknown file or directory is an error; lax
 * (the host's own unit tests): any module name, unknown entries ignored, no
 * lib/ or merchant tests. 0, or -1 with err; *out is then empty. */
int fileset_gather(const char *dir, const json_t *sources, fileset_kind kind, int strict, pfiles *out,
                   char *err, size_t errlen);
void fileset_free(pfiles *fs);

/* SHA-256 hex over (path, NUL, content, NUL) of each file in order. */
int fileset_version(const pfiles *fs, char out[65]);

#endif
