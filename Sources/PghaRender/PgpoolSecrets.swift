import CLibCrypto
import Foundation

/// The secret material of the pgpool topology, computed here from the spec's secrets so that
/// every rendering of one spec is the same (a second apply finds nothing to change) and no
/// clear-text password lands in a file pgpool-II does not need it in.
public enum PgpoolSecrets {
    /// A pool_passwd entry as pgpool-II's `pg_enc` writes it: "AES" + base64 of the password
    /// encrypted with AES-256-CBC, key and IV from EVP_BytesToKey(SHA-1, no salt, 1 round) over
    /// the key file's passphrase (pgpool-II's src/utils/ssl_utils.c). pgpool decrypts it with
    /// ~/.pgpoolkey to authenticate with SCRAM to the backends and its clients.
    public static func aesPassword(_ password: String, key: String) -> String? {
        var keyBytes = [UInt8](repeating: 0, count: Int(EVP_MAX_KEY_LENGTH))
        var iv = [UInt8](repeating: 0, count: Int(EVP_MAX_IV_LENGTH))
        let passphrase = Array(key.utf8)
        guard EVP_BytesToKey(EVP_aes_256_cbc(), EVP_sha1(), nil, passphrase, Int32(passphrase.count), 1, &keyBytes, &iv) > 0,
              let context = EVP_CIPHER_CTX_new() else { return nil }
        defer { EVP_CIPHER_CTX_free(context) }
        let plain = Array(password.utf8)
        var out = [UInt8](repeating: 0, count: plain.count + 32)
        var length: Int32 = 0, final: Int32 = 0
        guard EVP_EncryptInit_ex(context, EVP_aes_256_cbc(), nil, keyBytes, iv) == 1,
              EVP_EncryptUpdate(context, &out, &length, plain, Int32(plain.count)) == 1 else { return nil }
        guard out.withUnsafeMutableBufferPointer({ EVP_EncryptFinal_ex(context, $0.baseAddress! + Int(length), &final) }) == 1 else { return nil }
        return "AES" + Data(out.prefix(Int(length + final))).base64EncodedString()
    }

    /// The role pgpool's online recovery logs in as (it must be a superuser: pgpool_recovery()
    /// runs the recovery scripts). Its password is derived from the pgpool key like the SSH key:
    /// no new secret to keep, the same on every run.
    public static let recoveryUser = "pgha_recovery"

    public static func recoveryPassword(key: String, cluster: String) -> String? {
        derived(key: key, label: "pgha pgpool recovery \(cluster)").map {
            Data($0).base64EncodedString().replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "+", with: "-")
                .replacingOccurrences(of: "=", with: "")
        }
    }

    /// HMAC-SHA-256 of a label under the pgpool key: 32 bytes that only the key gives.
    static func derived(key: String, label: String) -> [UInt8]? {
        var out = [UInt8](repeating: 0, count: 32)
        var length: UInt32 = 0
        let label = Array(label.utf8), secret = Array(key.utf8)
        guard HMAC(EVP_sha256(), secret, Int32(secret.count), label, label.count, &out, &length) != nil, length == 32 else { return nil }
        return out
    }

    /// pcp.conf's form of a password: the MD5 hex digest (what `pg_md5 PASSWORD` prints).
    public static func md5Hex(_ text: String) -> String {
        var digest = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        let bytes = Array(text.utf8)
        var length: UInt32 = 0
        _ = EVP_Digest(bytes, bytes.count, &digest, &length, EVP_md5(), nil)
        return digest.prefix(Int(length)).map { String(format: "%02x", $0) }.joined()
    }

    /// The postgres user's SSH key for pgpool's scripts (failover, follow_primary, online recovery),
    /// derived from the pgpool key with HMAC-SHA-256 (an Ed25519 private key is any 32 bytes): the
    /// same key on every node and every run, and no key to generate, store or exchange.
    public static func sshKey(key: String, cluster: String) -> SSHKey? {
        guard let seed = derived(key: key, label: "pgha pgpool ssh ed25519 \(cluster)"),
              let pkey = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nil, seed, 32) else { return nil }
        defer { EVP_PKEY_free(pkey) }
        var publicKey = [UInt8](repeating: 0, count: 32)
        var publicLength = 32
        guard EVP_PKEY_get_raw_public_key(pkey, &publicKey, &publicLength) == 1, publicLength == 32 else { return nil }
        return SSHKey(seed: seed, publicKey: publicKey, comment: "pgha-pgpool@\(cluster)")
    }

    public struct SSHKey: Sendable {
        let seed: [UInt8]
        let publicKey: [UInt8]
        let comment: String

        static func string(_ bytes: [UInt8]) -> [UInt8] {
            let n = UInt32(bytes.count)
            return [UInt8(n >> 24), UInt8(n >> 16 & 0xff), UInt8(n >> 8 & 0xff), UInt8(n & 0xff)] + bytes
        }
        var publicBlob: [UInt8] { Self.string(Array("ssh-ed25519".utf8)) + Self.string(publicKey) }

        /// The authorized_keys / known_hosts form: "ssh-ed25519 AAAA… comment".
        public var publicLine: String { "ssh-ed25519 \(Data(publicBlob).base64EncodedString()) \(comment)" }

        /// The unencrypted OpenSSH private key file (PROTOCOL.key of OpenSSH), as ssh-keygen writes
        /// it, with a check value derived from the key so that the file is the same every time.
        public var privateFile: String {
            let check = Array(seed.prefix(4))
            var body = check + check
            body += Self.string(Array("ssh-ed25519".utf8)) + Self.string(publicKey) + Self.string(seed + publicKey)
                + Self.string(Array(comment.utf8))
            var pad: UInt8 = 1
            while body.count % 8 != 0 { body.append(pad); pad += 1 }
            var blob = Array("openssh-key-v1".utf8) + [0]
            blob += Self.string(Array("none".utf8)) + Self.string(Array("none".utf8)) + Self.string([])
            blob += [0, 0, 0, 1] + Self.string(publicBlob) + Self.string(body)
            let base64 = Data(blob).base64EncodedString()
            var lines: [String] = []
            var rest = Substring(base64)
            while !rest.isEmpty { lines.append(String(rest.prefix(70))); rest = rest.dropFirst(70) }
            return "-----BEGIN OPENSSH PRIVATE KEY-----\n" + lines.joined(separator: "\n") + "\n-----END OPENSSH PRIVATE KEY-----\n"
        }
    }
}
