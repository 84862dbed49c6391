#include "tls_stream.h"

#include <cerrno>
#include <stdexcept>

#include <boost/asio/ssl/error.hpp>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <sys/socket.h>

namespace parley::gateway {

namespace {

namespace asio = boost::asio;
using error_code = boost::system::error_code;

// --- A BIO over a non-blocking socket descriptor
//
// OpenSSL's own socket BIO writes with write(2), which raises SIGPIPE on a reset connection;
// this one uses send(2) with MSG_NOSIGNAL, and remembers an end of stream so that OpenSSL can
// tell a peer that hung up from one that is merely slow.

struct SocketState {
  int fd;
  bool eof = false;
  int error = 0;  // errno of the last failure that was not a "try again".
};

SocketState* StateOf(BIO* bio) { return static_cast<SocketState*>(BIO_get_data(bio)); }

int SocketWrite(BIO* bio, const char* data, int size) {
  BIO_clear_retry_flags(bio);
  const ssize_t sent = ::send(StateOf(bio)->fd, data, static_cast<std::size_t>(size), MSG_NOSIGNAL);
  if (sent >= 0) return static_cast<int>(sent);
  if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
    BIO_set_retry_write(bio);
  } else {
    StateOf(bio)->error = errno;
  }
  return -1;
}

int SocketRead(BIO* bio, char* data, int size) {
  BIO_clear_retry_flags(bio);
  SocketState* state = StateOf(bio);
  const ssize_t received = ::recv(state->fd, data, static_cast<std::size_t>(size), 0);
  if (received > 0) return static_cast<int>(received);
  if (received == 0) {
    state->eof = true;
    return 0;
  }
  if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
    BIO_set_retry_read(bio);
  } else {
    state->error = errno;
  }
  return -1;
}

long SocketControl(BIO* bio, int command, long, void*) {  // NOLINT(runtime/int): OpenSSL's type
  switch (command) {
    case BIO_CTRL_FLUSH:
      return 1;  // Nothing is buffered here.
    case BIO_CTRL_EOF:
      return StateOf(bio)->eof ? 1 : 0;
    default:
      return 0;
  }
}

int SocketCreate(BIO* bio) {
  BIO_set_data(bio, nullptr);
  BIO_set_init(bio, 0);
  return 1;
}

int SocketDestroy(BIO* bio) {
  delete StateOf(bio);
  BIO_set_data(bio, nullptr);
  return 1;
}

const BIO_METHOD* SocketMethod() {
  static const BIO_METHOD* const method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "parley socket");
    if (m == nullptr || !BIO_meth_set_write(m, SocketWrite) || !BIO_meth_set_read(m, SocketRead) ||
        !BIO_meth_set_ctrl(m, SocketControl) || !BIO_meth_set_create(m, SocketCreate) ||
        !BIO_meth_set_destroy(m, SocketDestroy)) {
      throw std::runtime_error("tls: cannot make the socket BIO method");
    }
    return m;
  }();
  return method;
}

}  // namespace

void TlsStream::SslFree::operator()(ssl_st* ssl) const { SSL_free(ssl); }

TlsStream::TlsStream(next_layer_type socket, asio::ssl::context& context)
    : socket_(std::move(socket)), ssl_(SSL_new(context.native_handle())) {
  if (!ssl_) throw std::runtime_error("tls: SSL_new failed");
  // OpenSSL reads and writes the descriptor directly and must never block on it.
  socket_.non_blocking(true);

  BIO* bio = BIO_new(SocketMethod());
  if (bio == nullptr) throw std::runtime_error("tls: BIO_new failed");
  BIO_set_data(bio, new SocketState{socket_.native_handle()});
  BIO_set_init(bio, 1);
  SSL_set_bio(ssl_.get(), bio, bio);  // The SSL object owns the BIO from here on.
  SSL_set_accept_state(ssl_.get());

  // Write() hands over what fits and comes back for the rest, from wherever it then is;
  // record buffers are freed whenever they are empty.
  SSL_set_mode(ssl_.get(), SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                               SSL_MODE_RELEASE_BUFFERS);
}

TlsStream::~TlsStream() = default;

TlsStream::TlsStream(TlsStream&&) noexcept = default;

void TlsStream::ShutdownNow() {
  if (!ssl_ || !socket_.is_open() || !SSL_is_init_finished(ssl_.get())) return;
  ERR_clear_error();
  SSL_shutdown(ssl_.get());
  ERR_clear_error();
}

TlsStream::Step TlsStream::Handshake() {
  if (!socket_.is_open()) return Closed();
  ERR_clear_error();
  const int result = SSL_do_handshake(ssl_.get());
  if (result == 1) return {};
  return Classify(result);
}

TlsStream::Step TlsStream::Read(void* data, std::size_t size) {
  if (!socket_.is_open()) return Closed();
  if (size == 0) return {};
  ERR_clear_error();
  std::size_t bytes = 0;
  const int result = SSL_read_ex(ssl_.get(), data, size, &bytes);
  if (result == 1) return {Want::kNothing, bytes, {}};

  const Step step = Classify(result);
  // OpenSSL sets up its read buffer (a whole record, 17 KiB) before it reads, and keeps it
  // through a read that found nothing. Freed here, a connection waiting for its next frame
  // holds none; it fails, harmlessly, while part of a record is still to come.
  if (step.want == Want::kRead) SSL_free_buffers(ssl_.get());
  return step;
}

TlsStream::Step TlsStream::Write(const void* data, std::size_t size) {
  if (!socket_.is_open()) return Closed();
  if (size == 0) return {};
  ERR_clear_error();
  std::size_t bytes = 0;
  const int result = SSL_write_ex(ssl_.get(), data, size, &bytes);
  if (result == 1) return {Want::kNothing, bytes, {}};
  return Classify(result);
}

TlsStream::Step TlsStream::Closed() {
  // The BIO knows only the descriptor's number, which a new connection may have been given
  // since: nothing may reach OpenSSL once the socket is closed.
  return {Want::kNothing, 0, asio::error::bad_descriptor};
}

TlsStream::Step TlsStream::Classify(int result) {
  const int reason = SSL_get_error(ssl_.get(), result);
  switch (reason) {
    case SSL_ERROR_WANT_READ:
      return {Want::kRead, 0, {}};
    case SSL_ERROR_WANT_WRITE:
      return {Want::kWrite, 0, {}};
    case SSL_ERROR_ZERO_RETURN:
      return {Want::kNothing, 0, asio::error::eof};
    case SSL_ERROR_SYSCALL:
      if (const int error = StateOf(SSL_get_rbio(ssl_.get()))->error; error != 0) {
        return {Want::kNothing, 0, error_code(error, boost::system::system_category())};
      }
      return {Want::kNothing, 0, asio::ssl::error::stream_truncated};
    default: {
      const unsigned long error = ERR_get_error();  // NOLINT(runtime/int): OpenSSL's type
      if (ERR_GET_REASON(error) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
        return {Want::kNothing, 0, asio::ssl::error::stream_truncated};
      }
      if (error == 0) return {Want::kNothing, 0, asio::error::fault};
      return {Want::kNothing, 0,
              error_code(static_cast<int>(error), asio::error::get_ssl_category())};
    }
  }
}

asio::mutable_buffer TlsStream::Scratch() {
  thread_local char scratch[kMaxRecordBytes];
  return asio::buffer(scratch);
}

void teardown(boost::beast::role_type role, TlsStream& stream, boost::system::error_code& ec) {
  stream.ShutdownNow();
  boost::beast::websocket::teardown(role, stream.next_layer(), ec);
}

}  // namespace parley::gateway
