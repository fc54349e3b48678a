/*
 * yamltree.h: a YAML document as a small tree that remembers line numbers.
 *
 * libyaml parses the file; every scalar then has ${VAR} and ${VAR:-default}
 * substituted from the environment (inside quoted and plain scalars alike),
 * so configuration errors can name both the variable and the line. Aliases
 * are expanded, within a budget of 100,000 values for the whole file. Owned by the loading thread; freed with dh_ytree_free.
 */
#ifndef DH_YAMLTREE_H
#define DH_YAMLTREE_H

#include <stddef.h>

#include <jansson.h>

enum dh_ynode_kind { DH_Y_SCALAR, DH_Y_MAP, DH_Y_SEQ };

struct dh_ynode {
    enum dh_ynode_kind kind;
    int line;             /* 1-based */
    char *value;          /* scalars: substituted text */
    int quoted;           /* scalars: written in quotes */
    int plain_null;       /* scalars: empty plain scalar, "~" or "null" */
    size_t n;             /* maps: pairs; seqs: items */
    struct dh_ynode **keys;  /* maps only */
    struct dh_ynode **items; /* map values or sequence items */
};

/* Error sink: collects "file:line: message" lines. */
struct dh_errlist {
    char **lines;
    size_t n;
};

void dh_errlist_add(struct dh_errlist *el, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void dh_errlist_free(struct dh_errlist *el);

/* Parses text (len bytes) read from file into *out. Syntax errors and unset
 * variables are added to el; returns 0 when a tree was built (even if some
 * variables failed: they read as empty, with an error recorded) or
 * DH_E_CONFIG when the YAML itself is broken. */
int dh_ytree_parse(const char *file, const char *text, size_t len, struct dh_ynode **out,
                   struct dh_errlist *el);
void dh_ytree_free(struct dh_ynode *n);
/* Returns the value for key in a map node, or NULL. */
struct dh_ynode *dh_ytree_get(const struct dh_ynode *map, const char *key);

/* Converts a subtree to JSON: maps to objects, sequences to arrays, quoted
 * scalars to strings, plain scalars to numbers, true/false or null where
 * they read as such (else strings). Returns a new reference. */
json_t *dh_ytree_to_json(const struct dh_ynode *n);

/* Substitutes ${VAR} and ${VAR:-default} in s. Returns a new string; on an
 * unset variable without default, writes its name to missing (first one) and
 * substitutes nothing for it. "$$" stands for a literal "$". */
char *dh_env_substitute(const char *s, char *missing, size_t missinglen);

#endif
