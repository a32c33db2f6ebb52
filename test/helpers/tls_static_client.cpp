// nl-tls-static: a TLS HTTP/1.1 client with OpenSSL linked statically (libssl.a, libcrypto.a), so
// that it maps no libssl.so and its SSL_read/SSL_write are its own executable's symbols: what the
// HTTP capture must find there (daemon/http/tls_probes.h).
//
//   nl-tls-static PORT OUTDIR CONNS REQUESTS
//
// The protocol of test/helpers/http_client.py tls-http: prints "pid=N", waits for a line on
// standard input, then makes CONNS connections to 127.0.0.1:PORT, printing "conn=I local_port=P"
// for each, with REQUESTS keep-alive "GET /r/SIZE" requests each (SSL_write; responses read with
// SSL_read, Content-Length bodies); OUTDIR/connI.sent and connI.recv get the plaintext. Prints
// "done" and waits for standard input's EOF. Exit status 1 with a message on any error.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <stdexcept>
#include <string>

namespace {

[[noreturn]] void Fail(const std::string& what) {
  std::cerr << "nl-tls-static: " << what;
  if (unsigned long error = ERR_get_error(); error != 0) {
    char text[256];
    ERR_error_string_n(error, text, sizeof(text));
    std::cerr << ": " << text;
  }
  std::cerr << "\n";
  std::exit(1);
}

// One response, read exactly: the head up to the blank line, then Content-Length bytes.
std::string ReadResponse(SSL* ssl) {
  std::string data;
  char buffer[16384];
  size_t head_end = std::string::npos;
  size_t total = 0;
  for (;;) {
    if (head_end == std::string::npos && (head_end = data.find("\r\n\r\n")) != std::string::npos) {
      head_end += 4;
      const size_t at = data.find("Content-Length: ");
      if (at == std::string::npos || at > head_end) Fail("a response without Content-Length");
      total = head_end + std::stoul(data.substr(at + 16));
    }
    if (head_end != std::string::npos && data.size() >= total) break;
    const int n = SSL_read(ssl, buffer, sizeof(buffer));
    if (n <= 0) Fail("SSL_read");
    data.append(buffer, n);
  }
  if (data.size() != total) Fail("more than one response");
  return data;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5) {
    std::cerr << "usage: nl-tls-static PORT OUTDIR CONNS REQUESTS\n";
    return 2;
  }
  const int port = std::atoi(argv[1]);
  const std::string outdir = argv[2];
  const int conns = std::atoi(argv[3]), requests = std::atoi(argv[4]);
  SSL_CTX* context = SSL_CTX_new(TLS_client_method());
  if (!context) Fail("SSL_CTX_new");
  SSL_CTX_set_verify(context, SSL_VERIFY_NONE, nullptr);
  std::cout << "pid=" << getpid() << std::endl;
  std::string line;
  std::getline(std::cin, line);
  for (int i = 0; i < conns; ++i) {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0)
      Fail("connect");
    sockaddr_in local{};
    socklen_t length = sizeof(local);
    getsockname(fd, reinterpret_cast<sockaddr*>(&local), &length);
    std::cout << "conn=" << i << " local_port=" << ntohs(local.sin_port) << std::endl;
    SSL* ssl = SSL_new(context);
    if (!ssl || SSL_set_fd(ssl, fd) != 1 || SSL_connect(ssl) != 1) Fail("SSL_connect");
    std::string sent, received;
    for (int j = 0; j < requests; ++j) {
      const std::string request =
          "GET /r/" + std::to_string(1000 + 37 * (i * requests + j)) +
          " HTTP/1.1\r\nHost: localhost\r\nUser-Agent: nl-tls-static\r\n\r\n";
      if (SSL_write(ssl, request.data(), static_cast<int>(request.size())) !=
          static_cast<int>(request.size()))
        Fail("SSL_write");
      sent += request;
      received += ReadResponse(ssl);
    }
    SSL_shutdown(ssl);
    SSL_free(ssl);
    close(fd);
    std::ofstream(outdir + "/conn" + std::to_string(i) + ".sent", std::ios::binary) << sent;
    std::ofstream(outdir + "/conn" + std::to_string(i) + ".recv", std::ios::binary) << received;
  }
  SSL_CTX_free(context);
  std::cout << "done" << std::endl;
  while (std::getline(std::cin, line)) {
  }
  return 0;
}
