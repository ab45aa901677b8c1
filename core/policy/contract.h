/* policy/contract: the modules and functions the core calls (SPEC section 4,
 * docs/policies.md section 3), and the strict checks a policy set must pass
 * to load: file names, directories, and what each module defines.
 *
 * The table here is the one place the contract's names live in the host: a
 * new policy function the core calls is a row here and a line in the guide. */
#ifndef AS_POLICY_CONTRACT_H
#define AS_POLICY_CONTRACT_H

#include <stddef.h>

typedef enum {
    CONTRACT_FN = 1,  /* a function the core calls (and the floor may judge) */
    CONTRACT_VALUE    /* a value the core reads (a table, or a function of ctx) */
} contract_kind;

/* 1 if name is a module of the contract (returns, compensation, routing, sla,
 * survey, risk, floor). */
int contract_is_module(const char *name);
/* The kind of module.field in the contract, or 0 if the contract has no such
 * field. floor's fields are <module>_<fn> for every CONTRACT_FN. */
int contract_field(const char *module, const char *field);
/* "evaluate" / "refund, compensate" ...: the module's contract names, for
 * messages, in buf. */
const char *contract_names(const char *module, char *buf, size_t len);
/* "returns, compensation, ...": the modules, for messages. */
const char *contract_modules(void);

/* 1 with the contract name of module that name is a likely misspelling of
 * in out (a different case, an underscore more or less, or at most two
 * letters changed: "evalute", "Evaluate", "onbreach"), else 0. */
int contract_misspelt(const char *module, const char *name, char *out, size_t len);

#endif
