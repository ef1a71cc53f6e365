#ifndef SWIFTFL_CSHIMS_H
#define SWIFTFL_CSHIMS_H

#include <sys/types.h>
#include <spawn.h>
#include <signal.h>

// Linux calls that Swift's Glibc module does not expose (they need _GNU_SOURCE), wrapped here.

/// accept4(2) with SOCK_CLOEXEC | SOCK_NONBLOCK, so no child can inherit the socket in between.
int fl_accept_cloexec(int fd);
/// pipe2(2) with O_CLOEXEC.
int fl_pipe_cloexec(int fds[2]);

/// Bytes a write to socket `fd` can queue now without blocking (its send buffer less what is still
/// unsent, SIOCOUTQ); -1 when the kernel will not say.
long fl_socket_send_space(int fd);
/// Adds "close every descriptor from `lowfd` up" to spawn file actions (glibc 2.34+).
int fl_spawn_file_actions_addclosefrom(posix_spawn_file_actions_t *actions, int lowfd);
/// Adds "change to `path`" to spawn file actions (glibc 2.29+).
int fl_spawn_file_actions_addchdir(posix_spawn_file_actions_t *actions, const char *path);
/// Unblocks every signal in the calling thread, so a process started from a thread that masks
/// SIGTERM still obeys it.
void fl_unblock_all_signals(void);
/// prctl(PR_SET_PDEATHSIG, sig): the kernel sends `sig` to this process when the thread that
/// started it ends. Returns 0 on success.
int fl_set_parent_death_signal(int sig);

/// Keeps freed memory for reuse instead of returning it to the kernel at once, and serves blocks up
/// to 32 MiB from the heap rather than fresh mmaps, so a model-sized buffer allocated every round does
/// not page-fault its way in every round.
void fl_retain_freed_memory(void);

/// epoll_create1(EPOLL_CLOEXEC).
int fl_epoll_create(void);
/// epoll_ctl with `op` 0 = add, 1 = modify, 2 = delete; `readable` asks for EPOLLIN (level-triggered,
/// with EPOLLRDHUP); a descriptor registered without it still reports hang-ups and errors. `token`
/// comes back with each event. The shim exists because epoll_event is packed on x86_64 and Glibc's
/// module does not expose epoll at all.
int fl_epoll_control(int epfd, int op, int fd, int readable, unsigned long long token);
/// epoll_wait into a plain array: the tokens of up to `capacity` (at most 256) ready descriptors.
/// Returns the count, or -1 with errno.
int fl_epoll_wait(int epfd, unsigned long long *tokens, int capacity, int timeoutMilliseconds);

#endif
