#include "control/control_tasks.hh"

#include "core/elastic_thread.hh"
#include "net/tcp/tcp.hh"

namespace ix::control {

bool PublishCountersTask::step(core::ElasticThread &thread) {
  thread.publish_now();
  return true;
}

bool ConnSnapshotTask::step(core::ElasticThread &thread) {
  const net::tcp::Tcp &tcp = thread.stack().tcp();
  // One allocation for the whole copy, made at the first step (the vector
  // grows only if connections are added faster than the walk goes).
  if (steps_++ == 0) conns_.reserve(tcp.connections());
  cursor_ = net::tcp::collect_conn_info(tcp.table(), cursor_, slots_per_step_, conns_);
  return cursor_ >= tcp.table().slots_made();
}

}  // namespace ix::control
