/* vvm-smsd's SMPP mode: one transceiver bind to the SMSC, kept up with
 * enquire_link and a growing pause between reconnects, through which
 * the outbox drains (a window of submit_sm awaiting their resp; an entry
 * is unlinked only once every one of its short messages got a resp with
 * ESME_ROK) and MO messages arrive (a deliver_sm is acknowledged only
 * once it is applied, so the SMSC delivers it again otherwise).
 *
 * One thread, one poll loop: every wait has a deadline, and a response
 * that does not come in time takes the connection down, which sends its
 * unanswered entries again on the next bind. */
#include "smsd-esme.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <syslog.h>
#include <unistd.h>

#include <libsmpp34/smpp34.h>

#include "smpp-pdu.h"
#include "smsd-mo.h"
#include "smsd-outbox.h"

enum esme_state {
	ESME_DOWN,
	ESME_CONNECTING,
	ESME_BINDING,
	ESME_BOUND,
	ESME_UNBINDING,
};

/* A request of ours awaiting its response. */
struct request {
	uint32_t id;             /* SUBMIT_SM, ENQUIRE_LINK, BIND, UNBIND */
	struct smsd_item *item;  /* SUBMIT_SM */
	int64_t deadline;
};

struct esme {
	const struct smsd_config *cfg;
	struct smsd_outbox *ob;
	enum esme_state state;
	int fd;
	GByteArray *in;
	GByteArray *out;
	uint32_t seq;
	GHashTable *requests;    /* seq -> struct request */
	unsigned submits;        /* SUBMIT_SM among them */
	unsigned pause_s;        /* before the next reconnect */
	int64_t reconnect_at;
	int64_t last_rx;
	int64_t next_scan;
	int64_t throttled_until;
	bool backlog;            /* the last scan loaded new entries */
	bool enquiring;
};

static int64_t now_us(void)
{
	return g_get_monotonic_time();
}

static uint32_t next_seq(struct esme *e)
{
	/* 1 .. 0x7FFFFFFF, as SMPP allows. */
	e->seq = e->seq >= 0x7fffffff ? 1 : e->seq + 1;
	return e->seq;
}

static void expect(struct esme *e, uint32_t seq, uint32_t id,
		   struct smsd_item *item)
{
	struct request *r = g_new0(struct request, 1);

	r->id = id;
	r->item = item;
	r->deadline = now_us() +
		      (int64_t)e->cfg->response_timeout_s * G_USEC_PER_SEC;
	g_hash_table_insert(e->requests, GUINT_TO_POINTER(seq), r);
	if (id == SUBMIT_SM)
		e->submits++;
}

/* Takes the request seq answers, or NULL. */
static struct request *answered(struct esme *e, uint32_t seq)
{
	struct request *r = g_hash_table_lookup(e->requests,
						GUINT_TO_POINTER(seq));

	if (r == NULL)
		return NULL;
	g_hash_table_steal(e->requests, GUINT_TO_POINTER(seq));
	if (r->id == SUBMIT_SM)
		e->submits--;
	return r;
}

static void disconnect(struct esme *e, const char *why)
{
	if (e->fd >= 0) {
		syslog(LOG_NOTICE, "SMSC %s:%u: connection closed: %s",
		       e->cfg->smsc_host, e->cfg->smsc_port, why);
		close(e->fd);
	}
	e->fd = -1;
	e->state = ESME_DOWN;
	g_byte_array_set_size(e->in, 0);
	g_byte_array_set_size(e->out, 0);
	g_hash_table_remove_all(e->requests);
	e->submits = 0;
	e->enquiring = false;
	smsd_outbox_reset(e->ob);
	e->reconnect_at = now_us() + (int64_t)e->pause_s * G_USEC_PER_SEC;
	e->pause_s = MIN(e->pause_s * 2, e->cfg->reconnect_max_s);
}

static int open_socket(const struct smsd_config *cfg)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM };
	struct addrinfo *res = NULL;
	char port[8];
	int fd = -1, one = 1;

	g_snprintf(port, sizeof(port), "%u", cfg->smsc_port);
	if (getaddrinfo(cfg->smsc_host, port, &hints, &res) != 0)
		return -EHOSTUNREACH;
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    0);
	if (fd >= 0) {
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (connect(fd, res->ai_addr, res->ai_addrlen) < 0 &&
		    errno != EINPROGRESS) {
			close(fd);
			fd = -errno;
		}
	} else {
		fd = -errno;
	}
	freeaddrinfo(res);
	return fd;
}

