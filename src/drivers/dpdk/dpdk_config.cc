#include "drivers/dpdk/dpdk_config.hh"

#include <stdexcept>

namespace ix::drivers {

namespace {
bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
}  // namespace

std::vector<std::string> split_eal_args(std::string_view text) {
  std::vector<std::string> out;
  std::string cur;
  bool in_word = false;
  char quote = 0;
  for (char c : text) {
    if (quote != 0) {
      if (c == quote)
        quote = 0;
      else
        cur += c;
      continue;
    }
    if (c == '"' || c == '\'') {
      quote = c;
      in_word = true;  // "" is an (empty) argument
    } else if (is_space(c)) {
      if (in_word) out.push_back(std::move(cur));
      cur.clear();
      in_word = false;
    } else {
      cur += c;
      in_word = true;
    }
  }
  if (quote != 0)
    throw std::invalid_argument(std::string("dpdk_args: unclosed ") + quote + " in '" +
                                std::string(text) + "'");
  if (in_word) out.push_back(std::move(cur));
  return out;
}

void validate(const DpdkConfig &cfg) {
  split_eal_args(cfg.eal_args);
  if (cfg.queues == 0) throw std::invalid_argument("dpdk: queues must be at least 1");
  for (char c : cfg.port)
    if (static_cast<unsigned char>(c) <= 0x20 || static_cast<unsigned char>(c) >= 0x7f)
      throw std::invalid_argument("dpdk_port: '" + cfg.port +
                                  "' is not a port id or device name (no spaces or control "
                                  "characters)");
  if (cfg.rx_descs < 32 || cfg.tx_descs < 32)
    throw std::invalid_argument("dpdk: rx_descs and tx_descs must be at least 32, got " +
                                std::to_string(cfg.rx_descs) + " and " +
                                std::to_string(cfg.tx_descs));
}

}  // namespace ix::drivers
