/* cpio: newc archive writer for initramfs images (see cpio.h). */
#include "guest-init/cpio.h"

#include <assert.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#define NEWC_MAGIC    "070701"
#define NEWC_ALIGN    4
#define NEWC_MAX_NAME 4096
#define NEWC_HDR_LEN  110 /* magic + 13 fields of 8 hex digits */

void cpio_init(struct cpio_writer *w, FILE *out)
{
	memset(w, 0, sizeof(*w));
	w->out = out;
	w->next_ino = 1;
}

static void put(struct cpio_writer *w, const void *buf, size_t len)
{
	if (w->error == 0 && len > 0 && fwrite(buf, 1, len, w->out) != len)
		w->error = -EIO;
	w->offset += len;
}

static void pad(struct cpio_writer *w)
{
	static const char zeros[NEWC_ALIGN];

	put(w, zeros, (NEWC_ALIGN - w->offset % NEWC_ALIGN) % NEWC_ALIGN);
}

/* Accepts "a/b" or "/a/b"; rejects empty names, "." and ".." components
 * and names that do not fit the kernel's limit. Returns the stored form. */
static const char *check_name(const char *name)
{
	const char *p;

	while (*name == '/')
		name++;
	if (*name == '\0' || strlen(name) >= NEWC_MAX_NAME)
		return NULL;
	for (p = name; *p != '\0';) {
		size_t n = strcspn(p, "/");

		if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
			return NULL;
		p += n;
		if (*p == '/')
			p++;
	}
	return name;
}

static int entry(struct cpio_writer *w, const char *name, uint32_t mode, uint32_t nlink,
		 uint32_t rmajor, uint32_t rminor, const void *data, size_t len)
{
	char hdr[128]; /* NEWC_HDR_LEN, with room the compiler can see */
	size_t namesize = strlen(name) + 1;

	if (len > UINT32_MAX)
		return -EINVAL;
	int n = snprintf(hdr, sizeof(hdr),
			 NEWC_MAGIC "%08X%08X%08X%08X%08X%08X%08zX%08X%08X%08X%08X%08zX%08X",
			 w->next_ino++, mode, 0u, 0u, nlink, 0u, len, 0u, 0u, rmajor, rminor,
			 namesize, 0u);
	assert(n == NEWC_HDR_LEN);
	(void)n;
	put(w, hdr, NEWC_HDR_LEN);
	put(w, name, namesize);
	pad(w);
	put(w, data, len);
	pad(w);
	return w->error;
}

int cpio_add_dir(struct cpio_writer *w, const char *name, mode_t perm)
{
	name = check_name(name);
	if (name == NULL || (perm & ~07777u) != 0)
		return -EINVAL;
	return entry(w, name, S_IFDIR | perm, 2, 0, 0, NULL, 0);
}

int cpio_add_node(struct cpio_writer *w, const char *name, mode_t perm, char type,
		  unsigned int major, unsigned int minor)
{
	name = check_name(name);
	if (name == NULL || (perm & ~07777u) != 0 || (type != 'c' && type != 'b'))
		return -EINVAL;
	return entry(w, name, (type == 'c' ? S_IFCHR : S_IFBLK) | perm, 1, major, minor, NULL, 0);
}

int cpio_add_file(struct cpio_writer *w, const char *name, mode_t perm, const void *data,
		  size_t len)
{
	name = check_name(name);
	if (name == NULL || (perm & ~07777u) != 0)
		return -EINVAL;
	return entry(w, name, S_IFREG | perm, 1, 0, 0, data, len);
}

int cpio_finish(struct cpio_writer *w)
{
	/* The trailer carries nlink 1 and inode 0 by convention. */
	w->next_ino = 0;
	entry(w, "TRAILER!!!", 0, 1, 0, 0, NULL, 0);
	if (w->error == 0 && fflush(w->out) != 0)
		w->error = -EIO;
	return w->error;
}
