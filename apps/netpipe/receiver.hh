// The receiving side of NetPIPE's TCP protocol (NPtcp 3.7, as seen on the
// wire against a Linux NPtcp receiver), as a pure state machine: bytes from
// the transmitter go in, what to answer comes out. No sockets, no clock of
// its own (times are passed in), so it is tested byte by byte.
//
// The conversation, transmitter (T) and receiver (R):
//   sync            T and R each send the 6 bytes "SyncMe"
//   latency         100 round trips of `lower` bytes, then a sync
//   per point       sync; T sends the repeat count (4 bytes, big endian);
//                   3 trials of: sync, then `count` round trips of `size`
//                   bytes (R reads the whole message before echoing it)
//   end             T sends "QUIT\0", R answers the same 5 bytes and closes.
// Sizes are not sent: both walk SizeSchedule. T may end before the schedule
// does (when a point took a second or more); it does so only where a new size
// group would start, and there "QUIT\0" stands where a sync would.
//
// Every sync is answered after the transmitter's has arrived (NPtcp writes
// its own first, then reads), so the receiver never speaks out of turn.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "netpipe/schedule.hh"

namespace netpipe {

inline constexpr char kSync[] = "SyncMe";  // 6 bytes on the wire (no NUL)
inline constexpr size_t kSyncLen = 6;
inline constexpr char kQuit[] = "QUIT";  // 5 bytes on the wire, NUL included
inline constexpr size_t kQuitLen = 5;
inline constexpr uint32_t kLatencyRoundTrips = 100;
inline constexpr uint32_t kTrials = 3;

// One measured point, timed on the receiver's side as NPtcp times it: the
// best of the trials, per one-way transfer (round-trip time / 2).
struct PointResult {
  uint32_t index = 0;
  uint32_t size = 0;
  uint32_t repeats = 0;
  double seconds = 0;  // one-way time; 0 when repeats is 0
};

class Receiver {
 public:
  enum class Step {
    kNeedMore,   // all input consumed; wait for more
    kReplySync,  // send kSync (6 bytes)
    kEcho,       // send back message() (the whole message just received)
    kReplyQuit,  // send kQuit (5 bytes) and close: the run is complete
    kError,      // protocol violation: error() says what; drop the connection
  };
  struct Result {
    Step step = Step::kNeedMore;
    size_t consumed = 0;  // bytes of the input used (the rest: feed again)
  };

  // The message buffer is sized once for the schedule's largest message.
  explicit Receiver(const ScheduleOptions &o);

  // Feeds transmitter bytes. Stops after the first byte that calls for an
  // answer (or an error), so the caller acts before feeding the rest. After
  // kReplyQuit or kError, nothing more is accepted.
  Result feed(std::span<const uint8_t> in, uint64_t now_ns);

  // How many bytes the receiver can take before it next has something to say
  // (the caller may read exactly that much).
  size_t wanted() const;

  // The message to echo after kEcho; valid until the next feed that starts a
  // new message (the caller must not feed message bytes while it still sends
  // from it).
  std::span<const uint8_t> message() const { return {buf_.data(), msg_size_}; }
  bool in_message() const;

  const std::string &error() const { return error_; }
  bool finished() const { return state_ == State::kDone; }
  // Points completed so far (all trials done).
  const std::vector<PointResult> &results() const { return results_; }
  // One-way latency from the opening round trips (seconds), 0 before.
  double latency_seconds() const { return latency_s_; }

 private:
  enum class State {
    kHello,          // first sync
    kLatency,        // latency round trips
    kLatencySync,    // sync after the latency run
    kPointSync,      // sync before a point's repeat count (or QUIT at a group start)
    kRepeat,         // 4-byte repeat count
    kTrialSync,      // sync before a trial
    kTrialMessages,  // a trial's round trips
    kDone,
    kFailed,
  };

  Result fail(size_t consumed, std::string why);
  // Collects a control token (sync or quit); returns true once complete.
  bool take_token(std::span<const uint8_t> in, size_t &used, size_t want);
  bool take_message(std::span<const uint8_t> in, size_t &used);
  // The token bytes so far are a prefix of `token`.
  bool prefix_of(const char *token) const;
  void start_next_point();
  void finish_trial(uint64_t now_ns);

  SizeSchedule schedule_;
  ScheduleOptions opts_;
  State state_ = State::kHello;
  std::string error_;
  std::vector<uint8_t> buf_;
  size_t have_ = 0;           // bytes of the current token or message received
  uint32_t msg_size_ = 0;     // size of the current message
  uint32_t round_trips_ = 0;  // messages done in this latency run or trial
  uint32_t repeats_ = 0;
  uint32_t trial_ = 0;
  bool quit_allowed_ = false;  // the next point starts a size group (or none is left)
  bool schedule_over_ = false;
  uint32_t next_size_ = 0;
  uint64_t t0_ns_ = 0;
  double best_s_ = 0;
  double latency_s_ = 0;
  uint8_t token_[8] = {};
  std::vector<PointResult> results_;
};

}  // namespace netpipe
