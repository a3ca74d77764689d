/*
 * mb_server.c - single-threaded many-client Modbus TCP server (libmodbus).
 *
 * Reference server for the rigd benchmarks. One thread poll()s the
 * listening socket and every client socket, and answers each request with
 * modbus_receive()/modbus_reply() on one shared mapping (the pattern of
 * libmodbus's tests/bandwidth-server-many-up.c).
 *
 * Mapping: 0 coils, 0 discrete inputs, 0 holding registers and 512 input
 * registers (addresses 0..511) whose value equals their address. Every unit
 * id is served (libmodbus does not filter unit ids on TCP).
 *
 * Usage:  mb_server HOST PORT        (PORT 0 = any free port)
 * Stdout: exactly one line "listening on HOST:PORT" (real bound port).
 * Exits 0 on SIGTERM/SIGINT. A client disconnect or broken frame closes
 * only that client.
 *
 * Build:
 *   cc -O2 -Wall -Wextra -o mb_server mb_server.c $(pkg-config --cflags --libs libmodbus)
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <modbus.h>

#define NB_INPUT_REGISTERS 512
#define LISTEN_BACKLOG 1024
#define POLL_TIMEOUT_MS 100

static volatile sig_atomic_t stop_requested = 0;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static void usage(const char *prog)
{
    fprintf(stderr, "usage: %s HOST PORT   (PORT 0 = any free port)\n", prog);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        usage(argv[0]);
        return 2;
    }
    const char *host = argv[1];
    char *end = NULL;
    long port = strtol(argv[2], &end, 10);
    if (end == argv[2] || *end != '\0' || port < 0 || port > 65535) {
        fprintf(stderr, "mb_server: invalid port '%s'\n", argv[2]);
        usage(argv[0]);
        return 2;
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0; /* no SA_RESTART: let poll() return EINTR */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    /* IPv4 literal -> classic API; anything else (IPv6, names) -> _pi API. */
    struct in_addr v4;
    int use_pi = inet_pton(AF_INET, host, &v4) != 1;
    modbus_t *ctx;
    if (use_pi) {
        char service[8];
        snprintf(service, sizeof(service), "%ld", port);
        ctx = modbus_new_tcp_pi(host, service);
    } else {
        ctx = modbus_new_tcp(host, (int)port);
    }
    if (ctx == NULL) {
        fprintf(stderr, "mb_server: cannot create context for %s:%ld: %s\n",
                host, port, modbus_strerror(errno));
        return 1;
    }

    modbus_mapping_t *map = modbus_mapping_new_start_address(
        0, 0, 0, 0, 0, 0, 0, NB_INPUT_REGISTERS);
    if (map == NULL) {
        fprintf(stderr, "mb_server: cannot allocate mapping: %s\n",
                modbus_strerror(errno));
        modbus_free(ctx);
        return 1;
    }
    for (int i = 0; i < NB_INPUT_REGISTERS; i++)
        map->tab_input_registers[i] = (uint16_t)i;

    int listen_fd = use_pi ? modbus_tcp_pi_listen(ctx, LISTEN_BACKLOG)
                           : modbus_tcp_listen(ctx, LISTEN_BACKLOG);
    if (listen_fd == -1) {
        fprintf(stderr, "mb_server: cannot listen on %s:%ld: %s\n",
                host, port, modbus_strerror(errno));
        modbus_mapping_free(map);
        modbus_free(ctx);
        return 1;
    }

    struct sockaddr_storage ss;
    socklen_t sslen = sizeof(ss);
    int bound_port = (int)port;
    if (getsockname(listen_fd, (struct sockaddr *)&ss, &sslen) == 0) {
        if (ss.ss_family == AF_INET)
            bound_port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
        else if (ss.ss_family == AF_INET6)
            bound_port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    } else {
        perror("mb_server: getsockname");
    }
    /* Non-blocking listener so we can drain the accept queue; accepted
     * sockets stay blocking (libmodbus select()s before each recv()). */
    int lfl = fcntl(listen_fd, F_GETFL);
    if (lfl == -1 || fcntl(listen_fd, F_SETFL, lfl | O_NONBLOCK) == -1) {
        perror("mb_server: fcntl(O_NONBLOCK)");
        return 1;
    }
    printf("listening on %s:%d\n", host, bound_port);
    fflush(stdout);

    /* pfds[0] is the listening socket, the rest are clients. */
    size_t cap = 64, nfds = 1;
    struct pollfd *pfds = calloc(cap, sizeof(*pfds));
    if (pfds == NULL) {
        perror("mb_server: calloc");
        return 1;
    }
    pfds[0].fd = listen_fd;
    pfds[0].events = POLLIN;

    uint8_t query[MODBUS_TCP_MAX_ADU_LENGTH];
    int exit_code = 0;

    while (!stop_requested) {
        int n = poll(pfds, (nfds_t)nfds, POLL_TIMEOUT_MS);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            perror("mb_server: poll");
            exit_code = 1;
            break;
        }
        if (n == 0)
            continue;

        /* Clients first (iterate over the set as it was polled). */
        size_t polled = nfds;
        for (size_t i = 1; i < polled && !stop_requested; i++) {
            if (pfds[i].revents == 0)
                continue;
            int fd = pfds[i].fd;
            int rc = -1;
            if (pfds[i].revents & (POLLIN | POLLHUP | POLLERR)) {
                modbus_set_socket(ctx, fd);
                rc = modbus_receive(ctx, query);
                if (rc > 0 && modbus_reply(ctx, query, rc, map) == -1)
                    rc = -1;
            }
            if (rc == -1 || (pfds[i].revents & POLLNVAL)) {
                close(fd);
                pfds[i].fd = -1; /* compacted below */
            }
            /* rc == 0: request ignored by libmodbus, keep the client. */
        }
        /* Compact closed entries. */
        size_t w = 1;
        for (size_t r = 1; r < nfds; r++) {
            if (pfds[r].fd >= 0)
                pfds[w++] = pfds[r];
        }
        nfds = w;

        if (pfds[0].revents & POLLIN) {
            for (;;) { /* accept everything pending */
                int cfd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
                if (cfd == -1) {
                    if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
                        errno != ECONNABORTED)
                        perror("mb_server: accept");
                    break;
                }
                int one = 1;
                setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
                if (cfd >= FD_SETSIZE) {
                    /* libmodbus uses select() internally; it cannot handle it. */
                    fprintf(stderr, "mb_server: fd %d >= FD_SETSIZE, refusing client\n", cfd);
                    close(cfd);
                    continue;
                }
                if (nfds == cap) {
                    size_t ncap = cap * 2;
                    struct pollfd *np = realloc(pfds, ncap * sizeof(*np));
                    if (np == NULL) {
                        close(cfd);
                        break;
                    }
                    pfds = np;
                    cap = ncap;
                }
                pfds[nfds].fd = cfd;
                pfds[nfds].events = POLLIN;
                pfds[nfds].revents = 0;
                nfds++;
            }
        }
    }

    for (size_t i = 1; i < nfds; i++)
        close(pfds[i].fd);
    free(pfds);
    close(listen_fd);
    modbus_set_socket(ctx, -1);
    modbus_mapping_free(map);
    modbus_free(ctx);
    return exit_code;
}
