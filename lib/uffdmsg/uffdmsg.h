/* uffdmsg: the message a VMM hands a page-fault handler for the Uffd memory backend (Firecracker's protocol).
 *
 * The VMM connects to the handler's Unix socket and sends, in one
 * sendmsg(), a JSON list of Firecracker's GuestRegionUffdMapping, one object
 * per guest memory region in guest-physical order:
 *   [{"base_host_virt_addr": A, "size": S, "offset": O, "page_size": P}, ...]
 * with the userfaultfd attached as SCM_RIGHTS data; then it closes the
 * connection. A is the region's address in the VMM, S its length, O its
 * offset in the snapshot's memory file, P the page size, all in bytes.
 *
 * Contract:
 * - uffdmsg_encode() writes the JSON (NUL-terminated) into buf and returns
 *   its length, or -ENOSPC if it does not fit in cap (UFFDMSG_MAX is always
 *   enough for UFFDMSG_MAX_REGIONS regions).
 * - uffdmsg_decode() parses and checks a message: an array of 1 to
 *   UFFDMSG_MAX_REGIONS objects with exactly the four fields as non-negative
 *   integers below 2^53, page_size 4096, and base, size and offset multiples
 *   of it, size > 0. It fills out[] and *n, or returns -EINVAL with the
 *   reason in err. Whether offset+size fits the handler's file is the
 *   handler's check.
 * - uffdmsg_send() (VMM side) connects to sock_path, sends json with uffd
 *   attached and closes; uffdmsg_recv() (handler side) reads one message to
 *   EOF from a connected socket, NUL-terminates it and returns the attached
 *   fd (close-on-exec) in *uffd.
 * Errors: negative errno (-ENAMETOOLONG, -ECONNREFUSED/-ENOENT: nobody
 * listening, -EPIPE: the peer closed, -EPROTO: no fd came, -EMSGSIZE: longer
 * than cap), with a reason in err where the function takes one. No global
 * state; any thread. */
#ifndef EMBER_UFFDMSG_H
#define EMBER_UFFDMSG_H

#include <stddef.h>
#include <stdint.h>

#define UFFDMSG_MAX_REGIONS 16
#define UFFDMSG_MAX	    4096 /* bytes of JSON, with the NUL */
#define UFFDMSG_PAGE_SIZE   4096

struct uffdmsg_region {
	uint64_t base_host_virt_addr, size, offset, page_size;
};

int uffdmsg_encode(const struct uffdmsg_region *r, unsigned n, char *buf, size_t cap);
int uffdmsg_decode(const char *json, struct uffdmsg_region *out, unsigned *n, char *err,
		   size_t errlen);
int uffdmsg_send(const char *sock_path, const char *json, size_t len, int uffd, char *err,
		 size_t errlen);
int uffdmsg_recv(int conn, char *json, size_t cap, int *uffd);

#endif
