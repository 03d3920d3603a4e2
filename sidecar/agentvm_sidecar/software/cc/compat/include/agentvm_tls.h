/* agentvm compat: TLS for a connected TCP socket, done by the sidecar.

   agentvm_tls_connect() turns the socket's outbound connection into a TLS one
   (host_net net_tls_connect): the sidecar does the handshake, checks the
   server's certificate for server_name against the system CAs and the VM's
   configured ones (unless insecure), and from then on encrypts what the guest
   sends and decrypts what it receives, so the guest keeps reading and writing
   plaintext on the same fd. Only outbound connections can be upgraded (VM
   loopback ones answer ENOTSUP). Returns 0, or -1 with errno: EACCES (the
   certificate did not verify), EPROTO (handshake failed), ENOTCONN, ENOTSUP. */
#ifndef AGENTVM_COMPAT_TLS_H
#define AGENTVM_COMPAT_TLS_H
#ifdef __cplusplus
extern "C" {
#endif
int agentvm_tls_connect(int fd, const char *server_name, int insecure);
#ifdef __cplusplus
}
#endif
#endif
