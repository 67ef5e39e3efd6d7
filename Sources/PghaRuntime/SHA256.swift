import CLibCrypto
import Foundation

/// SHA-256, so a secret file on a host can be compared by digest without the secret travelling
/// back, and saved plans can name their inputs. OpenSSL's libcrypto computes it (libssh2 links
/// it already, so it costs no new dependency).
public enum SHA256 {
    public static func digest(_ data: Data) -> [UInt8] {
        var digest = [UInt8](repeating: 0, count: Int(SHA256_DIGEST_LENGTH))
        data.withUnsafeBytes { bytes in
            _ = CLibCrypto.SHA256(bytes.bindMemory(to: UInt8.self).baseAddress, bytes.count, &digest)
        }
        return digest
    }

    public static func hex(_ data: Data) -> String {
        digest(data).map { String(format: "%02x", $0) }.joined()
    }
}

/// HMAC-SHA-1, for hashed known_hosts entries (OpenSSH's `|1|salt|hash`).
public enum HMACSHA1 {
    public static func digest(key: [UInt8], message: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 20)
        var length: UInt32 = 0
        _ = HMAC(EVP_sha1(), key, Int32(key.count), message, message.count, &out, &length)
        return Array(out.prefix(Int(length)))
    }
}
