import CLibCrypto
import Foundation

/// A SCRAM-SHA-256 verifier (RFC 5802/7677, as PostgreSQL stores it in pg_authid):
/// `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`. pgha sets the replication
/// role's password with it, so the clear text never reaches the server (nor its log, whatever
/// log_statement or log_min_duration_statement say, nor pg_stat_statements).
///
/// PostgreSQL normalises a password with SASLprep before hashing; for printable ASCII that is
/// the identity, so `make` answers nil for any other password and the caller sends that one
/// in clear text with statement logging off for its session.
public enum ScramVerifier {
    public static let iterations = 4096

    public static func make(password: String, salt: [UInt8]? = nil, iterations: Int = iterations) -> String? {
        guard !password.isEmpty, password.unicodeScalars.allSatisfy({ $0.value >= 0x20 && $0.value < 0x7F }) else { return nil }
        let salt = salt ?? randomBytes(16)
        let bytes = Array(password.utf8)
        var salted = [UInt8](repeating: 0, count: 32)
        guard PKCS5_PBKDF2_HMAC(bytes.map { CChar(bitPattern: $0) }, Int32(bytes.count), salt, Int32(salt.count),
                                Int32(iterations), EVP_sha256(), 32, &salted) == 1 else { return nil }
        let clientKey = hmac(key: salted, Array("Client Key".utf8))
        let storedKey = SHA256.digest(Data(clientKey))
        let serverKey = hmac(key: salted, Array("Server Key".utf8))
        func b64(_ b: [UInt8]) -> String { Data(b).base64EncodedString() }
        return "SCRAM-SHA-256$\(iterations):\(b64(salt))$\(b64(storedKey)):\(b64(serverKey))"
    }

    static func hmac(key: [UInt8], _ message: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 32)
        var length: UInt32 = 0
        _ = HMAC(EVP_sha256(), key, Int32(key.count), message, message.count, &out, &length)
        return out
    }

    static func randomBytes(_ count: Int) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        if RAND_bytes(&bytes, Int32(count)) != 1 {
            for i in bytes.indices { bytes[i] = UInt8.random(in: 0...255) }   // SystemRandomNumberGenerator: getrandom(2)
        }
        return bytes
    }
}
