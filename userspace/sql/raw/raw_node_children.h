/*
 * Generic child enumeration for raw parse tree nodes. The implementation,
 * raw_node_children.c, is generated at build time from PostgreSQL's node
 * headers by gen_node_children.py.
 */
#ifndef PGW_SQL_RAW_NODE_CHILDREN_H
#define PGW_SQL_RAW_NODE_CHILDREN_H

#include "pg_backend.h"

typedef void (*pgw_child_fn)(void *ctx, const Node *child);

/* Calls fn for every node-valued field of node (children may be NULL).
 * Returns false for a node type it does not know. Lists are not handled
 * here: the caller iterates them. */
bool pgw_node_children(const Node *node, pgw_child_fn fn, void *ctx);

/* True for the tags of the "statement nodes" section of NodeTag. */
bool pgw_is_statement_tag(int tag);

/* "SelectStmt" for T_SelectStmt; "?" for tags outside the raw sections. */
const char *pgw_node_tag_name(int tag);

#endif
