#ifndef DRSN_COMMON_SOURCE_TREE_H
#define DRSN_COMMON_SOURCE_TREE_H

/* The source tree of a build run uninstalled, or NULL (an installed program).
 * Meson puts the link drsn-source-root -> <source tree> in the build root;
 * this follows it from the running program's folder or up to four folders
 * above (src/cli/drsn, src/daemon/drsnd, the tests). No path of the build is
 * compiled in: the installed files are the same whatever folder they were
 * built in, and an installed program never reads a source tree. */
const char *drsn__source_root(void);

#endif
