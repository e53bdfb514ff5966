// Timers of a connection: retransmission (RFC 6298; SYN, data and FIN),
// zero-window probing (the same timer in persist mode), delayed ACK,
// TIME_WAIT, the FIN_WAIT_2 timeout and keep-alive (one timer: they never
// overlap).
#include <algorithm>

#include "net/tcp/tcp.hh"

namespace ix::net::tcp {

void Tcp::on_rexmit_timer(timing::Timer *, void *arg) {
  auto *t = static_cast<Tcb *>(arg);
  Tcp &tcp = *t->tcp;
  // One timer, three meanings (recovery_vars.hh); persist is the RTO's.
  if (!t->persist && t->synchronized() && t->state != TcpState::kTimeWait) {
    switch (t->rec.timer) {
      case XmitTimer::kReorder:
        t->rec.timer = XmitTimer::kRto;
        return tcp.reorder_timeout(*t);
      case XmitTimer::kProbe:
        t->rec.timer = XmitTimer::kRto;
        return tcp.probe_timeout_fired(*t);
      case XmitTimer::kRto:
        break;
    }
  }
  t->rec.timer = XmitTimer::kRto;
  tcp.rexmit_timeout(*t);
}

void Tcp::on_delack_timer(timing::Timer *, void *arg) {
  auto *t = static_cast<Tcb *>(arg);
  if (t->synchronized() && t->state != TcpState::kTimeWait) t->tcp->send_ack(*t);
}

void Tcp::on_wait_timer(timing::Timer *, void *arg) {
  auto *t = static_cast<Tcb *>(arg);
  t->tcp->wait_timeout(*t);
}

void Tcp::rexmit_timeout(Tcb &t) {
  const uint64_t now = ctx_.clock.now_ns();
  switch (t.state) {
    case TcpState::kSynSent:
    case TcpState::kSynReceived: {
      const uint32_t limit =
          t.state == TcpState::kSynSent ? cfg_.syn_retries : cfg_.synack_retries + 1;
      if (++t.retries >= limit) {
        kill(t, DeadReason::kTimeout, true);
        return;
      }
      t.rtt.backoff();
      send_syn(t);
      arm_rto(t);
      return;
    }
    case TcpState::kClosed:
    case TcpState::kTimeWait:
      return;
    default:
      break;
  }
  if (t.persist) {
    // Zero-window probe: never gives up while the peer answers (RFC 9293
    // 3.8.6.1: any answer resets `retries`); the interval backs off like the
    // RTO. A peer that answers none of max_retransmits probes is gone.
    if (++t.retries > cfg_.max_retransmits) {
      ++stats_.persist_timeouts;
      ++stats_.timeouts;
      send_rst(t);
      kill(t, DeadReason::kTimeout, true);
      return;
    }
    ++stats_.window_probes;
    send_probe(t);
    t.rtt.backoff();
    arm_rto(t);
    return;
  }
  if (t.snd_una == t.snd_max) {
    // Nothing outstanding: the timer was armed because a send found the
    // buffer pool empty (output). Try again.
    output(t);
    return;
  }
  if (++t.retries > cfg_.max_retransmits) {
    ++stats_.timeouts;
    send_rst(t);
    kill(t, DeadReason::kTimeout, true);
    return;
  }
  ++stats_.rto_expirations;
  // RFC 6298 5.4-5.7 and RFC 5681 3.1: back off, shrink to the loss window
  // and send again what is outstanding (tcp_recovery.cc).
  enter_loss(t, now);
  output(t);
  if (!timing::TimerWheel::armed(t.rexmit_timer)) arm_rto(t);
}

void Tcp::restart_keepalive(Tcb &t) {
  if (t.state == TcpState::kTimeWait) return;
  if (t.keepalive && t.synchronized()) {
    ctx_.timers.arm(t.wait_timer, cfg_.keepalive_idle_ns);
  } else {
    ctx_.timers.cancel(t.wait_timer);
  }
}

void Tcp::wait_timeout(Tcb &t) {
  if (t.state == TcpState::kTimeWait) {
    destroy(t);
    return;
  }
  if (t.state == TcpState::kFinWait2) {
    // Closed by the application; the peer may still send (a half close), so
    // what ends the wait is fin_wait2_ns of silence, not of age.
    const uint64_t idle = ctx_.clock.now_ns() - t.last_rx_ns;
    if (idle < cfg_.fin_wait2_ns) {
      ctx_.timers.arm(t.wait_timer, cfg_.fin_wait2_ns - idle);
      return;
    }
    ++stats_.fin_wait2_timeouts;
    send_rst(t);
    kill(t, DeadReason::kTimeout, true);
    return;
  }
  if (!t.keepalive || !t.synchronized()) return;
  // Keep-alive (RFC 9293 3.8.4): probe only after keepalive_idle_ns of
  // silence from the peer; anything it sends resets the count.
  const uint64_t now = ctx_.clock.now_ns();
  const uint64_t idle = now - t.last_rx_ns;
  if (t.ka_sent == 0 && idle < cfg_.keepalive_idle_ns) {
    ctx_.timers.arm(t.wait_timer, cfg_.keepalive_idle_ns - idle);
    return;
  }
  if (t.ka_sent >= cfg_.keepalive_probes) {
    ++stats_.timeouts;
    send_rst(t);
    kill(t, DeadReason::kTimeout, true);
    return;
  }
  ++t.ka_sent;
  ++stats_.keepalive_probes;
  send_probe(t);
  ctx_.timers.arm(t.wait_timer, cfg_.keepalive_interval_ns);
}

}  // namespace ix::net::tcp
