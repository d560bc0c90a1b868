/*
 * io - small file-descriptor helpers.
 */
#ifndef DG_IO_H
#define DG_IO_H

#include <stddef.h>

/* write_all: all n bytes, through short writes and EINTR. 0, or -1 with errno set. */
int write_all(int fd, const void *p, size_t n);

#endif
