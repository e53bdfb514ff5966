// The TCP engine of one elastic thread (RFC 9293 with RFC 5961, 6298, 5681,
// 6582, 6675, 7323, 2018, 6528, 9438): its connections, listeners and timers.
// Everything here runs on the owning thread; nothing is shared or locked.
//
// The application layer sees connections only through ConnHandles and the
// TcpEvents it implements. Events are called synchronously from input(),
// timers and API calls; a TcpEvents implementation must not call back into
// Tcp from inside an event (queue the reaction instead, as run_io does).
//
// Zero copy both ways:
//  - receive: on_recv passes a pointer into the packet buffer; it stays valid
//    until recv_done covers it (or on_dead). Bytes not yet consumed count
//    against rcv_buf, so an application that holds them closes the window.
//  - send: sendv keeps pointers to the application's memory and transmits
//    (and retransmits) from it; on_sent says when the oldest bytes are no
//    longer referenced.
//
// Connection lifetime as the application sees it:
//   active:  connect -> on_connected(IX_OK) ... or on_connected(<0) and the
//            handle is dead (no on_dead follows).
//   passive: on_knock -> accept (events start; queued data follows) or reject.
//   then:    on_recv*, on_sent*; a peer FIN is on_recv(len 0), once;
//            on_dead(reason) exactly once, after which the handle is stale
//            (IX_EBADH); earlier on_recv pointers stay valid until
//            free_deferred() (see there). close()
//            is a half close: we keep receiving until the peer's FIN;
//            on_dead(kClosed) comes when both FINs are acknowledged (the
//            tuple may linger in TIME_WAIT, invisible to the application).
//   abort(): RST now; no on_dead (the application already knows).
#pragma once

#include <sys/uio.h>

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "mem/mbuf.hh"
#include "net/addr.hh"
#include "net/ipv4.hh"
#include "net/rss.hh"
#include "net/stack_context.hh"
#include "net/tcp/conn_table.hh"
#include "net/tcp/isn_generator.hh"
#include "net/tcp/moved_conn.hh"
#include "net/tcp/syn_cookie.hh"
#include "net/tcp/tcb.hh"
#include "net/tcp/tcp_config.hh"
#include "net/tcp/tcp_header.hh"
#include "net/tcp/tcp_stats.hh"

namespace ix::net::tcp {

enum class DeadReason : int {
  kClosed = 0,  // orderly: both FINs sent and acknowledged
  kReset,       // the peer reset the connection
  kTimeout,     // retransmissions or keep-alive probes went unanswered
  kRefused,     // reset while still opening
  kAborted,     // ended by this stack (e.g. the application was rejected)
};

const char *dead_reason_name(DeadReason r);

class TcpEvents {
 public:
  virtual ~TcpEvents() = default;
  // A passive connection is established and waits for accept or reject.
  virtual void on_knock(uint64_t listener_cookie, ConnHandle h, Ipv4Addr src, uint16_t sport,
                        Ipv4Addr dst, uint16_t dport) = 0;
  // Active open finished: IX_OK, IX_ECONNREFUSED (reset) or IX_EHOSTUNREACH
  // (no answer to any SYN).
  virtual void on_connected(uint64_t cookie, ConnHandle h, int result) = 0;
  // In-order bytes (len 0: the peer's FIN, reported once).
  virtual void on_recv(uint64_t cookie, ConnHandle h, const uint8_t *data, uint32_t len) = 0;
  // The oldest `bytes` handed to sendv are acknowledged and no longer referenced.
  virtual void on_sent(uint64_t cookie, ConnHandle h, uint32_t bytes) = 0;
  virtual void on_dead(uint64_t cookie, ConnHandle h, DeadReason why) = 0;

