#include "core/stats_report.hh"

#include <iomanip>

namespace ix::core {

namespace {
double mean_batch(const CoreStats &c) {
  const uint64_t busy = c.iterations - c.idle_polls;
  return busy == 0 ? 0.0 : static_cast<double>(c.rx_frames) / static_cast<double>(busy);
}
}  // namespace

void print_summary(std::ostream &os, const std::vector<ThreadSnapshot> &threads,
                   const drivers::Device *dev) {
  for (size_t i = 0; i < threads.size(); ++i) {
    const auto &t = threads[i];
    os << "thread " << i << ": rx " << t.core.rx_frames << " tx " << t.core.tx_frames << " loops "
       << t.core.iterations << " mean batch " << std::fixed << std::setprecision(2)
       << mean_batch(t.core) << " commands " << t.core.commands << " events " << t.core.events
       << " pool " << t.pool_available << "/" << t.pool_capacity << " (" << t.pool_in_device
       << " in the device, alloc failures " << t.pool.alloc_failures << ")\n";
    if (t.core.fwd_out + t.core.fwd_in + t.core.fwd_dropped + t.core.foreign_handles != 0)
      os << "  flow groups: fwd_out " << t.core.fwd_out << " fwd_in " << t.core.fwd_in
         << " fwd_dropped " << t.core.fwd_dropped << " foreign_handles " << t.core.foreign_handles
         << "\n";
    if (t.core.groups_in + t.core.groups_out + t.core.adopted_rx != 0)
      os << "  moves: groups_in " << t.core.groups_in << " groups_out " << t.core.groups_out
         << " move_held " << t.core.move_held << " move_held_dropped " << t.core.move_held_dropped
         << " adopted_rx " << t.core.adopted_rx << " adopted_nombuf " << t.core.adopted_nombuf
         << "\n";
    os << "  drops:";
    bool any = false;
    t.net.for_each([&](const char *name, uint64_t v) {
      if (v != 0 && std::string_view(name).starts_with("drop.")) {
        os << " " << name + 5 << "=" << v;
        any = true;
      }
    });
    os << (any ? "" : " none") << "\n";
    if (dev != nullptr) {
      const auto q = dev->stats(static_cast<uint16_t>(i));
      os << "  queue " << i << ": rx " << q.rx_packets << " tx " << q.tx_packets << " rx_nombuf "
         << q.rx_nombuf << " rx_dropped " << q.rx_dropped << " tx_dropped " << q.tx_dropped << "\n";
    }
  }
}

void write_json(std::ostream &os, const std::vector<ThreadSnapshot> &threads,
                const drivers::Device *dev) {
  os << "{\"threads\":[";
  for (size_t i = 0; i < threads.size(); ++i) {
    const auto &t = threads[i];
    os << (i ? "," : "") << "{\"id\":" << i << ",\"core\":{\"iterations\":" << t.core.iterations
       << ",\"idle_polls\":" << t.core.idle_polls << ",\"idle_yields\":" << t.core.idle_yields
       << ",\"loop_ns\":" << t.core.loop_ns << ",\"busy_ns\":" << t.core.busy_ns
       << ",\"rx_frames\":" << t.core.rx_frames << ",\"tx_frames\":" << t.core.tx_frames
       << ",\"tx_full\":" << t.core.tx_full << ",\"tx_dropped\":" << t.core.tx_dropped
       << ",\"commands\":" << t.core.commands << ",\"events\":" << t.core.events
       << ",\"timers_fired\":" << t.core.timers_fired << ",\"rx_paused\":" << t.core.rx_paused
       << ",\"arp_notes_dropped\":" << t.core.arp_notes_dropped << ",\"fwd_out\":" << t.core.fwd_out
       << ",\"fwd_in\":" << t.core.fwd_in << ",\"fwd_dropped\":" << t.core.fwd_dropped
       << ",\"foreign_handles\":" << t.core.foreign_handles << ",\"groups_in\":" << t.core.groups_in
       << ",\"groups_out\":" << t.core.groups_out << ",\"move_held\":" << t.core.move_held
       << ",\"move_held_dropped\":" << t.core.move_held_dropped
       << ",\"adopted_rx\":" << t.core.adopted_rx << ",\"adopted_nombuf\":" << t.core.adopted_nombuf
       << ",\"batch_hist\":[";
    for (size_t b = 0; b < t.core.batch_hist.size(); ++b)
      os << (b ? "," : "") << t.core.batch_hist[b];
    os << "]},\"net\":{";
    bool first = true;
    t.net.for_each([&](const char *name, uint64_t v) {
      os << (first ? "" : ",") << "\"" << name << "\":" << v;
      first = false;
    });
    os << "},\"tcp\":{";
    first = true;
    t.tcp.for_each([&](const char *name, uint64_t v) {
      os << (first ? "" : ",") << "\"" << (name + 4) << "\":" << v;  // without "tcp."
      first = false;
    });
    os << "},\"pool\":{\"capacity\":" << t.pool_capacity << ",\"available\":" << t.pool_available
       << ",\"in_device\":" << t.pool_in_device << ",\"alloc_failures\":" << t.pool.alloc_failures
       << ",\"double_frees\":" << t.pool.double_frees << "}";
    if (dev != nullptr) {
      const auto q = dev->stats(static_cast<uint16_t>(i));
      os << ",\"queue\":{\"rx_packets\":" << q.rx_packets << ",\"rx_bytes\":" << q.rx_bytes
         << ",\"rx_nombuf\":" << q.rx_nombuf << ",\"rx_dropped\":" << q.rx_dropped
         << ",\"tx_packets\":" << q.tx_packets << ",\"tx_bytes\":" << q.tx_bytes
         << ",\"tx_dropped\":" << q.tx_dropped << "}";
    }
    os << "}";
  }
  os << "]}\n";
}

}  // namespace ix::core
