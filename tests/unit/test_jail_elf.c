/* Unit tests for vmm/jail/elf.c: interpreter and DT_NEEDED of real and broken ELF images. */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "vmm/jail/elf.h"

static struct elf_deps d;

/* This test program itself: a dynamically linked PIE (as ember-vmm is). */
static uint8_t *read_self(size_t *len)
{
	struct stat st;
	uint8_t *buf;
	int fd = open("/proc/self/exe", O_RDONLY);

	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	buf = malloc((size_t)st.st_size);
	assert_non_null(buf);
	assert_int_equal(read(fd, buf, (size_t)st.st_size), st.st_size);
	close(fd);
	*len = (size_t)st.st_size;
	return buf;
}

static bool needs(const char *name)
{
	for (unsigned i = 0; i < d.nneeded; i++)
		if (strcmp(d.needed[i], name) == 0)
			return true;
	return false;
}

static void test_self(void **state)
{
	size_t len;
	uint8_t *buf = read_self(&len);

	(void)state;
	assert_int_equal(elf_deps(buf, len, &d), 0);
	assert_string_equal(d.interp, "/lib64/ld-linux-x86-64.so.2");
	assert_true(needs("libc.so.6"));
	assert_true(needs("libcmocka.so.0"));
	assert_false(d.has_runpath);
	free(buf);
}

static void test_truncated_and_garbage(void **state)
{
	size_t len;
	uint8_t *buf = read_self(&len);
	Elf64_Ehdr *eh = (Elf64_Ehdr *)buf;

	(void)state;
	/* Cut anywhere in the headers: refused, never read past the end. */
	for (size_t cut = 0; cut < 4096 && cut < len; cut += 7)
		assert_int_equal(elf_deps(buf, cut, &d), -ENOEXEC);
	eh->e_ident[EI_CLASS] = ELFCLASS32;
	assert_int_equal(elf_deps(buf, len, &d), -ENOEXEC);
	eh->e_ident[EI_CLASS] = ELFCLASS64;
	eh->e_phoff = len - 8; /* program headers past the end */
	assert_int_equal(elf_deps(buf, len, &d), -ENOEXEC);
	eh->e_phoff = UINT64_MAX - 16; /* and an offset that wraps */
	assert_int_equal(elf_deps(buf, len, &d), -ENOEXEC);
	memcpy(buf, "#!/bin/sh\n", 10);
	assert_int_equal(elf_deps(buf, len, &d), -ENOEXEC);
	free(buf);
}

/* A minimal static ELF: a header and one PT_LOAD, no interpreter. */
static void test_static(void **state)
{
	struct {
		Elf64_Ehdr eh;
		Elf64_Phdr ph;
	} img = { 0 };

	(void)state;
	memcpy(img.eh.e_ident, ELFMAG, SELFMAG);
	img.eh.e_ident[EI_CLASS] = ELFCLASS64;
	img.eh.e_phoff = sizeof(img.eh);
	img.eh.e_phentsize = sizeof(Elf64_Phdr);
	img.eh.e_phnum = 1;
	img.ph.p_type = PT_LOAD;
	assert_int_equal(elf_deps((const uint8_t *)&img, sizeof(img), &d), 0);
	assert_string_equal(d.interp, "");
	assert_int_equal(d.nneeded, 0);
	img.eh.e_phnum = ELF_MAX_PHDRS + 1;
	assert_int_equal(elf_deps((const uint8_t *)&img, sizeof(img), &d), -ENOEXEC);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_self),
		cmocka_unit_test(test_truncated_and_garbage),
		cmocka_unit_test(test_static),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
