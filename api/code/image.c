/* image: mkfs.erofs as a child process (lib/util/tool.h), its stderr kept for the error message (see image.h). */
#include "api/code/image.h"

#include "lib/util/tool.h"

int image_build(const char *src_dir, const char *out_path, char *msg, size_t cap)
{
	char *const argv[] = { IMAGE_MKFS,   "--quiet",	       "-T0",		"-x-1",
			       "--all-root", (char *)out_path, (char *)src_dir, NULL };

	return tool_run(argv, msg, cap);
}
