// delay-kv-server: a minimal memcached text-protocol server (get/gets, set,
// delete, version, quit) that answers every request exactly --delay-us
// after it arrived. With a known service time, a load generator's latency
// histogram can be checked: nothing it reports may be below the delay, and
// at a low rate little should be far above it.
//
//   delay-kv-server --port 11311 [--addr 0.0.0.0] --delay-us 2000 [--seconds 60]
//
// One thread, epoll. Replies wait in one FIFO ordered by due time (the delay
// is the same for all, so arrival order is due order); epoll_pwait2's
// nanosecond timeout wakes the loop when the oldest is due. Prints its
// request counts when it ends (SIGINT/SIGTERM or --seconds).
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace {

constexpr size_t kMaxLine = 2048;
constexpr size_t kMaxKey = 250;
constexpr uint64_t kMaxValue = 1 << 20;
constexpr uint64_t kListenTag = UINT64_MAX;

volatile std::sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }

uint64_t now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(ts.tv_nsec);
}

struct Item {
  uint32_t flags;
  std::string data;
};

struct Counts {
  uint64_t connections = 0, requests = 0, gets = 0, hits = 0, misses = 0, sets = 0, errors = 0;
};

struct Connection {
  int fd = -1;
  uint64_t id = 0;  // never reused, so a delayed reply cannot reach a new connection
  std::string in;
  std::string out;
  size_t out_off = 0;
  // A set waiting for its data block: key, flags, and bytes (+2 for \r\n).
  bool in_data = false, swallow = false;
  std::string set_key;
  uint32_t set_flags = 0;
  uint64_t set_bytes = 0;
  bool close_after = false;
};

struct Delayed {
  uint64_t due_ns;
  uint64_t conn_id;
  std::string reply;
};

class Server {
 public:
  Server(int listen_fd, uint64_t delay_ns) : listen_fd_(listen_fd), delay_ns_(delay_ns) {
    epfd_ = epoll_create1(EPOLL_CLOEXEC);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = kListenTag;
    epoll_ctl(epfd_, EPOLL_CTL_ADD, listen_fd_, &ev);
  }

  void run(uint64_t end_ns) {
    std::vector<epoll_event> events(256);
    std::vector<char> buf(256 * 1024);
    while (!g_stop) {
      const uint64_t now = now_ns();
      if (end_ns != 0 && now >= end_ns) break;
      uint64_t wake = end_ns != 0 ? end_ns : now + 100'000'000;
      if (!queue_.empty()) wake = std::min(wake, queue_.front().due_ns);
      timespec timeout{};
      if (wake > now) {
        timeout.tv_sec = static_cast<time_t>((wake - now) / 1'000'000'000ull);
        timeout.tv_nsec = static_cast<long>((wake - now) % 1'000'000'000ull);
      }
      const int n =
          epoll_pwait2(epfd_, events.data(), static_cast<int>(events.size()), &timeout, nullptr);
      for (int i = 0; i < n; ++i) {
        const uint64_t tag = events[i].data.u64;
        if (tag == kListenTag) {
          accept_all();
          continue;
        }
        auto it = conns_.find(tag);
        if (it == conns_.end()) continue;
        Connection &c = *it->second;
        if (events[i].events & EPOLLOUT) flush(c);
        if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR | EPOLLRDHUP)) read_from(c, buf);
      }
      release_due();
      reap();
    }
  }

  const Counts &counts() const { return counts_; }

