// zlib (Debian's zlib1g-dev): its CRC-32, the checksum every ZIP member carries. Tandem
// compresses with zstd and lz4; zlib is here for the checksum alone.
#include <zlib.h>
