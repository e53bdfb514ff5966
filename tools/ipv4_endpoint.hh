// The IP:PORT argument (--dst) the Linux client tools take. Header-only:
// each tool is one .cc compiled on its own.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <string>

// Parses a dotted IPv4 address and a port 1..65535 into *out. Returns
// nullptr on success, otherwise what is wrong (for the tool's usage line).
inline const char *parse_ipv4_endpoint(const std::string &s, sockaddr_in *out) {
  const auto colon = s.rfind(':');
  if (colon == std::string::npos) return "expected IP:PORT";
  const std::string port_text = s.substr(colon + 1);
  char *end = nullptr;
  errno = 0;
  const long port = std::strtol(port_text.c_str(), &end, 10);
  if (port_text.empty() || *end != '\0' || errno != 0 || port < 1 || port > 65535)
    return "port must be 1..65535";
  *out = sockaddr_in{};
  out->sin_family = AF_INET;
  out->sin_port = htons(static_cast<uint16_t>(port));
  if (inet_pton(AF_INET, s.substr(0, colon).c_str(), &out->sin_addr) != 1)
    return "bad IPv4 address";
  return nullptr;
}