 private:
  void accept_all() {
    for (;;) {
      const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) return;
      const int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      auto c = std::make_unique<Connection>();
      c->fd = fd;
      c->id = next_id_++;
      epoll_event ev{};
      ev.events = EPOLLIN | EPOLLRDHUP;
      ev.data.u64 = c->id;
      epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev);
      ++counts_.connections;
      conns_[c->id] = std::move(c);
    }
  }

  void read_from(Connection &c, std::vector<char> &buf) {
    for (;;) {
      const ssize_t r = recv(c.fd, buf.data(), buf.size(), 0);
      if (r > 0) {
        c.in.append(buf.data(), static_cast<size_t>(r));
        if (!parse(c)) {
          close_later(c);
          return;
        }
        if (static_cast<size_t>(r) < buf.size()) return;
      } else if (r < 0 && errno == EINTR) {
        continue;
      } else if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        return;
      } else {
        close_later(c);
        return;
      }
    }
  }

  void reply(Connection &c, std::string text) {
    queue_.push_back({now_ns() + delay_ns_, c.id, std::move(text)});
  }

  // Consumes every complete request in c.in; false when the connection
  // must be closed (quit, or a request too malformed to continue).
  bool parse(Connection &c) {
    size_t pos = 0;
    bool keep = true;
    while (keep) {
      if (c.in_data) {
        if (c.in.size() - pos < c.set_bytes + 2) break;
        const std::string_view block(c.in.data() + pos, c.set_bytes + 2);
        pos += c.set_bytes + 2;
        c.in_data = false;
        if (c.swallow) continue;
        if (block.substr(c.set_bytes) != "\r\n") {
          ++counts_.errors;
          reply(c, "CLIENT_ERROR bad data chunk\r\n");
          continue;
        }
        items_[c.set_key] = Item{c.set_flags, std::string(block.substr(0, c.set_bytes))};
        ++counts_.sets;
        reply(c, "STORED\r\n");
        continue;
      }
      const size_t nl = c.in.find('\n', pos);
      if (nl == std::string::npos) {
        if (c.in.size() - pos > kMaxLine) {
          reply(c, "CLIENT_ERROR line too long\r\n");
          keep = false;
        }
        break;
      }
      std::string_view line(c.in.data() + pos, nl - pos);
      pos = nl + 1;
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      ++counts_.requests;
      keep = command(c, line);
    }
    c.in.erase(0, pos);
    return keep;
  }

  static std::vector<std::string_view> words(std::string_view line) {
    std::vector<std::string_view> out;
    size_t i = 0;
    while (i < line.size()) {
      while (i < line.size() && line[i] == ' ') ++i;
      const size_t start = i;
      while (i < line.size() && line[i] != ' ') ++i;
      if (i > start) out.push_back(line.substr(start, i - start));
    }
    return out;
  }

  static bool number(std::string_view s, uint64_t &out) {
    auto r = std::from_chars(s.data(), s.data() + s.size(), out);
    return !s.empty() && r.ec == std::errc{} && r.ptr == s.data() + s.size();
  }

  bool command(Connection &c, std::string_view line) {
    const auto w = words(line);
    if (w.empty()) {
      ++counts_.errors;
      reply(c, "ERROR\r\n");
      return true;
    }
    if ((w[0] == "get" || w[0] == "gets") && w.size() >= 2) {
      std::string out;
      for (size_t i = 1; i < w.size(); ++i) {
        ++counts_.gets;
        auto it = items_.find(std::string(w[i]));
        if (it == items_.end()) {
          ++counts_.misses;
          continue;
        }
        ++counts_.hits;
        out += "VALUE " + std::string(w[i]) + " " + std::to_string(it->second.flags) + " " +
               std::to_string(it->second.data.size()) + (w[0] == "gets" ? " 1" : "") + "\r\n";
        out += it->second.data;
        out += "\r\n";
      }
      reply(c, out + "END\r\n");
      return true;
    }
    if (w[0] == "set" && (w.size() == 5 || w.size() == 6)) {
      uint64_t flags = 0, exptime = 0, bytes = 0;
      if (w[1].size() > kMaxKey || !number(w[2], flags) || flags > UINT32_MAX ||
          !number(w[3], exptime) || !number(w[4], bytes)) {
        ++counts_.errors;
        reply(c, "CLIENT_ERROR bad command line format\r\n");
        return false;  // the data block's length is unknown: cannot resync
      }
      c.in_data = true;
      c.set_bytes = bytes;
      c.swallow = bytes > kMaxValue;
      if (c.swallow) {
        ++counts_.errors;
        reply(c, "SERVER_ERROR object too large for cache\r\n");
      }
      c.set_key = std::string(w[1]);
      c.set_flags = static_cast<uint32_t>(flags);
      return true;
    }
    if (w[0] == "delete" && w.size() == 2) {
      reply(c, items_.erase(std::string(w[1])) ? "DELETED\r\n" : "NOT_FOUND\r\n");
      return true;
    }
    if (w[0] == "version" && w.size() == 1) {
      reply(c, "VERSION delay-kv-server\r\n");
      return true;
    }
    if (w[0] == "quit") return false;
    ++counts_.errors;
    reply(c, "ERROR\r\n");
    return true;
  }

  void release_due() {
    const uint64_t now = now_ns();
    std::vector<Connection *> touched;
    while (!queue_.empty() && queue_.front().due_ns <= now) {
      Delayed &d = queue_.front();
      auto it = conns_.find(d.conn_id);
      if (it != conns_.end() && it->second->fd >= 0) {
        it->second->out += d.reply;
        touched.push_back(it->second.get());
      }
      queue_.pop_front();
    }
    for (Connection *c : touched) flush(*c);
  }

  void flush(Connection &c) {
    while (c.fd >= 0 && c.out_off < c.out.size()) {
      const ssize_t n =
          send(c.fd, c.out.data() + c.out_off, c.out.size() - c.out_off, MSG_NOSIGNAL);
      if (n > 0) {
        c.out_off += static_cast<size_t>(n);
      } else if (n < 0 && errno == EINTR) {
        continue;
      } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        epoll_event ev{};
        ev.events = EPOLLIN | EPOLLRDHUP | EPOLLOUT;
        ev.data.u64 = c.id;
        epoll_ctl(epfd_, EPOLL_CTL_MOD, c.fd, &ev);
        return;
      } else {
        close_later(c);
        return;
      }
    }
    c.out.clear();
    c.out_off = 0;
  }

  void close_later(Connection &c) {
    if (c.fd >= 0) {
      epoll_ctl(epfd_, EPOLL_CTL_DEL, c.fd, nullptr);
      close(c.fd);
      c.fd = -1;
    }
  }

  void reap() {
    for (auto it = conns_.begin(); it != conns_.end();)
      it = it->second->fd < 0 ? conns_.erase(it) : std::next(it);
  }

  int listen_fd_;
  int epfd_;
  uint64_t delay_ns_;
  uint64_t next_id_ = 1;
  std::unordered_map<uint64_t, std::unique_ptr<Connection>> conns_;
  std::unordered_map<std::string, Item> items_;
  std::deque<Delayed> queue_;
  Counts counts_;
};

