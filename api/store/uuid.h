/* uuid: random (version 4) UUIDs for revision ids and request ids.
 *
 * Contract: uuid_v4() writes 36 characters and a NUL ("xxxxxxxx-xxxx-4xxx-
 * yxxx-xxxxxxxxxxxx", lower case) from getrandom(2); -EIO if the kernel gave
 * no randomness (it never blocks after boot). Thread: any. */
#ifndef EMBER_API_UUID_H
#define EMBER_API_UUID_H

#define UUID_STR_LEN 36

int uuid_v4(char out[UUID_STR_LEN + 1]);

#endif
