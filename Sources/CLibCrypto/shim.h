// OpenSSL's libcrypto, which libssh2 links already: pgha uses its SHA-256 only.
#include <openssl/sha.h>
