#include "api/remote_app.hh"

#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <iostream>
#include <memory>
#include <thread>
#include <vector>

#include "api/remote_context.hh"
#include "ipc/attach.hh"
#include "ipc/shared_region.hh"

namespace ix::api {

namespace {

std::atomic<bool> g_stop{false};
extern "C" void on_attached_app_stop_signal(int) { g_stop.store(true, std::memory_order_relaxed); }

int connect_to(const std::string &path, std::string *err) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) {
    *err = "dataplane: the socket path '" + path + "' is too long";
    return -1;
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  const int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  if (fd < 0 || connect(fd, reinterpret_cast<sockaddr *>(&addr), sizeof addr) != 0) {
    *err = "dataplane: cannot reach ixd at '" + path + "': " + std::strerror(errno) +
           " (start the dataplane process first: ixd --socket " + path + " ...)";
    if (fd >= 0) close(fd);
    return -1;
  }
  return fd;
}

}  // namespace

std::unique_ptr<AttachedApp> AttachedApp::attach(const std::string &path, const char *name,
                                                 const std::atomic<bool> *stop, std::string *err) {
  const int sock = connect_to(path, err);
  if (sock < 0) return nullptr;
  std::unique_ptr<AttachedApp> app(new AttachedApp);
  app->sock_ = sock;  // closed by the destructor from here on
  ipc::Hello hello;
  hello.pid = getpid();
  const char *base = std::strrchr(name, '/');
  std::snprintf(hello.name, sizeof hello.name, "%s", base != nullptr ? base + 1 : name);
  ipc::Welcome &w = app->welcome_;
  std::vector<int> fds;
  if (!ipc::send_message(sock, &hello, sizeof hello, {}) ||
      !ipc::recv_message(sock, &w, sizeof w, &fds, 1 + 2 * 64)) {
    *err = "dataplane: ixd at '" + path +
           "' did not answer the attach request: " + std::strerror(errno);
    return nullptr;
  }
  auto close_fds = [&] {
    for (int fd : fds) close(fd);
  };
  if (w.status != 0 || w.magic != ipc::kChannelMagic) {
    w.message[sizeof w.message - 1] = '\0';
    *err = std::string("dataplane: ixd refused to attach us: ") + w.message;
    close_fds();
    return nullptr;
  }
  if (w.threads == 0 || fds.size() != 1 + 2 * size_t{w.threads}) {
    *err = "dataplane: ixd's answer is malformed (" + std::to_string(fds.size()) + " regions for " +
           std::to_string(w.threads) + " threads)";
    close_fds();
    return nullptr;
  }
  try {
    app->send_ = ipc::Mapping(fds[0], w.send_region_bytes, true);
    for (unsigned t = 0; t < w.threads; ++t) {
      app->channels_.emplace_back(fds[1 + t], w.channel_bytes, true);
      // Read-only: the dataplane sealed it against any writable mapping.
      app->recvs_.emplace_back(fds[1 + w.threads + t], w.recv_region_bytes, false);
    }
  } catch (const std::exception &e) {
    *err = std::string("dataplane: cannot map the shared regions: ") + e.what();
    close_fds();
    return nullptr;
  }
  close_fds();  // the mappings stay
  app->desk_ = std::make_unique<MoveDesk>(w.threads);
  const uint64_t slice = (w.send_region_bytes / w.threads) & ~uint64_t{63};
  for (unsigned t = 0; t < w.threads; ++t) {
    RemoteContext::Regions r{&app->channels_[t], &app->send_, &app->recvs_[t], t * slice, slice};
    app->ctxs_.push_back(
        std::make_unique<RemoteContext>(r, w.limits, stop, sock, app->desk_.get()));
  }
  return app;
}

AttachedApp::~AttachedApp() {
  ctxs_.clear();
  if (sock_ >= 0) close(sock_);  // detaches: ixd resets whatever connections are left
}

bool AttachedApp::dataplane_gone() const {
  for (const auto &c : ctxs_)
    if (c->dataplane_gone()) return true;
  return false;
}

int run_attached(const char *program, const config::DataplaneConfig &cfg,
                 const AppOptions &app_values, const ThreadMain &thread_main) {
  std::string err;
  auto app = AttachedApp::attach(cfg.dataplane, program, &g_stop, &err);
  if (app == nullptr) {
    std::cerr << program << ": " << err << "\n";
    return 1;
  }
  std::cout << program << ": attached to ixd at " << cfg.dataplane << " as application "
            << app->app_id() << " on " << app->threads()
            << (app->threads() == 1 ? " thread" : " threads") << " (protected mode)" << std::endl;

  struct sigaction sa {};
  sa.sa_handler = on_attached_app_stop_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  std::thread deadline;
  std::atomic<bool> finished{false};
  if (cfg.run_seconds > 0) {
    deadline = std::thread([&] {
      const auto end = std::chrono::steady_clock::now() +
                       std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                           std::chrono::duration<double>(cfg.run_seconds));
      while (!finished.load() && std::chrono::steady_clock::now() < end)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      g_stop.store(true);
    });
  }

  int rc = 0;
  std::vector<std::thread> threads;
  std::atomic<int> failed{0};
  for (unsigned t = 0; t < app->threads(); ++t) {
    threads.emplace_back([&, t] {
      try {
        thread_main(&app->context(t), app_values);
      } catch (const std::exception &e) {
        std::cerr << program << ": thread " << t << ": " << e.what() << "\n";
        failed.store(1);
        g_stop.store(true);
      }
    });
  }
  for (auto &th : threads) th.join();
  finished.store(true);
  if (deadline.joinable()) deadline.join();
  if (failed.load() != 0) rc = 1;
  if (app->dataplane_gone()) {
    std::cerr << program << ": dataplane: ixd at '" << cfg.dataplane
              << "' went away (it exited or was killed); its connections are gone with it. "
                 "Restart ixd and this application.\n";
    rc = 1;
  }
  app.reset();
  std::cout << program << ": detached from ixd" << std::endl;
  return rc;
}

}  // namespace ix::api
