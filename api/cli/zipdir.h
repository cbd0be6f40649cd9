/* zipdir: zip a folder in memory (libarchive) for `ember create --code DIR`, keeping unix modes.
 *
 * Contract: cli_zip_dir() walks dir (symlinks stored as links, never
 * followed; entries named relative to dir) and writes a deflated zip into a
 * new buffer the caller frees. Unix permissions travel in the zip, so an
 * executable bootstrap stays executable. The zip may be at most
 * CLI_ZIP_MAX bytes (-EFBIG). Errors: negative errno with a message on
 * stderr. Thread: main. */
#ifndef EMBER_CLI_ZIPDIR_H
#define EMBER_CLI_ZIPDIR_H

#include <stddef.h>
#include <stdint.h>

#define CLI_ZIP_MAX (50u << 20) /* Lambda's direct-upload limit */

int cli_zip_dir(const char *dir, uint8_t **out, size_t *out_len);
/* Reads a zip file (at most CLI_ZIP_MAX bytes). */
int cli_read_file(const char *path, size_t max, uint8_t **out, size_t *out_len);

#endif
