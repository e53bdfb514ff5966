#include "netpipe/receiver.hh"

#include <algorithm>
#include <cstring>
#include <limits>

namespace netpipe {

Receiver::Receiver(const ScheduleOptions &o) : schedule_(o), opts_(o) {
  buf_.resize(std::max(schedule_.max_size(), o.lower));
}

bool Receiver::in_message() const {
  return state_ == State::kLatency || state_ == State::kTrialMessages;
}

size_t Receiver::wanted() const {
  switch (state_) {
    case State::kHello:
    case State::kLatencySync:
    case State::kTrialSync:
      return kSyncLen - have_;
    case State::kPointSync:
      // A QUIT is one byte shorter than a sync: never ask for more than it.
      return (quit_allowed_ && have_ < kQuitLen ? kQuitLen : kSyncLen) - have_;
    case State::kRepeat:
      return 4 - have_;
    case State::kLatency:
    case State::kTrialMessages:
      return msg_size_ - have_;
    case State::kDone:
    case State::kFailed:
      return 0;
  }
  return 0;
}

Receiver::Result Receiver::fail(size_t consumed, std::string why) {
  state_ = State::kFailed;
  error_ = std::move(why);
  return {Step::kError, consumed};
}

bool Receiver::take_token(std::span<const uint8_t> in, size_t &used, size_t want) {
  const size_t n = std::min(want - have_, in.size() - used);
  std::memcpy(token_ + have_, in.data() + used, n);
  have_ += n;
  used += n;
  return have_ == want;
}

bool Receiver::prefix_of(const char *token) const { return std::memcmp(token_, token, have_) == 0; }

bool Receiver::take_message(std::span<const uint8_t> in, size_t &used) {
  const size_t n = std::min(size_t{msg_size_} - have_, in.size() - used);
  std::memcpy(buf_.data() + have_, in.data() + used, n);
  have_ += n;
  used += n;
  return have_ == msg_size_;
}

void Receiver::start_next_point() {
  state_ = State::kPointSync;
  if (auto p = schedule_.next()) {
    next_size_ = p->size;
    quit_allowed_ = p->group_start;
    schedule_over_ = false;
  } else {
    quit_allowed_ = true;
    schedule_over_ = true;
  }
}

void Receiver::finish_trial(uint64_t now_ns) {
  const double s =
      repeats_ == 0 ? 0.0 : static_cast<double>(now_ns - t0_ns_) * 1e-9 / repeats_ / 2.0;
  best_s_ = trial_ == 0 ? s : std::min(best_s_, s);
  if (++trial_ < kTrials) {
    state_ = State::kTrialSync;
    return;
  }
  results_.push_back(
      PointResult{static_cast<uint32_t>(results_.size()), msg_size_, repeats_, best_s_});
  start_next_point();
}

Receiver::Result Receiver::feed(std::span<const uint8_t> in, uint64_t now_ns) {
  size_t used = 0;
  for (;;) {
    if (state_ == State::kFailed) return {Step::kError, used};
    if (state_ == State::kDone) {
      if (in.size() == used) return {Step::kNeedMore, used};
      return fail(used, "data after QUIT");
    }
    if (used == in.size()) return {Step::kNeedMore, used};

    switch (state_) {
      case State::kHello:
      case State::kLatencySync:
      case State::kTrialSync: {
        const bool whole = take_token(in, used, kSyncLen);
        if (!prefix_of(kSync)) return fail(used, "expected \"SyncMe\"");
        if (!whole) continue;
        have_ = 0;
        if (state_ == State::kHello) {
          state_ = State::kLatency;
          msg_size_ = opts_.lower;
          round_trips_ = 0;
          t0_ns_ = now_ns;
        } else if (state_ == State::kLatencySync) {
          start_next_point();
        } else {
          state_ = State::kTrialMessages;
          round_trips_ = 0;
          t0_ns_ = now_ns;
          if (repeats_ == 0) finish_trial(now_ns);
        }
        return {Step::kReplySync, used};
      }

      case State::kPointSync: {
        // Bytes are checked as they come: a wrong one fails at once rather
        // than leaving the receiver waiting for a token that will not come.
        const size_t want = quit_allowed_ && have_ < kQuitLen ? kQuitLen : kSyncLen;
        const bool whole = take_token(in, used, want);
        const bool may_quit = quit_allowed_ && have_ <= kQuitLen && prefix_of(kQuit);
        if (!may_quit && !prefix_of(kSync)) {
          // (NPtcp quits only where a size group would start.)
          return fail(used,
                      quit_allowed_ ? "expected \"SyncMe\" or \"QUIT\"" : "expected \"SyncMe\"");
        }
        if (!may_quit && schedule_over_) {
          return fail(used,
                      "expected QUIT: the transmitter goes on past this receiver's schedule "
                      "(lower/upper/perturbation must match its -l/-u/-p)");
        }
        if (!whole) continue;
        if (want == kQuitLen) {
          if (may_quit) {
            have_ = 0;
            state_ = State::kDone;
            return {Step::kReplyQuit, used};
          }
          continue;  // "SyncM" so far: one more byte
        }
        have_ = 0;
        state_ = State::kRepeat;
        return {Step::kReplySync, used};
      }

      case State::kRepeat: {
        if (!take_token(in, used, 4)) continue;
        have_ = 0;
        const uint32_t count = (uint32_t{token_[0]} << 24) | (uint32_t{token_[1]} << 16) |
                               (uint32_t{token_[2]} << 8) | token_[3];
        // NPtcp keeps the count in an int; a "negative" one is garbage.
        if (count > static_cast<uint32_t>(std::numeric_limits<int32_t>::max()))
          return fail(used, "repeat count " + std::to_string(count) + " out of range");
        repeats_ = count;
        msg_size_ = next_size_;
        trial_ = 0;
        state_ = State::kTrialSync;
        continue;
      }

      case State::kLatency:
      case State::kTrialMessages: {
        if (!take_message(in, used)) continue;
        have_ = 0;
        ++round_trips_;
        if (state_ == State::kLatency) {
          if (round_trips_ == kLatencyRoundTrips) {
            latency_s_ = static_cast<double>(now_ns - t0_ns_) * 1e-9 / (2.0 * kLatencyRoundTrips);
            state_ = State::kLatencySync;
          }
        } else if (round_trips_ == repeats_) {
          finish_trial(now_ns);
        }
        return {Step::kEcho, used};
      }

      case State::kDone:
      case State::kFailed:
        break;
    }
  }
}

}  // namespace netpipe
