/* The floor of a bulk restore, for tests/lab/bench: a minimal IPVS client in C that adds N
 * services (198.18.0.0/15, TCP port 80, wrr) with 4 direct-routing real servers each
 * (198.51.100.1-4, weights 1-4), exactly the table the bench's rules make, on one generic
 * netlink socket with W requests per sendmsg. No parsing, no model, no error texts: what is
 * left is the kernel's work, the system calls and the process start.
 *
 *   floor [N [W [ack|errors]]]   defaults 2000 256 errors
 *
 * "ack": every request asks for an ACK (the lab notes' baseline); "errors": only the last of
 * each sendmsg does (the kernel reports every failure anyway). Exit status 1 if any request
 * failed. Attribute numbers are those of linux/ip_vs.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <linux/netlink.h>
#include <linux/genetlink.h>
#include <arpa/inet.h>

static int fd;
static unsigned seq;
static char tx[1 << 20];
static size_t txlen;
static char rx[1 << 16];

static void put_attr(char **p, unsigned short type, const void *data, unsigned short len) {
	struct nlattr *a = (struct nlattr *)*p;
	a->nla_type = type;
	a->nla_len = NLA_HDRLEN + len;
	memcpy(*p + NLA_HDRLEN, data, len);
	memset(*p + NLA_HDRLEN + len, 0, NLA_ALIGN(len) - len);
	*p += NLA_HDRLEN + NLA_ALIGN(len);
}
static char *nest_start(char **p, unsigned short type) {
	char *s = *p;
	((struct nlattr *)s)->nla_type = type | NLA_F_NESTED;
	*p += NLA_HDRLEN;
	return s;
}
static void nest_end(char *s, char *p) { ((struct nlattr *)s)->nla_len = p - s; }

static char *msg_start(unsigned short family, unsigned char cmd, unsigned short flags) {
	char *m = tx + txlen;
	struct nlmsghdr *h = (struct nlmsghdr *)m;
	h->nlmsg_type = family;
	h->nlmsg_flags = NLM_F_REQUEST | flags;
	h->nlmsg_seq = ++seq;
	h->nlmsg_pid = 0;
	struct genlmsghdr *g = (struct genlmsghdr *)(m + NLMSG_HDRLEN);
	g->cmd = cmd;
	g->version = 1;
	g->reserved = 0;
	return m;
}
static void msg_end(char *m, char *p) {
	((struct nlmsghdr *)m)->nlmsg_len = p - m;
	txlen += NLMSG_ALIGN(p - m);
}
static int flush_and_wait(unsigned last) {
	if (send(fd, tx, txlen, 0) != (ssize_t)txlen) { perror("send"); exit(1); }
	txlen = 0;
	int errors = 0;
	for (;;) {
		ssize_t n = recv(fd, rx, sizeof rx, 0);
		if (n < 0) { perror("recv"); exit(1); }
		for (struct nlmsghdr *h = (struct nlmsghdr *)rx; NLMSG_OK(h, n); h = NLMSG_NEXT(h, n)) {
			if (h->nlmsg_type == NLMSG_ERROR) {
				struct nlmsgerr *e = NLMSG_DATA(h);
				if (e->error) errors++;
				if (h->nlmsg_seq == last) return errors;
			}
		}
	}
}
static unsigned short family_id(void) {
	char *m = msg_start(GENL_ID_CTRL, CTRL_CMD_GETFAMILY, 0);
	char *p = m + NLMSG_HDRLEN + GENL_HDRLEN;
	put_attr(&p, CTRL_ATTR_FAMILY_NAME, "IPVS", 5);
	msg_end(m, p);
	if (send(fd, tx, txlen, 0) != (ssize_t)txlen) { perror("send"); exit(1); }
	txlen = 0;
	ssize_t n = recv(fd, rx, sizeof rx, 0);
	struct nlmsghdr *h = (struct nlmsghdr *)rx;
	if (n < (ssize_t)NLMSG_HDRLEN || h->nlmsg_type == NLMSG_ERROR) {
		fprintf(stderr, "no IPVS family\n");
		exit(1);
	}
	char *a = (char *)NLMSG_DATA(h) + GENL_HDRLEN;
	char *end = (char *)h + h->nlmsg_len;
	while (a < end) {
		struct nlattr *na = (struct nlattr *)a;
		if (na->nla_type == CTRL_ATTR_FAMILY_ID) return *(unsigned short *)(a + NLA_HDRLEN);
		a += NLA_ALIGN(na->nla_len);
	}
	fprintf(stderr, "no IPVS family\n");
	exit(1);
}

int main(int argc, char **argv) {
	int n = argc > 1 ? atoi(argv[1]) : 2000;
	int window = argc > 2 ? atoi(argv[2]) : 256;
	int errors_only = !(argc > 3 && strcmp(argv[3], "ack") == 0);
	fd = socket(AF_NETLINK, SOCK_RAW, NETLINK_GENERIC);
	struct sockaddr_nl sa = {.nl_family = AF_NETLINK};
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) { perror("netlink"); return 1; }
	int one = 1, big = 1 << 20;
	setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof one);
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
	unsigned short fam = family_id();
	int queued = 0, failed = 0;
	for (int i = 0; i < n; i++) {
		for (int j = 0; j <= 4; j++) {
			int last_in_window = (queued + 1 == window) || (i == n - 1 && j == 4);
			unsigned short flags = (!errors_only || last_in_window) ? NLM_F_ACK : 0;
			char *m = msg_start(fam, j == 0 ? 1 /* NEW_SERVICE */ : 5 /* NEW_DEST */, flags);
			char *p = m + NLMSG_HDRLEN + GENL_HDRLEN;
			char *s = nest_start(&p, 1);
			unsigned short af = AF_INET, proto = 6, port = htons(80);
			unsigned char addr[16] = {198, 18 + i / 65536, (i / 256) % 256, i % 256};
			put_attr(&p, 1, &af, 2);
			put_attr(&p, 2, &proto, 2);
			put_attr(&p, 3, addr, 16);
			put_attr(&p, 4, &port, 2);
			if (j == 0) {
				unsigned flags_mask[2] = {0, ~0u}, timeout = 0, mask = ~0u;
				put_attr(&p, 6, "wrr", 4);
				put_attr(&p, 7, flags_mask, 8);
				put_attr(&p, 8, &timeout, 4);
				put_attr(&p, 9, &mask, 4);
				nest_end(s, p);
			} else {
				nest_end(s, p);
				char *d = nest_start(&p, 2);
				unsigned char raddr[16] = {198, 51, 100, j};
				unsigned fwd = 3, weight = j, zero = 0;
				unsigned char tt = 0;
				unsigned short tp = 0, tf = 0;
				put_attr(&p, 11, &af, 2);
				put_attr(&p, 1, raddr, 16);
				put_attr(&p, 2, &port, 2);
				put_attr(&p, 3, &fwd, 4);
				put_attr(&p, 4, &weight, 4);
				put_attr(&p, 13, &tt, 1);
				put_attr(&p, 14, &tp, 2);
				put_attr(&p, 15, &tf, 2);
				put_attr(&p, 5, &zero, 4);
				put_attr(&p, 6, &zero, 4);
				nest_end(d, p);
			}
			msg_end(m, p);
			if (++queued == window || (i == n - 1 && j == 4)) {
				failed += flush_and_wait(seq);
				queued = 0;
			}
		}
	}
	fprintf(stderr, "%d changes, %d failed\n", n * 5, failed);
	return failed != 0;
}
