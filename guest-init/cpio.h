/* cpio: write a newc ("070701") archive, the format the kernel unpacks as an
 * initramfs.
 *
 * Output is reproducible: every entry has uid 0, gid 0 and mtime 0, and
 * inode numbers count up from 1 in the order entries are added, so the same
 * calls give the same bytes. Names are stored without a leading '/'. Parent
 * directories must be added before their children; the writer does not
 * invent them. Errors are negative errno values (EINVAL for a bad name or
 * mode, EIO for a failed write). */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

struct cpio_writer {
	FILE *out;
	uint32_t next_ino;
	uint64_t offset; /* bytes written so far, for padding */
	int error;	 /* sticky: the first failure */
};

void cpio_init(struct cpio_writer *w, FILE *out);
int cpio_add_dir(struct cpio_writer *w, const char *name, mode_t perm);
/* A device node: type is 'c' or 'b'. */
int cpio_add_node(struct cpio_writer *w, const char *name, mode_t perm, char type,
		  unsigned int major, unsigned int minor);
int cpio_add_file(struct cpio_writer *w, const char *name, mode_t perm, const void *data,
		  size_t len);
/* Writes the trailer and flushes; returns the first error of the archive. */
int cpio_finish(struct cpio_writer *w);
