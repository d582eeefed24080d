/*
 * ttfb: time to first byte and total time of HTTP/1.1 requests, one at a
 * time over one keep-alive connection, for the gateway benchmark (wrk does
 * not report the first byte).
 * Usage: ttfb HOST PORT PATH COUNT BODY [HEADER...]
 * Prints "ttfb_p50_us N ttfb_p99_us N total_p50_us N total_p99_us N errors N".
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int
connect_to(const char *host, int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	inet_pton(AF_INET, host, &a.sin_addr);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		perror("ttfb: connect");
		exit(1);
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

/* Whether buf (n bytes) holds a whole response; sets *status. */
static int
complete(const char *buf, size_t n, int *status)
{
	const char *end = memmem(buf, n, "\r\n\r\n", 4), *cl;

	if (end == NULL)
		return 0;
	*status = atoi(buf + 9);
	end += 4;
	if ((cl = strcasestr(buf, "\ncontent-length:")) != NULL && cl < end)
		return (size_t)(end - buf) + (size_t)atol(cl + 16) <= n;
	/* chunked: the last chunk */
	return n >= 5 && memcmp(buf + n - 5, "0\r\n\r\n", 5) == 0;
}

static int
by_value(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int
main(int argc, char **argv)
{
	static char buf[1 << 22];
	char req[65536];
	double *first, *total;
	int fd, i, j, count, errors = 0, status = 0, len;

	if (argc < 6) {
		fprintf(stderr, "usage: ttfb HOST PORT PATH COUNT BODY [HEADER...]\n");
		return 1;
	}
	count = atoi(argv[4]);
	first = calloc((size_t)count, sizeof(*first));
	total = calloc((size_t)count, sizeof(*total));
	len = snprintf(req, sizeof(req), "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: "
	    "application/json\r\nContent-Length: %zu\r\n", argv[3], argv[1], strlen(argv[5]));
	for (j = 6; j < argc; j++)
		len += snprintf(req + len, sizeof(req) - (size_t)len, "%s\r\n", argv[j]);
	len += snprintf(req + len, sizeof(req) - (size_t)len, "\r\n%s", argv[5]);
	fd = connect_to(argv[1], atoi(argv[2]));
	for (i = 0; i < count; i++) {
		double t0 = now_us();
		size_t n = 0;
		ssize_t r;

		if (write(fd, req, (size_t)len) != len) {
			perror("ttfb: write");
			return 1;
		}
		first[i] = -1;
		while (!complete(buf, n, &status)) {
			if ((r = read(fd, buf + n, sizeof(buf) - n - 1)) <= 0) {
				errors++;
				close(fd);
				fd = connect_to(argv[1], atoi(argv[2]));
				break;
			}
			if (first[i] < 0)
				first[i] = now_us() - t0;
			n += (size_t)r;
			buf[n] = '\0';
		}
		total[i] = now_us() - t0;
		if (status != 200)
			errors++;
	}
	qsort(first, (size_t)count, sizeof(*first), by_value);
	qsort(total, (size_t)count, sizeof(*total), by_value);
	printf("ttfb_p50_us %.0f ttfb_p99_us %.0f total_p50_us %.0f total_p99_us %.0f errors %d\n",
	    first[count / 2], first[count * 99 / 100], total[count / 2], total[count * 99 / 100],
	    errors);
	return 0;
}
