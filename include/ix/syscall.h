/*
 * IX batched system-call interface (C ABI).
 *
 * An application talks to its dataplane only through ix_run_io(): it hands in
 * an array of commands and receives an array of events. One call executes the
 * commands in order (writing each command's result back into it), transmits,
 * polls the NIC queues once (taking whatever is there, up to the batch bound,
 * never waiting), runs the protocols and timers, and returns the events they
 * produced. This mirrors IX's sys_bpoll: one boundary crossing per batch, not
 * per packet.
 *
 * Received data is zero copy: an event carries a pointer into a packet buffer
 * that the application may only read, plus a buffer handle that it must give
 * back with a *_RECV_DONE command. Sent data is zero copy too: the stack
 * transmits from the application's memory and reports *_SENT (with the
 * command's cookie) once it no longer references it.
 *
 * All addresses and ports in this header are in host byte order.
 * TCP commands and events (issue #3) take the reserved ranges below so they
 * share these arrays.
 */
#ifndef IX_SYSCALL_H
#define IX_SYSCALL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Return codes, as IX's: 0 is success, errors are negative. */
typedef enum ix_status {
  IX_OK = 0,
  IX_ENOMEM = -1,      /* out of memory (tables full) */
  IX_ENOBUFS = -2,     /* no packet buffer available right now */
  IX_EINVAL = -3,      /* malformed command argument */
  IX_EAGAIN = -4,      /* try again later (e.g. address still resolving, queue full) */
  IX_EBADH = -5,       /* handle is invalid or stale */
  IX_ECLOSED = -6,     /* connection closed */
  IX_ECONNREFUSED = -7,
  IX_EADDRINUSE = -8,  /* port already bound; for TCP_CONNECT: the 4-tuple is taken, or no
                          ephemeral port is free for this remote (see tcp_connect) */
  IX_EMSGSIZE = -9,    /* datagram larger than the path allows */
  IX_EHOSTUNREACH = -10,
  IX_EOPNOTSUPP = -11, /* command not known to this dataplane */
  IX_ECONNRESET = -12,  /* the peer reset the connection */
  IX_ETIMEDOUT = -13,   /* retransmissions or keep-alives went unanswered */
  IX_EMOVED = -14,      /* the connection moved to another elastic thread (its flow group did):
                           nothing was done; IX_EV_TCP_MOVED_OUT is on its way */
} ix_status;

/* An IPv4 endpoint. */
typedef struct ix_endpoint {
  uint32_t addr; /* host byte order */
  uint16_t port; /* host byte order */
  uint16_t reserved;
} ix_endpoint;

/* An opaque handle to a received buffer (returned with *_RECV_DONE). */
typedef uint64_t ix_buf_handle;

typedef enum ix_cmd_op {
  IX_CMD_NOP = 0,
  /* UDP: 1..15 */
  IX_CMD_UDP_BIND = 1,      /* receive datagrams sent to a local port */
  IX_CMD_UDP_UNBIND = 2,
  IX_CMD_UDP_SEND = 3,      /* send one datagram from application memory */
  IX_CMD_UDP_RECV_DONE = 4, /* give a received buffer back */
  /* TCP: 16..47 */
  IX_CMD_TCP_FIRST = 16,
  IX_CMD_TCP_LISTEN = 16,    /* accept connections on a local port (IX_EV_TCP_KNOCK) */
  IX_CMD_TCP_UNLISTEN = 17,  /* only a port this context listens on (else IX_EINVAL) */
  IX_CMD_TCP_CONNECT = 18,   /* active open; IX_EV_TCP_CONNECTED reports the outcome */
  IX_CMD_TCP_ACCEPT = 19,    /* take a knocked connection, giving it a cookie */
  IX_CMD_TCP_REJECT = 20,    /* refuse a knocked connection (reset) */
  IX_CMD_TCP_SENDV = 21,     /* zero-copy scatter-gather send; result = bytes accepted */
  IX_CMD_TCP_RECV_DONE = 22, /* the application consumed bytes: free buffers, open the window */
  IX_CMD_TCP_CLOSE = 23,     /* graceful close (FIN after queued data) */
  IX_CMD_TCP_ABORT = 24,     /* reset now */
  IX_CMD_TCP_SET_COALESCING = 25, /* u.tcp_option: 1 = coalesce small sends (off by default) */
  IX_CMD_TCP_SET_KEEPALIVE = 26,  /* u.tcp_option: 1 = probe an idle peer, DEAD(TIMEDOUT) if gone */
  /* control: 48.. */
  IX_CMD_TIMER_ARM = 48, /* one-shot application timer; fires IX_EV_TIMER */
} ix_cmd_op;