 public:
  // At most this many received buffers held, across every connection whose
  // events come here, before their windows close (0: no limit beyond each
  // connection's own window). The dataplane process gives each application
  // one, so that an application that never gives data back stops at its
  // quota instead of draining the pool the others receive into.
  void set_rx_buffer_quota(uint32_t buffers) { rx_quota_ = buffers; }
  uint32_t rx_buffers_held() const { return rx_held_; }
  // At most this many connections whose events come here, opening ones and
  // ones waiting to be accepted included (0: no limit beyond the table's):
  // beyond it connect() gets IX_ENOMEM and SYNs to its listeners are dropped
  // (counted as drop.tcp_conn_table_full), so one application cannot take
  // the whole connection table of a thread it shares.
  void set_connection_quota(uint32_t conns) { conn_quota_ = conns; }
  uint32_t connections() const { return conns_; }

  // Flow-group moves (Tcp::export_group). A receiver whose connections may
  // move to another elastic thread says so. For each connection it knows of
  // (accepted, or knocked and waiting), the old thread's receiver hears
  // on_moved_out (h is stale from then on: no event for it follows there),
  // and the new thread's receiver (ReceiverMap) hears on_moved: from then on
  // the connection is `h` there. `move` numbers the connection's moves, the
  // same on both sides. A connection knocked but not yet accepted leaves
  // with its listener's cookie and is knocked again on the new thread
  // (on_knock, not on_moved).
  //
  // on_moved_out returns how many of the connection's bytes reported by
  // on_recv and not yet given back with recv_done the receiver has copied
  // and is done with (0: the application reads them where they are, as in
  // library mode); the new engine releases that many as a recv_done would,
  // once the connection is there. move_tag names the receiver's owner to
  // the new thread's ReceiverMap (the dataplane process: the application);
  // it is read on the old thread, so the new one never reads the old
  // receiver, which may be gone by then.
  virtual bool follows_moves() const { return false; }
  virtual uint64_t move_tag() const { return 0; }
  virtual uint32_t on_moved_out(uint64_t /*cookie*/, ConnHandle /*h*/, uint32_t /*move*/) {
    return 0;
  }
  virtual void on_moved(uint64_t /*cookie*/, ConnHandle /*old*/, ConnHandle /*h*/,
                        uint32_t /*move*/) {}

 private:
  friend class Tcp;
  bool at_connection_quota() const { return conn_quota_ != 0 && conns_ >= conn_quota_; }
  uint32_t conn_quota_ = 0;
  uint32_t conns_ = 0;  // live connections it has not been told are dead
  uint32_t rx_quota_ = 0;
  // Buffers in the receive queues of this receiver's connections, and
  // those of its dead connections not yet freed (deferred_rx_).
  uint32_t rx_held_ = 0;
  // Receive buffers of this receiver's dead connections, kept until
  // Tcp::free_deferred(*this): per receiver, so that one receiver's unread
  // events (another application's, in the dataplane process) never hold
  // back another's frees.
  mem::Mbuf *deferred_rx_ = nullptr;
};

// Where the engine puts finished TCP segments: `frame` starts with room for
// the Ethernet and IPv4 headers (kTcpL3Offset bytes) followed by the TCP
// segment of l4_len bytes, checksum done (or preset for offload). The stack
// writes the lower headers, resolves the next hop and sends or holds the
// frame; it always takes ownership. `nh` (null for segments without a
// connection) is the connection's NextHopCache: used while valid, refilled
// when not.
class SegmentOutput {
 public:
  virtual ~SegmentOutput() = default;
  virtual void output_segment(Ipv4Addr dst, mem::Mbuf *frame, uint16_t l4_len,
                              NextHopCache *nh) = 0;
};

constexpr uint16_t kTcpL3Offset = 14 + kIpv4HeaderLen;
// Payloads up to this many bytes are copied into the header's buffer rather
// than referenced from a second one (a request or reply of an RPC, a
// memcached GET of a small value): one buffer allocated and freed per
// segment instead of two, for a copy shorter than a few cache lines.
constexpr uint32_t kInlinePayloadMax = 256;

class Tcp {
 public:
  Tcp(StackContext &ctx, Ipv4Addr local, uint16_t mtu, SegmentOutput &out, const TcpConfig &cfg);
  ~Tcp();
  Tcp(const Tcp &) = delete;
  Tcp &operator=(const Tcp &) = delete;

