// Raw TCP for tests that must misbehave as HTTP clients (slow, incomplete, many).
#pragma once

#include <chrono>
#include <string>

namespace relay::testing {

// A connected socket to 127.0.0.1:port, or -1.
int ConnectLoopback(int port);
// Sends bytes on one connection and reads until `responses` HTTP answers arrived or the peer
// closed (10 s at most).
std::string RawExchange(int port, const std::string& bytes, int responses);
// Reads and discards until the peer closes; false if it is still open after `timeout`.
bool WaitForPeerClose(int fd, std::chrono::milliseconds timeout);

}  // namespace relay::testing
