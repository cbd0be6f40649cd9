/* san options: sanitizer defaults compiled into the sanitizer builds of ember-vmm and ember-init (make integration-san).
 *
 * Compiled in, not read from the environment, because the testbox runs
 * commands with only the environment a test passes. ember-vmm (ASan+UBSan,
 * SAN_REPORT_DIR set): every report goes to a file in SAN_REPORT_DIR, the
 * first one ends the process with exit code SAN_EXIT (no ember-vmm exit code
 * uses it), and leaks are reported at exit; make integration-san fails if
 * the folder holds any report. ember-init (UBSan, static, PID 1 of the
 * guest): the report goes to the console, and the process ends, so the
 * guest panics and the test that booted it fails. */
#include <stddef.h>

#ifdef SAN_REPORT_DIR
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
	return "halt_on_error=1:detect_leaks=1:exitcode=" SAN_EXIT ":log_path=" SAN_REPORT_DIR
	       "/asan";
}

const char *__ubsan_default_options(void);
const char *__ubsan_default_options(void)
{
	return "halt_on_error=1:print_stacktrace=1:exitcode=" SAN_EXIT ":log_path=" SAN_REPORT_DIR
	       "/ubsan";
}
#else
const char *__ubsan_default_options(void);
const char *__ubsan_default_options(void)
{
	return "halt_on_error=1:print_stacktrace=1:color=never";
}
#endif