  // ---- application API ----
  // IX_OK, IX_EADDRINUSE (port listened on), IX_EINVAL (port 0, no events),
  // IX_ENOMEM (too many listeners).
  int listen(uint16_t port, uint64_t listener_cookie, TcpEvents *ev);
  // Stops listening on `port`: IX_OK, or IX_EINVAL when `owner` does not
  // listen there (another receiver's listener is left alone: in the
  // dataplane process the receivers are different applications).
  int unlisten(uint16_t port, const TcpEvents *owner);
  // Active open; src_port 0 picks an ephemeral port whose reply flow lands
  // in a flow group this thread owns (see set_flow_ownership), probing from
  // a per-engine random offset. Returns a handle (> 0) or IX_EINVAL (also: an
  // explicit src_port whose replies belong to another thread's flow group),
  // IX_ENOMEM (no slot), IX_EADDRINUSE (no free port for this remote / tuple
  // taken), IX_ENOBUFS.
  int64_t connect(Ipv4Addr dst, uint16_t dport, uint16_t src_port, uint64_t cookie, TcpEvents *ev);
  int accept(ConnHandle h, uint64_t cookie);
  int reject(ConnHandle h);
  // Accepts as many bytes as the send buffer has room for (and whole iovec
  // pieces up to the chunk limit); returns them (>= 0) or IX_EBADH,
  // IX_ECLOSED (close() was called or the connection is not open), IX_EINVAL.
  int64_t sendv(ConnHandle h, const struct iovec *iov, int iovcnt);
  // The application is done with the oldest `bytes` reported by on_recv.
  // IX_EINVAL if that is more than it was given.
  int recv_done(ConnHandle h, uint32_t bytes);
  int close(ConnHandle h);
  int abort(ConnHandle h);
  int set_coalescing(ConnHandle h, bool on);
  int set_keepalive(ConnHandle h, bool on);

  // Frees the receive buffers of `owner`'s connections that died since the
  // last call. Their on_recv pointers stay valid until then: the API layer
  // calls this once the application has received every event pointing into
  // them, so it may read data reported in the same batch as the
  // connection's on_dead.
  void free_deferred(TcpEvents &owner);
  // Resets every connection whose events go to `owner` (RST to the peer, no
  // events) and forgets `owner` on connections it already saw die (TIME_WAIT),
  // so that it may be destroyed: what happens to the connections of an
  // application that exits or crashes. Returns the connections reset.
  uint32_t abort_all(TcpEvents &owner);
  // Both checks a command's handle needs, from one table lookup: the live
  // connection's flow group and where its events go (a command on a
  // connection must come from its owner); {-1, nullptr} for a stale or bad
  // handle.
  // The connection itself comes along, for the calls below that take it
  // instead of the handle (one lookup per command, not two).
  struct HandleFacts {
    int flow_group = -1;
    const TcpEvents *owner = nullptr;
    Tcb *tcb = nullptr;
  };
  HandleFacts facts_of(ConnHandle h) const {
    Tcb *t = table_.by_handle(h);
    return t != nullptr ? HandleFacts{t->flow_group, t->ev, t} : HandleFacts{};
  }
  // sendv and recv_done on a connection facts_of found (same results).
  int64_t sendv(Tcb &t, const struct iovec *iov, int iovcnt);
  int recv_done(Tcb &t, uint32_t bytes);

  // Which flow groups this engine's thread owns (nullptr: all). The view
  // must outlive the engine's use of it. Every connection records its flow
  // group; ephemeral ports are chosen so that replies come back here.
  void set_flow_ownership(const FlowOwnership *flows) { flows_ = flows; }

