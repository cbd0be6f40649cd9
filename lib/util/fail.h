/* fail: return an error code with a one-line message, for functions that take (char *err, size_t errlen).
 *
 * FAIL(ret, fmt, ...) writes the message into err (errlen bytes, truncated)
 * and returns ret from the calling function. ret is evaluated first, so
 * FAIL(-errno, "...: %s", strerror(errno)) returns the errno of the failed
 * call, not one snprintf may leave behind. */
#ifndef EMBER_FAIL_H
#define EMBER_FAIL_H

#include <stdio.h>

#define FAIL(ret_, ...)                                                                            \
	do {                                                                                       \
		int fail_ret_ = (ret_);                                                            \
		snprintf(err, errlen, __VA_ARGS__);                                                \
		return fail_ret_;                                                                  \
	} while (0)

#endif
