// glibc functions the transports need that Swift's Glibc module hides behind _GNU_SOURCE.
#ifndef PGHA_POSIX_H
#define PGHA_POSIX_H
#ifdef __linux__
#include <spawn.h>
#include <unistd.h>

/// pipe(2) with flags (O_CLOEXEC): no window in which another thread's spawn inherits the pipe.
extern int pipe2(int pipefd[2], int flags);
/// Close every descriptor from `from` up in the child (glibc 2.34+).
extern int posix_spawn_file_actions_addclosefrom_np(posix_spawn_file_actions_t *actions, int from);
#endif
#endif
