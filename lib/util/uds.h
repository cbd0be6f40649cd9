/* uds: claim and listen on a Unix socket path that this process will own.
 *
 * Contract: uds_claim() makes room for a socket at path. Nothing there is
 * fine; a socket that refuses connections is a leftover of a process that
 * died, and is removed; a socket someone answers on, or any other kind of
 * file, stays and is an error (-EADDRINUSE / -EEXIST). Errors are logged as
 * "<what> <path>: <reason>". uds_bind() binds and listens (non-blocking,
 * close-on-exec) and logs nothing; -ENAMETOOLONG if path does not fit a
 * sockaddr_un. uds_listen() claims, then binds, logging any failure. Any
 * thread. */
#ifndef EMBER_UDS_H
#define EMBER_UDS_H

int uds_claim(const char *path, const char *what);
int uds_bind(const char *path, int backlog, int *fd);
int uds_listen(const char *path, const char *what, int backlog, int *fd);

#endif
