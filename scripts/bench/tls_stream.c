/*
 * tls_stream: the reference for fx-bench's TLS stream figure. The same OpenSSL, set up as SwiftFL's
 * TLSContext sets it up (TLS 1.3 only, the same cipher suites in the same order, mutual TLS with the
 * federation CA's EC P-256 certificates, read-ahead with a 256 KiB read buffer), streaming the same
 * bytes the same way (one connection over loopback TCP between two processes, 1 MiB SSL_write
 * calls, the receiver reading into a 1 MiB buffer, a small reply after each stream, best of three
 * streams) -- but in plain C with blocking sockets, so nothing of Swift, frames or polling is in it.
 *
 *   tls_stream CA SERVER_CERT SERVER_KEY CLIENT_CERT CLIENT_KEY BYTES [CHUNK]
 *
 * Prints `bytes_per_second N`, `sender_cpu_seconds S` (of the best stream) and `cipher NAME` on
 * standard output. Built by `make bench`:
 *   cc -O2 -o .build/release/tls-stream-reference scripts/bench/tls_stream.c $(pkg-config --cflags --libs openssl)
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CIPHER_SUITES "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256"
#define RUNS 3

static void die(const char *what) {
    fprintf(stderr, "tls_stream: %s\n", what);
    ERR_print_errors_fp(stderr);
    exit(1);
}

static SSL_CTX *context(int server, const char *ca, const char *cert, const char *key) {
    SSL_CTX *ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
    if (!ctx) die("SSL_CTX_new");
    if (!SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) || !SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION)) die("TLS 1.3");
    if (!SSL_CTX_set_ciphersuites(ctx, CIPHER_SUITES)) die("cipher suites");
    if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) die("certificate");
    if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) die("private key");
    if (SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1) die("CA");
    if (server) {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
        SSL_CTX_set_num_tickets(ctx, 0);
        SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    } else {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    }
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_read_ahead(ctx, 1);
    SSL_CTX_set_default_read_buffer_len(ctx, 256 * 1024);
    return ctx;
}

/* Writes all of `buffer`, as SwiftFL's TLSConnection.write does with partial writes enabled. */
static void write_all(SSL *ssl, const unsigned char *buffer, size_t count) {
    size_t offset = 0;
    while (offset < count) {
        size_t written = 0;
        if (SSL_write_ex(ssl, buffer + offset, count - offset, &written) != 1) die("SSL_write");
        offset += written;
    }
}

static void read_all(SSL *ssl, unsigned char *buffer, size_t count) {
    size_t offset = 0;
    while (offset < count) {
        size_t got = 0;
        if (SSL_read_ex(ssl, buffer + offset, count - offset, &got) != 1) die("SSL_read");
        offset += got;
    }
}

static void sink(int listener, SSL_CTX *ctx, size_t bytes, size_t chunk) {
    int fd = accept(listener, NULL, NULL);
    if (fd < 0) die("accept");
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    SSL *ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    if (SSL_accept(ssl) != 1) die("SSL_accept");
    unsigned char *buffer = malloc(chunk);
    for (int run = 0; run < RUNS; run++) {
        for (size_t received = 0; received < bytes;) {
            size_t n = bytes - received < chunk ? bytes - received : chunk;
            read_all(ssl, buffer, n);
            received += n;
        }
        unsigned char done = 1;
        write_all(ssl, &done, 1);
    }
    free(buffer);
    SSL_shutdown(ssl);
    SSL_free(ssl);
    close(fd);
}

static double seconds(clockid_t clock) {
    struct timespec t;
    clock_gettime(clock, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    if (argc < 7) {
        fprintf(stderr, "usage: tls_stream CA SERVER_CERT SERVER_KEY CLIENT_CERT CLIENT_KEY BYTES [CHUNK]\n");
        return 64;
    }
    size_t bytes = strtoull(argv[6], NULL, 10);
    size_t chunk = argc > 7 ? strtoull(argv[7], NULL, 10) : 1 << 20;
    if (bytes == 0 || chunk == 0) die("BYTES and CHUNK must be positive");
    OPENSSL_init_ssl(OPENSSL_INIT_NO_ATEXIT, NULL);

    int listener = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = 0};
    inet_pton(AF_INET, "127.0.0.1", &address.sin_addr);
    socklen_t length = sizeof address;
    if (bind(listener, (struct sockaddr *)&address, length) != 0 || listen(listener, 1) != 0) die("listen");
    if (getsockname(listener, (struct sockaddr *)&address, &length) != 0) die("getsockname");

    pid_t child = fork();
    if (child < 0) die("fork");
    if (child == 0) {
        sink(listener, context(1, argv[1], argv[2], argv[3]), bytes, chunk);
        _exit(0);
    }
    close(listener);

    SSL_CTX *ctx = context(0, argv[1], argv[4], argv[5]);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(fd, (struct sockaddr *)&address, sizeof address) != 0) die("connect");
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    SSL *ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), "127.0.0.1");
    if (SSL_connect(ssl) != 1) die("SSL_connect");

    /* One chunk-sized buffer of varied bytes, sent over and over (as fx-bench's PatternSource). */
    unsigned char *pattern = malloc(chunk);
    unsigned long long state = 0x9e3779b97f4a7c15ULL;
    for (size_t i = 0; i < chunk; i++) {
        state = state * 6364136223846793005ULL + 1442695040888963407ULL;
        pattern[i] = (unsigned char)(state >> 56);
    }
    double best = 0, best_cpu = 0;
    for (int run = 0; run < RUNS; run++) {
        double start = seconds(CLOCK_MONOTONIC), cpu = seconds(CLOCK_PROCESS_CPUTIME_ID);
        for (size_t sent = 0; sent < bytes;) {
            size_t n = bytes - sent < chunk ? bytes - sent : chunk;
            write_all(ssl, pattern, n);
            sent += n;
        }
        unsigned char done;
        read_all(ssl, &done, 1);
        double rate = bytes / (seconds(CLOCK_MONOTONIC) - start);
        if (rate > best) {
            best = rate;
            best_cpu = seconds(CLOCK_PROCESS_CPUTIME_ID) - cpu;
        }
    }
    printf("bytes_per_second %.0f\nsender_cpu_seconds %.4f\ncipher %s\n", best, best_cpu, SSL_CIPHER_get_name(SSL_get_current_cipher(ssl)));
    SSL_shutdown(ssl);
    SSL_free(ssl);
    close(fd);
    int status = 0;
    waitpid(child, &status, 0);
    free(pattern);
    SSL_CTX_free(ctx);
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}
