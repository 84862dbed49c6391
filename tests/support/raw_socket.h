// RawSocket: a plain TCP connection to a test server for clients that misbehave on purpose
// (byte-at-a-time upgrades, tiny receive buffers, floods of frames written in one go).

#ifndef PARLEY_TESTS_SUPPORT_RAW_SOCKET_H_
#define PARLEY_TESTS_SUPPORT_RAW_SOCKET_H_

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace parley::testing {

class RawSocket {
 public:
  // Connects to 127.0.0.1:`port`; `receive_buffer` > 0 shrinks SO_RCVBUF first.
  explicit RawSocket(std::uint16_t port, int receive_buffer = 0);
  ~RawSocket();
  RawSocket(const RawSocket&) = delete;
  RawSocket& operator=(const RawSocket&) = delete;

  bool connected() const { return connected_; }

  // Writes everything (blocking); false if the peer is gone.
  bool Write(std::string_view bytes);

  // Sends the HTTP upgrade for /v1/chat and reads the answer's head; true on 101.
  bool Upgrade();

  // A masked client WebSocket frame (FIN set) with `opcode` (1 text, 2 binary).
  static std::string Frame(std::uint8_t opcode, std::string_view payload);

  // Reads until what arrived contains `needle`; false on timeout or close.
  bool ReadUntilContains(std::string_view needle, std::chrono::milliseconds timeout);

  // True when the server closed the connection (read returns end of file or reset) within
  // `timeout`, discarding whatever else arrives meanwhile.
  bool ClosedWithin(std::chrono::milliseconds timeout);

 private:
  int fd_ = -1;
  bool connected_ = false;
};

}  // namespace parley::testing

#endif  // PARLEY_TESTS_SUPPORT_RAW_SOCKET_H_