  // ---- flow-group moves (tcp_move.cc) ----
  // Takes every connection of flow group `group` out of this engine (no
  // segment, no event, no reset: they go on elsewhere) and appends them to
  // `out`. IX_EINVAL, and nothing taken, when one of them has a receiver
  // that does not follow moves (TcpEvents::follows_moves).
  int export_group(uint16_t group, std::vector<MovedConn> &out);
  // Recreates connections another engine exported, in order. `map` names
  // this thread's receiver for each one's old receiver (and its move_tag); a connection whose
  // receiver has none here, or for which no slot is free, is reset (RST,
  // on_dead(kAborted) to the new receiver if any; counted as moved_lost).
  // Timers keep their deadlines. Returns the connections recreated.
  using ReceiverMap = TcpEvents *(*)(void *arg, TcpEvents *old, uint64_t old_tag);
  uint32_t import_conns(std::vector<MovedConn> &conns, ReceiverMap map, void *arg);

  // ---- from the stack ----
  // An accepted IPv4 datagram carrying protocol 6; takes ownership of m.
  void input(mem::Mbuf *m, const Ipv4Input &ip);
  // A burst of segments about to arrive, by the remote end and local port
  // of each (up to kPrefetchBurst): their connections' control blocks are
  // fetched into the cache together, so that with more connections than the
  // caches hold a burst waits for memory about once rather than once per
  // segment. Nothing is looked up or changed; input() does the work.
  struct SegmentKey {
    Ipv4Addr remote;
    uint16_t rport;
    uint16_t lport;
  };
  static constexpr unsigned kPrefetchBurst = 64;
  void prefetch_segments(std::span<const SegmentKey> keys) const;
  // Whether prefetching pays: only once the control blocks outgrow what a
  // core's caches hold (TcpConfig::prefetch_min_conns).
  bool prefetch_pays() const { return table_.in_use() >= cfg_.prefetch_min_conns; }
  // The connection a command names, ahead of the command (run_io's batch).
  void prefetch_handle(ConnHandle h) const { table_.prefetch_handle(h); }
  // ICMP "fragmentation needed" (RFC 1191) quoting our segment to
  // remote:rport from lport with sequence number seq; next_hop_mtu 0: no
  // usable MTU was given. Believed only as RFC 5927 advises (tcp_pmtu.cc).
  void icmp_frag_needed(Ipv4Addr remote, uint16_t rport, uint16_t lport, Seq seq,
                        uint16_t next_hop_mtu);
  // Path MTUs below this are not believed (Linux's min_pmtu is 552; 576 is
  // what every IPv4 host must accept, RFC 791): a forged report must not
  // turn a connection into a stream of tiny segments.
  static constexpr uint16_t kMinPathMtu = 576;

  // ---- introspection (tests, stats) ----
  const TcpStats &stats() const { return stats_; }
  const TcpConfig &config() const { return cfg_; }
  uint32_t connections() const { return table_.in_use(); }
  uint32_t half_open() const { return syn_rcvd_; }
  // State of a connection by its tuple (kClosed if none); for tests.
  TcpState state_of(Ipv4Addr remote, uint16_t rport, uint16_t lport) const;
  const Tcb *tcb_of(ConnHandle h) const { return table_.by_handle(h); }
  const ConnTable &table() const { return table_; }

  struct Segment;  // a parsed received segment (tcp_input.cc)

 private:
  // Smallest payload per segment whatever MSS the peer announces (RFC 9293
  // 3.7.1 allows any; a few bytes would make each segment mostly header).
  static constexpr uint32_t kMinMss = 64;
  // RTT samples from echoed timestamps above this are not believed.
  static constexpr uint32_t kMaxRttSampleMs = 60'000;

  struct Listener {
    uint16_t port;
    uint64_t cookie;
    TcpEvents *ev;
  };

