// Attaching an application to the dataplane process: one message each way
// on a Unix SOCK_SEQPACKET socket, the dataplane's reply carrying the shared
// regions' file descriptors (SCM_RIGHTS). The socket stays open while the
// application is attached: its end (exit, crash, kill -9) is how the
// dataplane learns that the application is gone.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "ipc/channel.hh"

namespace ix::ipc {

struct Hello {
  uint32_t magic = kChannelMagic;
  uint32_t version = kProtocolVersion;
  int32_t pid = 0;
  char name[32] = {};  // the application's program name, for logs and counters
};

struct Welcome {
  uint32_t magic = kChannelMagic;
  uint32_t version = kProtocolVersion;
  int32_t status = 0;  // 0, or a negative errno with `message` saying why
  char message[160] = {};
  uint32_t app_id = 0;
  uint32_t threads = 0;
  ChannelLimits limits;
  uint64_t channel_bytes = 0;
  uint64_t send_region_bytes = 0;  // one region, split evenly between the threads
  uint64_t recv_region_bytes = 0;  // per thread
  // File descriptors that follow, in this order: the send region, then each
  // thread's channel, then each thread's receive region.
};

// Sends one message with `fds` attached; false on failure (errno set).
bool send_message(int sock, const void *msg, size_t len, const std::vector<int> &fds);
// Receives one message of exactly `len` bytes and up to `max_fds`
// descriptors (appended to *fds); false on failure, a short or oversized
// message, or a closed socket.
bool recv_message(int sock, void *msg, size_t len, std::vector<int> *fds, size_t max_fds);

}  // namespace ix::ipc
