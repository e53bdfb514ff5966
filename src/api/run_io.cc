// The C entry points of include/ix/syscall.h.
#include "api/context.hh"
#include "ix/syscall.h"

extern "C" {

int ix_run_io(ix_ctx *ctx, ix_cmd *cmds, size_t ncmds, ix_event *events, size_t max_events) {
  if (ctx == nullptr) return IX_EINVAL;
  return ctx->run_io(cmds, ncmds, events, max_events);
}

int ix_should_stop(const ix_ctx *ctx) { return ctx == nullptr || ctx->should_stop(); }

unsigned ix_thread_id(const ix_ctx *ctx) { return ctx == nullptr ? 0 : ctx->thread_id(); }

unsigned ix_thread_count(const ix_ctx *ctx) { return ctx == nullptr ? 0 : ctx->thread_count(); }

uint64_t ix_now_ns(const ix_ctx *ctx) { return ctx == nullptr ? 0 : ctx->now_ns(); }

int ix_follow_moves(ix_ctx *ctx, int on) {
  return ctx == nullptr ? IX_EINVAL : ctx->follow_moves(on != 0);
}

const char *ix_status_name(int status) {
  switch (status) {
    case IX_OK:
      return "OK";
    case IX_ENOMEM:
      return "NOMEM";
    case IX_ENOBUFS:
      return "NOBUFS";
    case IX_EINVAL:
      return "INVAL";
    case IX_EAGAIN:
      return "AGAIN";
    case IX_EBADH:
      return "BADH";
    case IX_ECLOSED:
      return "CLOSED";
    case IX_ECONNREFUSED:
      return "CONNREFUSED";
    case IX_EADDRINUSE:
      return "ADDRINUSE";
    case IX_EMSGSIZE:
      return "MSGSIZE";
    case IX_EHOSTUNREACH:
      return "HOSTUNREACH";
    case IX_EOPNOTSUPP:
      return "OPNOTSUPP";
    case IX_ECONNRESET:
      return "CONNRESET";
    case IX_ETIMEDOUT:
      return "TIMEDOUT";
    case IX_EMOVED:
      return "MOVED";
    default:
      return "UNKNOWN";
  }
}

}  // extern "C"
