#ifndef CAKRP_TERMINAL_H
#define CAKRP_TERMINAL_H

/// Opens a new pseudo-terminal pair: the controlling side's descriptor (close-on-exec) is returned and
/// the path of the other side is written to `path` (at most `capacity` bytes, NUL-terminated).
/// Returns -1 with errno set on failure.
int CAKRPTerminal_openPseudoTerminal(char *path, unsigned long capacity);

#endif