static void start_connect(struct esme *e)
{
	int fd = open_socket(e->cfg);

	if (fd < 0) {
		syslog(LOG_WARNING, "SMSC %s:%u: %s", e->cfg->smsc_host,
		       e->cfg->smsc_port, g_strerror(-fd));
		e->fd = -1;
		disconnect(e, "cannot connect");
		return;
	}
	e->fd = fd;
	e->state = ESME_CONNECTING;
	e->last_rx = now_us();
}

/* The connection is up: bind. */
static void connected(struct esme *e)
{
	int err = 0;
	socklen_t len = sizeof(err);
	uint32_t seq;

	getsockopt(e->fd, SOL_SOCKET, SO_ERROR, &err, &len);
	if (err != 0) {
		disconnect(e, g_strerror(err));
		return;
	}
	seq = next_seq(e);
	if (smpp_put_bind(e->out, seq, e->cfg) < 0) {
		disconnect(e, "cannot pack bind_transceiver");
		return;
	}
	expect(e, seq, BIND_TRANSCEIVER, NULL);
	e->state = ESME_BINDING;
}

static void on_bind_resp(struct esme *e, const struct smpp_header *h)
{
	char name[64];

	if (h->status != ESME_ROK) {
		syslog(LOG_ERR, "SMSC %s:%u refused the bind as %s: %s",
		       e->cfg->smsc_host, e->cfg->smsc_port,
		       e->cfg->system_id,
		       smpp_status_name(h->status, name, sizeof(name)));
		disconnect(e, "bind refused");
		return;
	}
	syslog(LOG_NOTICE, "SMSC %s:%u: bound as transceiver %s",
	       e->cfg->smsc_host, e->cfg->smsc_port, e->cfg->system_id);
	e->state = ESME_BOUND;
	e->pause_s = e->cfg->reconnect_min_s;
	e->next_scan = 0;
}

static void on_submit_resp(struct esme *e, struct request *r, uint32_t status)
{
	struct smsd_item *item = r->item;
	bool busy = status == ESME_RTHROTTLED || status == ESME_RMSGQFUL;
	guint parts = item->out->segments->len;
	char name[64];

	if (status != ESME_ROK) {
		syslog(LOG_WARNING, "outbox %" G_GUINT64_FORMAT ": SMSC refused "
		       "a short message to %s: %s", item->seq, item->out->to,
		       smpp_status_name(status, name, sizeof(name)));
		if (busy)
			e->throttled_until = now_us() + G_USEC_PER_SEC;
	} else if (item->accepted + 1 == parts && item->next == parts) {
		syslog(LOG_INFO, "outbox %" G_GUINT64_FORMAT ": sent to %s "
		       "(%u short message%s)", item->seq, item->out->to, parts,
		       parts == 1 ? "" : "s");
	}
	smsd_outbox_result(e->ob, item, status == ESME_ROK, busy, now_us());
}

static void on_deliver(struct esme *e, const uint8_t *pdu,
		       const struct smpp_header *h)
{
	struct smpp_mo mo;
	const char *reason = NULL;
	uint32_t status = ESME_ROK;

	if (smpp_deliver_parse(pdu, h->length, &mo, &reason) < 0) {
		syslog(LOG_WARNING, "deliver_sm refused: %s", reason);
		smpp_put_deliver_resp(e->out, h->seq, ESME_RX_P_APPN);
		return;
	}
	if (!mo.receipt &&
	    smsd_mo_apply(e->cfg, mo.source, mo.text, mo.len) < 0)
		status = ESME_RX_T_APPN;
	smpp_put_deliver_resp(e->out, h->seq, status);
	smpp_mo_clear(&mo);
}

static void on_response(struct esme *e, const struct smpp_header *h)
{
	struct request *r = answered(e, h->seq);
	char name[64];

	if (r == NULL)
		return;
	switch (r->id) {
	case BIND_TRANSCEIVER:
		on_bind_resp(e, h);
		break;
	case SUBMIT_SM:
		on_submit_resp(e, r, h->id == GENERIC_NACK &&
					     h->status == ESME_ROK
				     ? ESME_RSYSERR : h->status);
		break;
	case ENQUIRE_LINK:
		e->enquiring = false;
		break;
	case UNBIND:
		disconnect(e, "unbound");
		break;
	default:
		syslog(LOG_WARNING, "SMSC answered %s",
		       smpp_status_name(h->status, name, sizeof(name)));
	}
	g_free(r);
}

