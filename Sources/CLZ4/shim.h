#ifndef TANDEM_CLZ4_SHIM_H
#define TANDEM_CLZ4_SHIM_H
#include <lz4.h>
#endif
