// xxHash (libxxhash, Debian's libxxhash-dev): XXH3-64, a non-cryptographic checksum at memory
// speed. Tandem uses it to prove a sealed blob decodes to the plaintext its ID was taken of,
// without hashing the plaintext a second time with the suite's cryptographic hash.
#include <xxhash.h>
