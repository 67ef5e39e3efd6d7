import Foundation

/// What a private key file is, read without decrypting it: its algorithm (from the public half
/// stored in the clear, or the `.pub` next to it) and whether a passphrase protects it.
struct PrivateKeyInfo: Equatable {
    var algorithm: String?      // "ssh-ed25519", "ecdsa-sha2-nistp256", "ssh-rsa", …
    var encrypted: Bool

    var isRSA: Bool { algorithm == "ssh-rsa" }

    static func read(_ path: String) -> PrivateKeyInfo {
        var info = PrivateKeyInfo(algorithm: nil, encrypted: false)
        if let text = try? String(contentsOfFile: path, encoding: .utf8) {
            if text.contains("BEGIN OPENSSH PRIVATE KEY") {
                let body = text.split(separator: "\n").filter { !$0.hasPrefix("-----") }.joined()
                if let data = Data(base64Encoded: body) { info = parseOpenSSH(data) ?? info }
            } else if text.contains("BEGIN RSA PRIVATE KEY") {
                info = PrivateKeyInfo(algorithm: "ssh-rsa", encrypted: text.contains("ENCRYPTED"))
            } else if text.contains("BEGIN EC PRIVATE KEY") {
                info = PrivateKeyInfo(algorithm: "ecdsa", encrypted: text.contains("ENCRYPTED"))
            } else if text.contains("BEGIN ENCRYPTED PRIVATE KEY") {
                info.encrypted = true
            }
        }
        if info.algorithm == nil, let pub = try? String(contentsOfFile: path + ".pub", encoding: .utf8) {
            info.algorithm = pub.split(separator: " ").first.map(String.init)
        }
        return info
    }

    /// openssh-key-v1: magic, cipher, kdf, kdf options, key count, then the public key blob
    /// whose first field is the algorithm.
    static func parseOpenSSH(_ data: Data) -> PrivateKeyInfo? {
        let bytes = [UInt8](data)
        let magic = Array("openssh-key-v1".utf8) + [0]
        guard bytes.count > magic.count, Array(bytes[0..<magic.count]) == magic else { return nil }
        var reader = SSHWireReader(bytes: bytes, offset: magic.count)
        guard let cipher = reader.string(), reader.string() != nil, reader.string() != nil,
              let count = reader.uint32(), count >= 1, let blob = reader.bytes() else { return nil }
        var blobReader = SSHWireReader(bytes: blob, offset: 0)
        let algorithm = blobReader.string().map { String(decoding: $0, as: UTF8.self) }
        return PrivateKeyInfo(algorithm: algorithm, encrypted: String(decoding: cipher, as: UTF8.self) != "none")
    }
}

/// The algorithm name at the start of an SSH public key blob.
func publicKeyAlgorithm(_ blob: [UInt8]) -> String? {
    var reader = SSHWireReader(bytes: blob, offset: 0)
    return reader.string().map { String(decoding: $0, as: UTF8.self) }
}

/// SSH wire format: uint32 big-endian lengths and strings.
struct SSHWireReader {
    let data: [UInt8]
    var offset: Int

    init(bytes: [UInt8], offset: Int) {
        self.data = bytes
        self.offset = offset
    }

    mutating func uint32() -> UInt32? {
        guard offset + 4 <= data.count else { return nil }
        let value = data[offset..<offset + 4].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        offset += 4
        return value
    }

    mutating func bytes() -> [UInt8]? {
        guard let length = uint32(), Int(length) <= data.count - offset else { return nil }
        defer { offset += Int(length) }
        return Array(data[offset..<offset + Int(length)])
    }

    mutating func string() -> [UInt8]? { bytes() }
}