  // What one ACK told the sender; process_ack's steps fill it in turn.
  struct AckInfo {
    Seq prior_una = 0;
    uint32_t prior_flight = 0;
    uint32_t prior_sacked = 0;
    uint32_t acked = 0;  // bytes newly acknowledged cumulatively
    bool newly_sacked = false;
    bool dsack = false;  // the first SACK block reports a duplicate (RFC 2883)
    SackBlock dsack_block{};
    // A first transmission (sent before the RTO, in the loss state) was
    // delivered: the evidence F-RTO looks for.
    bool orig_delivered = false;
    // RTT from the segment records (ns, unlike millisecond timestamps): the
    // oldest first transmission this ACK acknowledged cumulatively, else the
    // newest SACKed one (as Linux's seq_rtt and sack_rtt); 0 if neither.
    uint64_t cum_rtt_ns = 0;
    uint64_t sack_rtt_ns = 0;
    // The most recently sent segment this ACK delivered (for RACK).
    bool have_newest = false;
    uint64_t newest_xmit_ns = 0;
    Seq newest_end = 0;
  };
  static constexpr unsigned kDupThresh = 3;

  // tcp_input.cc
  void segment_arrives(Tcb &t, Segment &s);
  // tcp_fast_path.cc: the segment a connection at rest expects next, taken
  // in one pass; false (nothing done) for any other.
  bool predicted(const Tcb &t, const Segment &s) const;
  bool fast_path(Tcb &t, Segment &s, uint64_t now);
  bool syn_sent_input(Tcb &t, Segment &s);
  // process_ack's steps: the window, the RTT, the application's memory, then
  // loss recovery and congestion control (tcp_recovery.cc).
  bool process_ack(Tcb &t, Segment &s);
  bool update_send_window(Tcb &t, const Segment &s);
  void sample_rtt(Tcb &t, const Segment &s, uint64_t now);
  uint32_t release_acked_data(Tcb &t, Seq old_una);
  void note_dsack(Tcb &t, Seq left, Seq right);
  void process_data(Tcb &t, Segment &s);
  void process_fin(Tcb &t);
  void deliver(Tcb &t);
  void schedule_ack(Tcb &t);
  void apply_syn_options(Tcb &t, const TcpOptions &o);
  void establish(Tcb &t);
  void enter_time_wait(Tcb &t);
  void update_ts_recent(Tcb &t, const Segment &s);
  void sample_rtt_from_echo(Tcb &t, uint32_t ts_ecr);
  bool ack_acceptable(const Tcb &t, const Segment &s) const;
  // Sends a challenge ACK (RFC 5961) unless the engine's per-second budget is spent.
  void send_challenge_ack(Tcb &t);
  // tcp_listen.cc
  Listener *find_listener(uint16_t port);
  void listen_input(Listener &l, Segment &s);
  void syn_to_listener(Listener &l, Segment &s);
  void cookie_ack(Listener &l, Segment &s);
  void send_cookie_synack(Segment &s);
  Tcb *new_passive(Listener &l, const Segment &s, Seq iss);
  bool time_wait_reusable(const Tcb &t, const Segment &s) const;
  // tcp_output.cc
  void output(Tcb &t);
  void output_recovery(Tcb &t);
  uint32_t send_new_segment(Tcb &t, uint64_t now);
  void new_data_sent(Tcb &t, Seq seq, uint32_t len, bool fin, uint64_t now);
  void after_ack_sent(Tcb &t);
  void send_probe(Tcb &t);
  bool send_data(Tcb &t, Seq seq, uint32_t len, bool fin);
  void send_ack(Tcb &t);
  void send_syn(Tcb &t);
  void send_rst_for(const Segment &s);
  void send_rst(Tcb &t);
  bool send_segment(Tcb *t, Ipv4Addr dst, uint16_t sport, uint16_t dport, Seq seq, Seq ack,
                    uint8_t flags, uint16_t window, const TcpOptions &opt, Seq payload_seq,
                    uint32_t len);
  // A segment of t carrying its ACK and window (data, an ACK, a FIN), with
  // the options the connection uses; on success the ACK counts as sent.
  bool send_acking(Tcb &t, Seq seq, uint8_t flags, uint32_t len);
  // A segment of a synchronized connection with no SACK blocks to report
  // (timestamps at most): the header written straight, no option list.
  bool send_plain_segment(Tcb &t, Seq seq, uint8_t flags, uint16_t window, uint32_t len);
  // The part every segment shares: a header buffer of hlen TCP bytes at th
  // in f, then the payload of t's [payload_seq, payload_seq + len), the
  // checksum, and the hand-off to IP.
  bool finish_segment(Tcb *t, Ipv4Addr dst, mem::Mbuf *f, uint8_t *th, size_t hlen, Seq payload_seq,
                      uint32_t len);
  // A header buffer with room for TCP's hlen bytes behind Ethernet and
  // IPv4; nullptr (counted) when the pool is empty. *th: where TCP starts.
  mem::Mbuf *segment_buffer(size_t hlen, uint8_t **th);
  uint16_t window_to_advertise(Tcb &t);
  uint32_t receive_space(const Tcb &t) const;
  void fill_options(Tcb &t, TcpOptions &o, bool syn);
  uint32_t ts_now() const;
  // tcp_pmtu.cc
  void retransmit_for_smaller_mss(Tcb &t);
  // tcp_timers.cc
  static void on_rexmit_timer(timing::Timer *tm, void *arg);
  static void on_delack_timer(timing::Timer *tm, void *arg);
  static void on_wait_timer(timing::Timer *tm, void *arg);
  void rexmit_timeout(Tcb &t);
  void wait_timeout(Tcb &t);
  void arm_rto(Tcb &t);
  // tcp_recovery.cc
  void on_ack_recovery(Tcb &t, const Segment &s, AckInfo &a, std::span<const SackBlock> blocks,
                       bool wnd_changed, uint64_t now);
  void newreno_on_ack(Tcb &t, const Segment &s, const AckInfo &a, bool wnd_changed, uint64_t now);
  void record_sent(Tcb &t, Seq start, Seq end, uint64_t now);
  void note_retransmission(Tcb &t, TxRecord &r, uint64_t now);
  // Sends record idx again; returns its length, 0 if nothing could be sent.
  uint32_t retransmit_record(Tcb &t, uint32_t idx, uint64_t now);
  void mark_lost(Tcb &t, TxRecord &r);
  uint32_t pipe(const Tcb &t) const;
  void update_records(Tcb &t, AckInfo &a, std::span<const SackBlock> blocks, uint64_t now);
  void delivered(Tcb &t, const TxRecord &r, AckInfo &a, bool sacked, uint64_t now);
  uint64_t rack_reo_wnd(const Tcb &t) const;
  bool rack_detect_loss(Tcb &t, uint64_t now);
  bool rack_wanted(const Tcb &t) const;
  void reorder_timeout(Tcb &t);
  void start_undo_episode(Tcb &t);
  void enter_fast_recovery(Tcb &t, uint64_t now);
  void end_episode(Tcb &t);
  void undo(Tcb &t, uint64_t &reason_counter, bool reordering);
  bool try_undo(Tcb &t, const Segment &s, const AckInfo &a);
  void on_dsack(Tcb &t, const AckInfo &a);
  bool tlp_eligible(const Tcb &t) const;
  uint64_t probe_timeout(const Tcb &t) const;
  void probe_timeout_fired(Tcb &t);
  void tlp_on_ack(Tcb &t, const Segment &s, const AckInfo &a, bool wnd_changed, uint64_t now);
  void prr_update(Tcb &t, int64_t delivered);
  void frto_on_ack(Tcb &t, const AckInfo &a, uint64_t now);
  void leave_loss_if_recovered(Tcb &t);
  void mark_unsacked_lost(Tcb &t);
  void enter_loss(Tcb &t, uint64_t now);
  // Arms the retransmission timer as the connection's state asks: RACK's
  // reordering timer, a tail loss probe, or the RTO.
  void arm_xmit_timer(Tcb &t);
  void restart_keepalive(Tcb &t);
  // tcp.cc
  Tcb *new_tcb(Ipv4Addr remote, uint16_t rport, uint16_t lport);
  // Points the slot's timers at this engine's handlers (arg: the slot).
  void bind_timers(Tcb &t);
  void init_send_side(Tcb &t, Seq iss);
  void init_congestion(Tcb &t);
  uint16_t pick_port(Ipv4Addr remote, uint16_t rport);
  // The connection ends: tell the application (unless it is gone), stop
  // everything and free the slot. t must not be used afterwards.
  void kill(Tcb &t, DeadReason why, bool report);
  void release_buffers(Tcb &t);
  // Out-of-order data across the engine (tcp_reclaim.cc): keeps t in the
  // list of connections holding some (call after any change to t.ooo), and
  // gives it up, highest sequence first, once the pool is at its holding
  // limit.
  void sync_ooo_listing(Tcb &t);
  void reclaim_out_of_order();
  void destroy(Tcb &t);
  void time_wait_link(Tcb &t);
  void time_wait_unlink(Tcb &t);
  bool evict_oldest_time_wait();
  void drop(DropReason r) { ctx_.counters.drop(r); }
  void count_retransmit(Tcb &t) {
    ++stats_.retransmits;
    ++t.retransmits;
  }

