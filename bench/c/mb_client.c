/*
 * mb_client.c - closed-loop Modbus TCP load client (libmodbus + pthreads).
 *
 * Usage:
 *   mb_client HOST PORT --clients N --registers R --address A --seconds S
 *             [--warmup W] [--unit U] [--verify]
 *
 * Starts N threads. Each opens its own connection (modbus_new_tcp,
 * modbus_set_slave(U, default 1), response timeout 1 s, modbus_connect) and
 * issues modbus_read_input_registers(ctx, A, R, buf) back to back, timing
 * each call with CLOCK_MONOTONIC. Transactions completing during the first W
 * seconds (default 0.5) are not counted; those completing during the next S
 * seconds are. A failed read counts one error; unless the failure was a
 * Modbus exception response (connection still fine) the thread closes and
 * reconnects (each failed reconnect attempt also counts one error, retried
 * every 50 ms). Errors are counted inside the measurement window only.
 * With --verify, a response whose register i != A+i counts as an error
 * (this matches mb_server / pymodbus_server.py, where value == address).
 *
 * Latencies go into a per-thread log-linear histogram (128 sub-buckets per
 * power of two of nanoseconds, midpoint reported: <= 0.4 % error), merged
 * at the end. max_us is exact.
 *
 * Output: one JSON line on stdout:
 *   {"tool":"c-libmodbus","clients":N,"registers":R,"seconds":S,
 *    "transactions":T,"errors":E,"tx_per_s":X,"p50_us":..,"p99_us":..,"max_us":..}
 * Exit status 0 if at least one transaction succeeded in the window, else 1
 * (with a message naming HOST:PORT and the last libmodbus error on stderr).
 *
 * Build:
 *   cc -O2 -Wall -Wextra -o mb_client mb_client.c $(pkg-config --cflags --libs libmodbus) -lpthread
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <modbus.h>

/* ---- histogram ---------------------------------------------------------- */

#define SUB_BITS 7                      /* 128 sub-buckets per octave */
#define SUB_COUNT (1u << SUB_BITS)
#define MAX_EXP 40                      /* up to 2^40 ns (~18 min) */
#define HIST_SIZE ((MAX_EXP - SUB_BITS + 1) * SUB_COUNT + SUB_COUNT)

static inline unsigned hist_index(uint64_t ns)
{
    if (ns < SUB_COUNT)
        return (unsigned)ns;
    unsigned e = 63u - (unsigned)__builtin_clzll(ns); /* floor(log2 ns) >= SUB_BITS */
    if (e > MAX_EXP)
        return HIST_SIZE - 1;
    unsigned shift = e - SUB_BITS;
    unsigned mant = (unsigned)(ns >> shift); /* in [128, 255] */
    return (shift + 1) * SUB_COUNT + (mant - SUB_COUNT);
}

/* Midpoint of a bucket, in ns. */
static double hist_value(unsigned idx)
{
    if (idx < SUB_COUNT)
        return (double)idx;
    unsigned shift = idx / SUB_COUNT - 1;
    unsigned mant = idx % SUB_COUNT + SUB_COUNT;
    double lo = (double)((uint64_t)mant << shift);
    double width = (double)((uint64_t)1 << shift);
    return lo + (width - 1.0) / 2.0;
}

/* ---- config / shared state --------------------------------------------- */

static const char *g_host;
static int g_port;
static int g_clients = 1, g_registers = 1, g_address = 0, g_unit = 1, g_verify = 0;
static double g_seconds = -1.0, g_warmup = 0.5;

static uint64_t g_measure_start_ns, g_measure_end_ns;
static pthread_barrier_t g_ready, g_go;

static pthread_mutex_t g_err_lock = PTHREAD_MUTEX_INITIALIZER;
static char g_last_error[256];

typedef struct {
    int id;
    uint64_t transactions;
    uint64_t errors;
    uint64_t max_ns;
    uint64_t *hist;
    char pad[64];
} worker_t;

static inline uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void record_error(const char *what, int err)
{
    pthread_mutex_lock(&g_err_lock);
    snprintf(g_last_error, sizeof(g_last_error), "%s: %s", what, modbus_strerror(err));
    pthread_mutex_unlock(&g_err_lock);
}

static modbus_t *new_ctx(void)
{
    struct in_addr v4;
    modbus_t *ctx;
    if (inet_pton(AF_INET, g_host, &v4) == 1) {
        ctx = modbus_new_tcp(g_host, g_port);
    } else {
        char service[8];
        snprintf(service, sizeof(service), "%d", g_port);
        ctx = modbus_new_tcp_pi(g_host, service);
    }
    if (ctx == NULL)
        return NULL;
    modbus_set_slave(ctx, g_unit);
    modbus_set_response_timeout(ctx, 1, 0);
    return ctx;
}

