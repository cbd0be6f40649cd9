/* tool: run a host tool (mkfs.erofs, mke2fs) as a child process and wait for it, its last line of stderr kept for the error message.
 *
 * Contract: tool_run() spawns argv[0] (found on PATH) with stdin and stdout
 * on /dev/null and stderr into a pipe, keeps the last bytes of that stderr
 * (bounded), and waits for it. 0 when it exited 0. Otherwise msg says why:
 * "<tool> exited with N: <its last line of stderr>", "<tool> was killed by
 * signal N", or why it could not run.
 * Errors: -EIO (the tool failed), or the errno of spawning or waiting.
 * Thread: any; blocks until the child exits (run it off an event loop). */
#ifndef EMBER_UTIL_TOOL_H
#define EMBER_UTIL_TOOL_H

#include <stddef.h>

int tool_run(char *const argv[], char *msg, size_t cap);

#endif