static void on_pdu(struct esme *e, const uint8_t *pdu,
		   const struct smpp_header *h)
{
	e->last_rx = now_us();
	if ((h->id & GENERIC_NACK) != 0) {
		on_response(e, h);
		return;
	}
	switch (h->id) {
	case ENQUIRE_LINK:
		smpp_put_header_only(e->out, ENQUIRE_LINK_RESP, ESME_ROK, h->seq);
		break;
	case DELIVER_SM:
		if (e->state == ESME_BOUND || e->state == ESME_UNBINDING)
			on_deliver(e, pdu, h);
		else
			smpp_put_header_only(e->out, GENERIC_NACK,
					     ESME_RINVBNDSTS, h->seq);
		break;
	case UNBIND:
		smpp_put_header_only(e->out, UNBIND_RESP, ESME_ROK, h->seq);
		e->state = ESME_UNBINDING;
		break;
	default:
		smpp_put_header_only(e->out, GENERIC_NACK, ESME_RINVCMDID,
				     h->seq);
	}
}

static void read_pdus(struct esme *e)
{
	uint8_t buf[16384];
	ssize_t n = read(e->fd, buf, sizeof(buf));
	struct smpp_header h;
	size_t pos = 0;
	int len = 0;

	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		disconnect(e, n == 0 ? "closed by the SMSC" : g_strerror(errno));
		return;
	}
	if (n < 0)
		return;
	g_byte_array_append(e->in, buf, (guint)n);
	while (e->fd >= 0 &&
	       (len = smpp_frame(e->in->data + pos, e->in->len - pos, &h)) > 0) {
		on_pdu(e, e->in->data + pos, &h);
		pos += (size_t)len;
	}
	if (len < 0) {
		disconnect(e, "a PDU of impossible length");
		return;
	}
	if (e->fd >= 0)
		g_byte_array_remove_range(e->in, 0, (guint)pos);
}

static void write_pdus(struct esme *e)
{
	ssize_t n = write(e->fd, e->out->data, e->out->len);

	if (n < 0 && errno != EAGAIN && errno != EINTR) {
		disconnect(e, g_strerror(errno));
		return;
	}
	if (n > 0)
		g_byte_array_remove_range(e->out, 0, (guint)n);
	/* An SMSC that unbound us gets its unbind_resp, then we go. */
	if (e->state == ESME_UNBINDING && e->out->len == 0)
		disconnect(e, "unbound by the SMSC");
}

/* Hands out short messages while the window has room. */
static void fill_window(struct esme *e, int64_t now)
{
	struct smsd_item *item;
	guint segment;

	if (now < e->throttled_until)
		return;
	if (now >= e->next_scan) {
		e->backlog = smsd_outbox_scan(e->ob) > 0;
		e->next_scan = now + (int64_t)e->cfg->poll_ms * 1000;
	}
	while (e->submits < e->cfg->window &&
	       (item = smsd_outbox_next(e->ob, now, &segment)) != NULL) {
		uint32_t seq = next_seq(e);

		if (smpp_put_submit(e->out, seq, e->cfg, item->out,
				    segment) < 0) {
			syslog(LOG_ERR, "outbox %" G_GUINT64_FORMAT ": cannot "
			       "pack submit_sm", item->seq);
			smsd_outbox_result(e->ob, item, false, false, now);
			continue;
		}
		expect(e, seq, SUBMIT_SM, item);
	}
	/* Everything loaded is handed out and the last scan found new
	 * entries, or it left some for want of room that is free now: there
	 * is more to read. */
	if ((e->backlog && smsd_outbox_next_time(e->ob) < 0) ||
	    smsd_outbox_wants_scan(e->ob))
		e->next_scan = now;
}

/* A request that went unanswered past its deadline: the link is dead. */
static bool overdue(struct esme *e, int64_t now)
{
	GHashTableIter it;
	gpointer value;

	g_hash_table_iter_init(&it, e->requests);
	while (g_hash_table_iter_next(&it, NULL, &value)) {
		if (((struct request *)value)->deadline <= now)
			return true;
	}
	return false;
}

static void keep_alive(struct esme *e, int64_t now)
{
	uint32_t seq;

	if (e->enquiring || now - e->last_rx <
	    (int64_t)e->cfg->enquire_link_s * G_USEC_PER_SEC)
		return;
	seq = next_seq(e);
	smpp_put_header_only(e->out, ENQUIRE_LINK, ESME_ROK, seq);
	expect(e, seq, ENQUIRE_LINK, NULL);
	e->enquiring = true;
}