int usage() {
  std::fprintf(stderr,
               "usage: delay-kv-server --port PORT [--addr IPv4] [--delay-us US] [--seconds S]\n");
  return 2;
}

}  // namespace

int main(int argc, char **argv) {
  std::string addr = "0.0.0.0";
  uint64_t port = 11211, delay_us = 0, seconds = 0;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "-h" || a == "--help") return usage(), 0;
    if (i + 1 >= argc) return usage();
    const std::string v = argv[++i];
    uint64_t n = 0;
    const bool is_number =
        std::from_chars(v.data(), v.data() + v.size(), n).ptr == v.data() + v.size() && !v.empty();
    if (a == "--addr") {
      addr = v;
    } else if (a == "--port" && is_number && n >= 1 && n <= 65535) {
      port = n;
    } else if (a == "--delay-us" && is_number && n <= 60'000'000) {
      delay_us = n;
    } else if (a == "--seconds" && is_number && n <= 86400) {
      seconds = n;
    } else {
      std::fprintf(stderr, "delay-kv-server: bad option %s %s\n", a.c_str(), v.c_str());
      return usage();
    }
  }
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(port));
  if (inet_pton(AF_INET, addr.c_str(), &sa.sin_addr) != 1) {
    std::fprintf(stderr, "delay-kv-server: --addr '%s' is not an IPv4 address\n", addr.c_str());
    return 2;
  }
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  const int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr *>(&sa), sizeof sa) != 0 ||
      listen(fd, 1024) != 0) {
    std::fprintf(stderr, "delay-kv-server: cannot listen on %s:%llu: %s\n", addr.c_str(),
                 (unsigned long long)port, std::strerror(errno));
    return 1;
  }
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  std::signal(SIGPIPE, SIG_IGN);
  std::printf("delay-kv-server: listening on %s:%llu, delay %llu us\n", addr.c_str(),
              (unsigned long long)port, (unsigned long long)delay_us);
  std::fflush(stdout);
  Server server(fd, delay_us * 1000);
  server.run(seconds ? now_ns() + seconds * 1'000'000'000ull : 0);
  const Counts &c = server.counts();
  std::printf(
      "delay-kv-server: connections %llu requests %llu gets %llu (hits %llu misses %llu) sets "
      "%llu errors %llu\n",
      (unsigned long long)c.connections, (unsigned long long)c.requests, (unsigned long long)c.gets,
      (unsigned long long)c.hits, (unsigned long long)c.misses, (unsigned long long)c.sets,
      (unsigned long long)c.errors);
  return 0;
}
