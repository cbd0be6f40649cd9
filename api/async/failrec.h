/* failrec: the failed record's JSON: one object per failed event, appended as a line to $home/failed/<name>/events.jsonl and shown by the API.
 *
 * Contract:
 * - failrec_json() builds {"id", "requestId", "functionName", "qualifier",
 *   "condition", "attempts", "errorType", "errorMessage", "enqueuedAt",
 *   "failedAt" (ISO 8601, UTC, ms), "requestPayload"} from f; the payload
 *   is embedded as JSON (null when empty, a string when it does not parse).
 *   NULL if out of memory.
 * - failrec_append() appends that object as one line to the function's
 *   file (folders 0700, file 0600, created as needed) and syncs it. The
 *   failed_events table stays the authority: the file is for people and
 *   scripts (a crash between the two can leave a line out).
 * Errors: negative errno, logged. Thread: any. */
#ifndef EMBER_API_FAILREC_H
#define EMBER_API_FAILREC_H

#include <cjson/cJSON.h>

#include "api/async/evdb.h"

cJSON *failrec_json(const struct evfailed *f);
int failrec_append(const char *home, const struct evfailed *f);

#endif
