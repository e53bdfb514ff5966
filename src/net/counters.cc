#include "net/counters.hh"

namespace ix::net {

const char *drop_reason_name(DropReason r) {
  switch (r) {
#define IX_NET_DROP_NAME(id, name) \
  case DropReason::id:             \
    return name;
    IX_NET_DROP_REASONS(IX_NET_DROP_NAME)
#undef IX_NET_DROP_NAME
    case DropReason::kCount:
      break;
  }
  return "unknown";
}

}  // namespace ix::net
