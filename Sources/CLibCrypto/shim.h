// OpenSSL's libcrypto, which libssh2 links already: SHA-256 for digests of secret files and inputs…
#include <openssl/sha.h>
// …and PBKDF2, HMAC and random bytes for the SCRAM-SHA-256 verifier of the replication role.
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
// …and libcrypt's reentrant crypt_r (PghaRuntime links libcrypt), to compare the hacluster
// password with /etc/shadow on every host at once.
#include <crypt.h>
