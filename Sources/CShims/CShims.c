#define _GNU_SOURCE
#include "CShims.h"
#include <sys/socket.h>
#include <unistd.h>
#include <fcntl.h>
#include <malloc.h>
#include <sys/prctl.h>
#include <sys/ioctl.h>
#include <linux/sockios.h>
#include <sys/epoll.h>

int fl_accept_cloexec(int fd) {
    return accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
}

long fl_socket_send_space(int fd) {
    int queued = 0, size = 0;
    socklen_t length = sizeof(size);
    if (ioctl(fd, SIOCOUTQ, &queued) != 0) return -1;
    if (getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, &length) != 0) return -1;
    return (long)size - (long)queued;
}

int fl_pipe_cloexec(int fds[2]) {
    return pipe2(fds, O_CLOEXEC);
}

int fl_spawn_file_actions_addclosefrom(posix_spawn_file_actions_t *actions, int lowfd) {
    return posix_spawn_file_actions_addclosefrom_np(actions, lowfd);
}

int fl_spawn_file_actions_addchdir(posix_spawn_file_actions_t *actions, const char *path) {
    return posix_spawn_file_actions_addchdir_np(actions, path);
}

void fl_unblock_all_signals(void) {
    sigset_t set;
    sigemptyset(&set);
    pthread_sigmask(SIG_SETMASK, &set, NULL);
}

void fl_retain_freed_memory(void) {
    mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024);
    mallopt(M_TRIM_THRESHOLD, 256 * 1024 * 1024);
}

int fl_set_parent_death_signal(int sig) {
    return prctl(PR_SET_PDEATHSIG, (unsigned long)sig, 0, 0, 0);
}

int fl_epoll_create(void) {
    return epoll_create1(EPOLL_CLOEXEC);
}

int fl_epoll_control(int epfd, int op, int fd, int readable, unsigned long long token) {
    struct epoll_event event = {0};
    event.events = readable ? (EPOLLIN | EPOLLRDHUP) : 0;
    event.data.u64 = token;
    int ops[3] = {EPOLL_CTL_ADD, EPOLL_CTL_MOD, EPOLL_CTL_DEL};
    if (op < 0 || op > 2) return -1;
    return epoll_ctl(epfd, ops[op], fd, &event);
}

int fl_epoll_wait(int epfd, unsigned long long *tokens, int capacity, int timeoutMilliseconds) {
    struct epoll_event events[256];
    if (capacity > 256) capacity = 256;
    int n = epoll_wait(epfd, events, capacity, timeoutMilliseconds);
    for (int i = 0; i < n; i++) {
        tokens[i] = events[i].data.u64;
    }
    return n;
}
