/* cli: `aftersaled policy ...`, the policy set's life from a shell.
 *
 *   policy eval     --case FILE [--order FILE] [--policies DIR] [--now UNIX] [--json]
 *                   opens the case on the policy set in DIR (default ./policies) here,
 *                   with no server: the same operation POST /v1/cases runs
 *   policy dry-run  --case FILE [--order FILE] [--sources DIR] [--json]
 *   policy replay   [--sources DIR] [--since UNIX] [--limit N] [--json]
 *   policy reload   [--json]
 *   policy show     [--json]          the set the server runs
 *                   ask the server named by AFTERSALE_URL (default
 *                   http://127.0.0.1:8080) with the token in AFTERSALE_TOKEN
 *
 * `--sources DIR` sends every policy file of DIR (top-level *.lua and
 * merchants/ID/NAME.lua; tests are not sources) as the candidate set. Results
 * are printed as readable lines; `--json` prints the server's answer as it
 * came. The exit status is 0 on success, 1 when the server or the policies
 * refused, 2 on a usage error. */
#ifndef AS_CLI_H
#define AS_CLI_H

/* argv[0] is the command ("eval", "dry-run", ...). */
int cli_policy(int argc, char **argv);
/* `aftersaled kpi rebuild|verify` (cli/kpi.c); argv[0] is the command. */
int cli_kpi(int argc, char **argv);

/* `aftersaled seed --data DIR --cases N ...` (seed.c): a data directory with
 * N cases written through the domain layer, for measurements. argv[0] is the
 * first flag. */
int cli_seed(int argc, char **argv);

#endif
