/* The libssl.so that Debian 12's civetweb (libcivetweb1 1.15) loads, installed in netlens's
 * private library directory (CMakeLists.txt, docs/deployment.md).
 *
 * That civetweb loads OpenSSL at run time with dlopen("libssl.so") and looks each function up
 * with dlsym(). It was built for the OpenSSL 1.1 API and looks up SSL_get_peer_certificate,
 * which OpenSSL 3 no longer exports (it is a macro for SSL_get1_peer_certificate now): the
 * lookup fails, civetweb treats the function as optional, and then calls the null pointer on
 * every HTTPS connection (a segfault of its worker thread).
 *
 * This library depends on libssl.so.3, so dlsym() on it finds every other function there, and
 * adds the one that is missing. Same semantics: both return a new reference to the peer's
 * certificate (or NULL), which the caller frees. */
#include <openssl/ssl.h>

/* <openssl/ssl.h> makes the old name a macro for the new one. */
#undef SSL_get_peer_certificate

__attribute__((visibility("default"))) X509* SSL_get_peer_certificate(const SSL* ssl) {
  return SSL_get1_peer_certificate(ssl);
}