static inline int in_window(uint64_t t)
{
    return t >= g_measure_start_ns && t < g_measure_end_ns;
}

static void *worker_main(void *arg)
{
    worker_t *w = arg;
    uint16_t buf[MODBUS_MAX_READ_REGISTERS];
    modbus_t *ctx = new_ctx();
    int connected = 0;
    if (ctx == NULL) {
        record_error("modbus_new_tcp", errno);
    } else if (modbus_connect(ctx) == -1) {
        record_error("connect", errno);
    } else {
        connected = 1;
    }

    pthread_barrier_wait(&g_ready);
    pthread_barrier_wait(&g_go); /* main has set the measurement window */

    const uint64_t end = g_measure_end_ns;
    for (;;) {
        if (ctx == NULL) {
            uint64_t t = now_ns();
            if (t >= end)
                break;
            if (in_window(t))
                w->errors++;
            usleep(50000);
            ctx = new_ctx();
            if (ctx == NULL)
                record_error("modbus_new_tcp", errno);
            continue;
        }
        if (!connected) {
            uint64_t t = now_ns();
            if (t >= end)
                break;
            if (modbus_connect(ctx) == -1) {
                record_error("connect", errno);
                if (in_window(now_ns()))
                    w->errors++;
                modbus_close(ctx);
                usleep(50000);
                continue;
            }
            connected = 1;
        }

        uint64_t t0 = now_ns();
        int rc = modbus_read_input_registers(ctx, g_address, g_registers, buf);
        uint64_t t1 = now_ns();
        if (t1 >= end)
            break;
        if (rc != g_registers) {
            int err = errno;
            record_error(rc == -1 ? "read_input_registers" : "short read", rc == -1 ? err : EMBBADDATA);
            if (in_window(t1))
                w->errors++;
            /* A Modbus exception response (illegal address, ...) leaves the
             * connection usable; anything else (timeout, reset, bad frame)
             * gets a fresh connection. */
            if (!(rc == -1 && err > MODBUS_ENOBASE && err <= EMBXGTAR)) {
                modbus_close(ctx);
                connected = 0;
            }
            continue;
        }
        if (g_verify) {
            int bad = 0;
            for (int i = 0; i < g_registers; i++) {
                if (buf[i] != (uint16_t)(g_address + i)) {
                    bad = 1;
                    break;
                }
            }
            if (bad) {
                pthread_mutex_lock(&g_err_lock);
                snprintf(g_last_error, sizeof(g_last_error),
                         "verify: register values differ from their addresses");
                pthread_mutex_unlock(&g_err_lock);
                if (in_window(t1))
                    w->errors++;
                continue;
            }
        }
        if (t1 >= g_measure_start_ns) {
            uint64_t d = t1 - t0;
            w->transactions++;
            w->hist[hist_index(d)]++;
            if (d > w->max_ns)
                w->max_ns = d;
        }
    }
    if (ctx != NULL) {
        modbus_close(ctx);
        modbus_free(ctx);
    }
    return NULL;
}

/* ---- CLI ---------------------------------------------------------------- */

static void usage(void)
{
    fprintf(stderr,
            "usage: mb_client HOST PORT --clients N --registers R --address A "
            "--seconds S [--warmup W] [--unit U] [--verify]\n");
}

static int parse_int(const char *s, long lo, long hi, int *out)
{
    char *e = NULL;
    errno = 0;
    long v = strtol(s, &e, 10);
    if (errno || e == s || *e != '\0' || v < lo || v > hi)
        return -1;
    *out = (int)v;
    return 0;
}

