// Linux headers that Glibc's Swift module does not cover.
#include <sys/xattr.h>
#include <malloc.h>