/* One piece of a scatter-gather send; the memory stays the application's. */
typedef struct ix_iovec {
  const void *base;
  uint64_t len;
} ix_iovec;

/* A TCP connection handle; 0 is never valid. Encodes the connection's slot
 * (bits 0..47), its RSS flow group (bits 48..59) and its elastic thread
 * (bits 60..63): a handle is valid only on the thread that owns that flow
 * group; used on another thread it gets IX_EBADH. */
typedef uint64_t ix_tcp_handle;

typedef struct ix_cmd {
  uint16_t op;     /* ix_cmd_op */
  uint16_t flags;
  int32_t result;  /* written by ix_run_io: IX_OK or a negative ix_status */
  uint64_t cookie; /* the application's; echoed in the events this command causes */
  union {
    struct {
      uint16_t port;
    } udp_bind;
    struct {
      const void *data; /* stays the application's; not to be modified until IX_EV_UDP_SENT */
      uint32_t len;
      uint16_t src_port; /* IX_EADDRINUSE if another context is bound to it */
      uint16_t reserved;
      ix_endpoint dst;
    } udp_send;
    struct {
      ix_buf_handle buf;
    } recv_done;
    struct {
      uint64_t delay_ns;
    } timer_arm;
    struct {
      uint16_t port;
    } tcp_listen;
    struct {
      ix_endpoint dst;
      /* 0: the dataplane picks an ephemeral port whose replies hash (RSS) to
       * a flow group this thread owns, probing the range from a random
       * per-thread offset; IX_EADDRINUSE at once when none is free for this
       * remote address and port (at most one pass over the range per call,
       * and none again until a connection of this thread goes away).
       * Non-zero: that port, or IX_EINVAL if its replies would belong to
       * another thread's flow group. */
      uint16_t src_port;
    } tcp_connect;
    struct {
      ix_tcp_handle handle; /* accept/reject/close/abort */
    } tcp_conn;
    struct {
      ix_tcp_handle handle;
      const ix_iovec *iov;
      uint32_t iovcnt;
    } tcp_sendv;
    struct {
      ix_tcp_handle handle;
      uint64_t bytes;
    } tcp_recv_done;
    struct {
      ix_tcp_handle handle;
      uint32_t on;
    } tcp_option;
    uint64_t raw[4];
  } u;
} ix_cmd;

