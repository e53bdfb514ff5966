// What every protocol module of one stack shares: its configuration, the
// core's buffer pool, clock, timers and frame sink, the device's offload
// capabilities, and the counters. Plain references, owned by NetStack.
#pragma once

#include "mem/mbuf.hh"
#include "mem/mbuf_pool.hh"
#include "net/counters.hh"
#include "net/link_caps.hh"
#include "net/stack.hh"
#include "timing/clock.hh"
#include "timing/timer_wheel.hh"

namespace ix::net {

struct StackContext {
  const StackConfig &cfg;
  mem::MbufPool &pool;
  const timing::Clock &clock;
  timing::TimerWheel &timers;
  FrameSink &sink;
  const LinkCaps caps;
  StackCounters &counters;

  void transmit(mem::Mbuf *frame) {
    ++counters.tx_frames;
    sink.send_frame(frame);
  }
  void drop(mem::Mbuf *m, DropReason r) {
    counters.drop(r);
    mem::MbufPool::free_chain(m);
  }
};

}  // namespace ix::net
