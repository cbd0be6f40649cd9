/* shape: the JSON shapes of Lambda's responses (FunctionConfiguration, GetFunction, concurrency, account settings).
 *
 * Contract: each shape_* returns a new cJSON tree the caller owns (NULL if
 * out of memory), with Lambda's field names and value formats:
 * - shape_config(): FunctionConfiguration of one version. FunctionArn is
 *   qualified (":<version>") for published versions, and for $LATEST only
 *   when `qualify_latest` (ListVersionsByFunction does; GetFunction does
 *   not). State is Active and LastUpdateStatus Successful: emberd answers a
 *   change only after its code image is built. Fields ember does not
 *   implement carry Lambda's defaults (TracingConfig PassThrough,
 *   EphemeralStorage 512, SnapStart off, LoggingConfig Text).
 * - shape_function(): GetFunction's {Configuration, Code, Concurrency?}; Code.Location
 *   only when location is non-empty.
 * - shape_concurrency(): {"ReservedConcurrentExecutions": N}, or {} for none.
 * - shape_account(): GetAccountSettings.
 * Thread: any. */
#ifndef EMBER_API_SHAPE_H
#define EMBER_API_SHAPE_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>

#include "api/store/fn.h"

#define SHAPE_ACCOUNT_CONCURRENCY 1000u		 /* what GetAccountSettings reports */
#define SHAPE_UNRESERVED_MIN	  100u		 /* Lambda keeps this many unreserved */
#define SHAPE_TOTAL_CODE_SIZE	  80530636800ull /* Lambda's 75 GB per account */

struct shape_account {
	uint64_t code_bytes;
	uint64_t function_count;
	uint64_t reserved_total;
	uint64_t zipped_max, unzipped_max;
};

cJSON *shape_config(const struct fn *f, bool qualify_latest);
cJSON *shape_function(const struct fn *f, int64_t reserved, const char *location);
cJSON *shape_concurrency(int64_t reserved);
cJSON *shape_account(const struct shape_account *a);

#endif