typedef enum ix_event_type {
  IX_EV_NONE = 0,
  /* UDP: 1..15 */
  IX_EV_UDP_RECV = 1, /* a datagram arrived; read-only data until recv_done */
  IX_EV_UDP_SENT = 2, /* the stack no longer references a udp_send buffer */
  /* TCP: 16..47 */
  IX_EV_TCP_FIRST = 16,
  IX_EV_TCP_KNOCK = 16,     /* a connection waits on a listening port: accept or reject it */
  IX_EV_TCP_CONNECTED = 17, /* active open finished; result says how */
  IX_EV_TCP_RECV = 18,      /* in-order bytes, read-only until recv_done; len 0: peer closed */
  IX_EV_TCP_SENT = 19,      /* bytes acknowledged: their application memory is free again */
  IX_EV_TCP_DEAD = 20,      /* the connection is gone: result IX_OK (orderly close),
                               IX_ECONNRESET, IX_ETIMEDOUT, IX_ECONNREFUSED or IX_ECLOSED */
  /* Flow-group moves (ix_follow_moves): the connection leaves this elastic
   * thread; no event for it follows here, and commands naming its handle get
   * IX_EMOVED until this event was taken. u.tcp.len: the move's number. For
   * a connection knocked but not yet accepted, the cookie is the listener's:
   * the knock is withdrawn here and heard again on the new thread. */
  IX_EV_TCP_MOVED_OUT = 21,
  /* The connection arrived on this thread with handle u.tcp.handle; the
   * cookie is the one it had. u.tcp.len: the move's number (equal to the
   * MOVED_OUT's on the old thread, which an application must have processed
   * before it treats the connection as its own here). u.raw[3]: the
   * connection's handle on the old thread without the thread's tag (the
   * MOVED_OUT's u.tcp.handle & IX_HANDLE_SANS_THREAD). */
  IX_EV_TCP_MOVED_IN = 22,
  /* control: 48.. */
  IX_EV_TIMER = 48,
} ix_event_type;

/* A TCP handle's bits 60..63 name the elastic thread it belongs to. */
#define IX_HANDLE_SANS_THREAD ((UINT64_C(1) << 60) - 1)

typedef struct ix_event {
  uint16_t type;   /* ix_event_type */
  uint16_t flags;
  int32_t result;  /* IX_OK or a negative ix_status */
  uint64_t cookie; /* the cookie of the command this event answers, if any */
  union {
    struct {
      const uint8_t *data; /* read-only, valid until recv_done */
      uint32_t len;
      uint32_t reserved;
      ix_endpoint src;
      ix_endpoint dst;
      ix_buf_handle buf;
    } udp_recv;
    struct {
      ix_tcp_handle handle;
      ix_endpoint src; /* remote */
      ix_endpoint dst; /* local */
    } tcp_knock;
    struct {
      ix_tcp_handle handle;
      const uint8_t *data; /* tcp_recv */
      uint64_t len;        /* tcp_recv: bytes; tcp_sent: bytes acknowledged */
    } tcp;
    uint64_t raw[5];
  } u;
} ix_event;

/* One elastic thread's dataplane context. Obtained from the runtime; not shared. */
typedef struct ix_ctx ix_ctx;

/*
 * Execute cmds[0..ncmds) in order, run one dataplane iteration, and write up to
 * max_events events. Returns the number of events written (>= 0). Events that
 * do not fit are kept for the next call, never lost.
 */
int ix_run_io(ix_ctx *ctx, ix_cmd *cmds, size_t ncmds, ix_event *events, size_t max_events);

/* Nonzero once the runtime asks the application to finish (signal or deadline). */
int ix_should_stop(const ix_ctx *ctx);

/* This elastic thread's index (0..threads-1), the number of elastic threads
 * (all start together; each runs the application's thread function), and
 * the dataplane's clock. */
unsigned ix_thread_id(const ix_ctx *ctx);
unsigned ix_thread_count(const ix_ctx *ctx);
uint64_t ix_now_ns(const ix_ctx *ctx);

/* Flow-group moves: on (nonzero) says this context's application follows
 * its TCP connections to other elastic threads (IX_EV_TCP_MOVED_OUT on the
 * old thread, IX_EV_TCP_MOVED_IN on the new one, whose application must be
 * the same program sharing its memory: library mode, or the same process
 * attached to the dataplane process). Off (the default), the control plane
 * does not move a flow group holding one of its connections. IX_OK, or
 * IX_EOPNOTSUPP where the dataplane cannot move them. */
int ix_follow_moves(ix_ctx *ctx, int on);

/* Human-readable name of a status code. */
const char *ix_status_name(int status);

#ifdef __cplusplus
}
#endif

#endif /* IX_SYSCALL_H */
