/* codedir: the folders that hold each function's code images, $home/functions/<name>/code/.
 *
 * Contract:
 * - codedir_new_path() creates the folders (mode 0700) as needed and names
 *   a fresh image "<uuid>.erofs" there; nothing is written.
 * - codedir_image_name_valid() accepts exactly the names new_path makes.
 * - codedir_zip_path() names the zip kept beside an image: "<uuid>.zip",
 *   the code as it was uploaded (GetFunction's Code.Location serves it); it
 *   lives and goes with its image.
 * - codedir_sweep() removes every file in name's code folder for which
 *   keep() says false (temporary files of an interrupted write included); a
 *   zip is kept when keep() says true of its image's name;
 *   with keep NULL it removes them all and then the folders themselves.
 * - codedir_sweep_all() runs codedir_sweep on every function folder, with
 *   keep(arg, name, file); exists(arg, name) false removes the whole folder.
 * Only regular files and the two folder levels are ever removed; anything
 * else found there is left alone and logged. Errors: negative errno, logged.
 * Thread: any (no shared state; callers serialise per function). */
#ifndef EMBER_API_CODEDIR_H
#define EMBER_API_CODEDIR_H

#include <stdbool.h>
#include <stddef.h>

#define CODEDIR_FUNCTIONS "functions"
#define CODEDIR_CODE	  "code"
#define CODEDIR_IMAGE_EXT ".erofs"
#define CODEDIR_ZIP_EXT	  ".zip"

int codedir_new_path(const char *home, const char *name, char *out, size_t cap);
bool codedir_image_name_valid(const char *file);
int codedir_zip_path(const char *image, char *out, size_t cap);
int codedir_path(const char *home, const char *name, const char *file, char *out, size_t cap);
void codedir_sweep(const char *home, const char *name,
		   bool (*keep)(void *arg, const char *name, const char *file), void *arg);
void codedir_sweep_all(const char *home, bool (*exists)(void *arg, const char *name),
		       bool (*keep)(void *arg, const char *name, const char *file), void *arg);

#endif