static int parse_double(const char *s, double lo, double *out)
{
    char *e = NULL;
    errno = 0;
    double v = strtod(s, &e);
    if (errno || e == s || *e != '\0' || !(v >= lo))
        return -1;
    *out = v;
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        usage();
        return 2;
    }
    g_host = argv[1];
    if (parse_int(argv[2], 1, 65535, &g_port)) {
        fprintf(stderr, "mb_client: invalid port '%s'\n", argv[2]);
        return 2;
    }
    int have_clients = 0, have_regs = 0, have_addr = 0;
    for (int i = 3; i < argc; i++) {
        const char *a = argv[i];
        const char *v = (i + 1 < argc) ? argv[i + 1] : NULL;
        int bad = 0;
        if (!strcmp(a, "--verify")) {
            g_verify = 1;
            continue;
        }
        if (v == NULL) {
            fprintf(stderr, "mb_client: %s needs a value\n", a);
            usage();
            return 2;
        }
        if (!strcmp(a, "--clients")) {
            /* libmodbus select()s on each socket: fds must stay < FD_SETSIZE */
            bad = parse_int(v, 1, 1000, &g_clients);
            have_clients = 1;
        } else if (!strcmp(a, "--registers")) {
            bad = parse_int(v, 1, MODBUS_MAX_READ_REGISTERS, &g_registers);
            have_regs = 1;
        } else if (!strcmp(a, "--address")) {
            bad = parse_int(v, 0, 65535, &g_address);
            have_addr = 1;
        } else if (!strcmp(a, "--seconds")) {
            bad = parse_double(v, 0.001, &g_seconds);
        } else if (!strcmp(a, "--warmup")) {
            bad = parse_double(v, 0.0, &g_warmup);
        } else if (!strcmp(a, "--unit")) {
            bad = parse_int(v, 0, 255, &g_unit);
        } else {
            fprintf(stderr, "mb_client: unknown option %s\n", a);
            usage();
            return 2;
        }
        if (bad) {
            fprintf(stderr, "mb_client: invalid value for %s: '%s'\n", a, v);
            return 2;
        }
        i++;
    }
    if (!have_clients || !have_regs || !have_addr || g_seconds < 0) {
        usage();
        return 2;
    }
    if (g_address + g_registers > 65536) {
        fprintf(stderr, "mb_client: address + registers exceeds 65536\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);

    worker_t *workers = calloc((size_t)g_clients, sizeof(*workers));
    pthread_t *tids = calloc((size_t)g_clients, sizeof(*tids));
    if (workers == NULL || tids == NULL) {
        perror("mb_client: calloc");
        return 1;
    }
    pthread_barrier_init(&g_ready, NULL, (unsigned)g_clients + 1);
    pthread_barrier_init(&g_go, NULL, (unsigned)g_clients + 1);

    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    for (int i = 0; i < g_clients; i++) {
        workers[i].id = i;
        workers[i].hist = calloc(HIST_SIZE, sizeof(uint64_t));
        if (workers[i].hist == NULL) {
            perror("mb_client: calloc");
            return 1;
        }
        int rc = pthread_create(&tids[i], &attr, worker_main, &workers[i]);
        if (rc != 0) {
            fprintf(stderr, "mb_client: pthread_create: %s\n", strerror(rc));
            return 1;
        }
    }
    pthread_attr_destroy(&attr);

    pthread_barrier_wait(&g_ready); /* everyone connected (or failed to) */
    uint64_t t0 = now_ns();
    g_measure_start_ns = t0 + (uint64_t)(g_warmup * 1e9);
    g_measure_end_ns = g_measure_start_ns + (uint64_t)(g_seconds * 1e9);
    pthread_barrier_wait(&g_go);

    for (int i = 0; i < g_clients; i++)
        pthread_join(tids[i], NULL);

    uint64_t *hist = calloc(HIST_SIZE, sizeof(uint64_t));
    uint64_t total = 0, errors = 0, max_ns = 0;
    for (int i = 0; i < g_clients; i++) {
        total += workers[i].transactions;
        errors += workers[i].errors;
        if (workers[i].max_ns > max_ns)
            max_ns = workers[i].max_ns;
        for (unsigned b = 0; b < HIST_SIZE; b++)
            hist[b] += workers[i].hist[b];
        free(workers[i].hist);
    }

    double p50 = 0, p99 = 0;
    if (total > 0) {
        /* nearest-rank percentiles */
        uint64_t r50 = (total * 50 + 99) / 100;
        uint64_t r99 = (total * 99 + 99) / 100;
        if (r50 == 0) r50 = 1;
        if (r99 == 0) r99 = 1;
        uint64_t cum = 0;
        int got50 = 0;
        for (unsigned b = 0; b < HIST_SIZE; b++) {
            cum += hist[b];
            if (!got50 && cum >= r50) {
                p50 = hist_value(b);
                got50 = 1;
            }
            if (cum >= r99) {
                p99 = hist_value(b);
                break;
            }
        }
        /* a bucket midpoint may exceed the true max */
        if (p50 > (double)max_ns) p50 = (double)max_ns;
        if (p99 > (double)max_ns) p99 = (double)max_ns;
    }
    free(hist);

    double secs = (double)(g_measure_end_ns - g_measure_start_ns) / 1e9;
    printf("{\"tool\":\"c-libmodbus\",\"clients\":%d,\"registers\":%d,"
           "\"seconds\":%.3f,\"transactions\":%" PRIu64 ",\"errors\":%" PRIu64 ","
           "\"tx_per_s\":%.1f,\"p50_us\":%.1f,\"p99_us\":%.1f,\"max_us\":%.1f}\n",
           g_clients, g_registers, secs, total, errors,
           secs > 0 ? (double)total / secs : 0.0,
           p50 / 1e3, p99 / 1e3, (double)max_ns / 1e3);
    fflush(stdout);

    free(workers);
    free(tids);
    if (total == 0) {
        fprintf(stderr, "mb_client: no successful transaction against %s:%d: %s\n",
                g_host, g_port, g_last_error[0] ? g_last_error : "no error recorded");
        return 1;
    }
    return 0;
}