  StackContext &ctx_;
  Ipv4Addr local_;
  uint16_t mtu_;
  SegmentOutput &out_;
  TcpConfig cfg_;
  ConnTable table_;
  std::vector<Listener> listeners_;
  IsnGenerator isn_;
  SynCookies cookies_;
  TcpStats stats_;
  uint32_t syn_rcvd_ = 0;
  // When a SYN cookie was last sent: a bare ACK to a listener is taken as a
  // cookie's answer only while cookies that old could still be valid.
  uint64_t last_cookie_sent_ns_ = 0;
  // Out-of-order segments held over all connections, and their cap.
  uint32_t ooo_held_ = 0;
  uint32_t ooo_list_ = UINT32_MAX;  // first slot of the list (sync_ooo_listing)
  uint32_t ooo_cap_ = 0;
  bool cookies_sent_ = false;
  // Challenge ACK budget (RFC 5961 7): count in the current one-second slot.
  uint64_t challenge_slot_ = 0;
  uint32_t challenge_count_ = 0;
  // TIME_WAIT connections, oldest first.
  Tcb *tw_head_ = nullptr;
  Tcb *tw_tail_ = nullptr;
  // Ephemeral port search (pick_port): the cursor, and the remote for
  // which the last search found no port. Until a port frees up (a
  // connection or listener goes away: ports_freed_ moves) another search for
  // that remote fails at once instead of scanning the range again.
  uint16_t next_port_;
  const FlowOwnership *flows_ = nullptr;
  uint64_t ports_freed_ = 0;
  struct {
    Ipv4Addr remote;
    uint16_t rport = 0;
    uint64_t ports_freed = 0;
    bool valid = false;
  } exhausted_;
};

// Inline: arming the retransmission timer after each send asks both.
inline bool Tcp::tlp_eligible(const Tcb &t) const {
  return cfg_.tlp && t.sack_ok && !t.in_recovery && !t.rec.in_loss && !t.rec.tlp_out &&
         !t.persist && t.synchronized() && t.state != TcpState::kTimeWait && t.snd_una != t.snd_max;
}

inline uint64_t Tcp::probe_timeout(const Tcb &t) const {
  // RFC 8985 7.2: 2 SRTT, plus the peer's delayed ACK when a single segment
  // is out (its ACK may be held back), else a slack for ACK jitter; never
  // later than the RTO.
  uint64_t pto = t.rtt.has_sample() ? 2 * t.rtt.srtt_ns() : 1'000'000'000ull;
  pto += t.snd_max - t.snd_una <= t.mss ? cfg_.tlp_max_ack_delay_ns : cfg_.tlp_slack_ns;
  pto = std::max<uint64_t>(pto, 2 * timing::TimerWheel::kGranularityNs);
  return std::min(pto, t.rtt.rto_ns());
}

}  // namespace ix::net::tcp