/* The earliest deadline of any kind, as a poll() timeout. */
static int poll_timeout(struct esme *e, int64_t now)
{
	int64_t at = now + (int64_t)e->cfg->poll_ms * 1000;
	int64_t t;
	GHashTableIter it;
	gpointer value;

	if (e->state == ESME_DOWN)
		at = MIN(at, e->reconnect_at);
	if (e->state == ESME_BOUND) {
		at = MIN(at, MAX(e->next_scan, e->throttled_until));
		t = smsd_outbox_next_time(e->ob);
		if (t >= 0 && e->submits < e->cfg->window)
			at = MIN(at, MAX(t, e->throttled_until));
		at = MIN(at, e->last_rx +
			 (int64_t)e->cfg->enquire_link_s * G_USEC_PER_SEC);
	}
	g_hash_table_iter_init(&it, e->requests);
	while (g_hash_table_iter_next(&it, NULL, &value))
		at = MIN(at, ((struct request *)value)->deadline);
	return at <= now ? 0 : (int)MIN((at - now + 999) / 1000, 60000);
}

/* With once: the outbox is empty, every short message answered and
 * every entry unlinked. */
static bool drained(struct esme *e)
{
	return e->state == ESME_BOUND && e->submits == 0 &&
	       smsd_outbox_idle(e->ob) && smsd_outbox_scan(e->ob) == 0;
}

static void step(struct esme *e)
{
	int64_t now = now_us();
	struct pollfd p[2] = {
		{ .fd = e->fd },
		{ .fd = smsd_outbox_fd(e->ob), .events = POLLIN },
	};
	int timeout;

	if (e->state == ESME_DOWN && now >= e->reconnect_at)
		start_connect(e);
	if (e->state == ESME_BOUND) {
		fill_window(e, now);
		keep_alive(e, now);
	}
	if (e->fd >= 0 && overdue(e, now)) {
		disconnect(e, "the SMSC stopped answering");
		return;
	}
	timeout = poll_timeout(e, now);
	p[0].fd = e->fd;
	p[0].events = e->state == ESME_CONNECTING ? POLLOUT
		    : POLLIN | (e->out->len > 0 ? POLLOUT : 0);
	/* A descriptor of -1 is skipped: then only unlinks wake us. */
	if (poll(p, 2, timeout) <= 0)
		return;
	if (p[1].revents & POLLIN)
		smsd_outbox_reap(e->ob);
	if (e->fd < 0 || p[0].revents == 0)
		return;
	if (e->state == ESME_CONNECTING) {
		connected(e);
		return;
	}
	if (p[0].revents & (POLLIN | POLLHUP | POLLERR))
		read_pdus(e);
	if (e->fd >= 0 && (p[0].revents & POLLOUT))
		write_pdus(e);
}

/* At the end: unbind, wait a little for unbind_resp, close. */
static void unbind(struct esme *e)
{
	int64_t deadline = now_us() + 2 * G_USEC_PER_SEC;
	uint32_t seq = next_seq(e);

	smpp_put_header_only(e->out, UNBIND, ESME_ROK, seq);
	expect(e, seq, UNBIND, NULL);
	while (e->fd >= 0 && now_us() < deadline) {
		struct pollfd p = {
			.fd = e->fd,
			.events = POLLIN | (e->out->len > 0 ? POLLOUT : 0),
		};

		if (poll(&p, 1, 100) <= 0)
			continue;
		if (p.revents & (POLLIN | POLLHUP | POLLERR))
			read_pdus(e);
		if (e->fd >= 0 && (p.revents & POLLOUT))
			write_pdus(e);
	}
	if (e->fd >= 0)
		disconnect(e, "unbound");
}

int smsd_esme_run(const struct smsd_config *cfg, bool once,
		  volatile sig_atomic_t *stop)
{
	struct esme e = {
		.cfg = cfg,
		.fd = -1,
		.in = g_byte_array_new(),
		.out = g_byte_array_new(),
		.requests = g_hash_table_new_full(NULL, NULL, NULL, g_free),
		.pause_s = cfg->reconnect_min_s,
	};

	e.ob = smsd_outbox_create(cfg);
	while (!*stop && !(once && drained(&e)))
		step(&e);
	if (e.state == ESME_BOUND)
		unbind(&e);
	else if (e.fd >= 0)
		disconnect(&e, "stopping");
	smsd_outbox_destroy(&e.ob);
	g_hash_table_destroy(e.requests);
	g_byte_array_unref(e.in);
	g_byte_array_unref(e.out);
	return 0;
}
