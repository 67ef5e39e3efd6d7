import CLibSSH2
import Foundation

/// Host key types as libssh2 reports them (`libssh2_session_hostkey`) with their SSH names and
/// the libssh2_knownhost type bits.
struct HostKeyType: Equatable {
    var code: Int32
    var algorithm: String
    var knownHostBits: Int32

    static let all: [HostKeyType] = [
        HostKeyType(code: 6, algorithm: "ssh-ed25519", knownHostBits: 7 << 18),
        HostKeyType(code: 3, algorithm: "ecdsa-sha2-nistp256", knownHostBits: 4 << 18),
        HostKeyType(code: 4, algorithm: "ecdsa-sha2-nistp384", knownHostBits: 5 << 18),
        HostKeyType(code: 5, algorithm: "ecdsa-sha2-nistp521", knownHostBits: 6 << 18),
        HostKeyType(code: 1, algorithm: "ssh-rsa", knownHostBits: 2 << 18),
        HostKeyType(code: 2, algorithm: "ssh-dss", knownHostBits: 3 << 18),
    ]

    static func from(code: Int32) -> HostKeyType? { all.first { $0.code == code } }
}

private let typePlain: Int32 = 1            // LIBSSH2_KNOWNHOST_TYPE_PLAIN
private let keyEncodingRaw: Int32 = 1 << 16 // LIBSSH2_KNOWNHOST_KEYENC_RAW
private let fileOpenSSH: Int32 = 1          // LIBSSH2_KNOWNHOST_FILE_OPENSSH

/// A known_hosts file, checked with libssh2_knownhost (plain, hashed `|1|…` and `[host]:port`
/// entries), line by line so that one line libssh2 cannot parse (an @cert-authority marker, a
/// key type it does not know) does not make the whole file unusable, and so that a changed key
/// can be reported with the line that holds the old one.
struct KnownHostsFile {
    enum Verdict: Equatable {
        case match
        /// Recorded for this host with a different key, on these lines.
        case changed(lines: [Int])
        /// Not recorded; `otherAlgorithms` lists keys of other types recorded for the host.
        case unknown(otherAlgorithms: [String])
        /// The key is marked `@revoked` on this line: never accepted, whatever else the file says.
        case revoked(line: Int)
        /// libssh2 could not check (not "not found"): an error, never recorded as new.
        case checkFailed
    }

    let path: String
    let exists: Bool
    /// (line number, text) of every entry line.
    let entries: [(Int, String)]
    /// (line number, key type, base64 key) of every `@revoked` line.
    let revoked: [(Int, String, String)]

    init(path: String) throws {
        self.path = path
        guard FileManager.default.fileExists(atPath: path) else {
            exists = false
            entries = []
            revoked = []
            return
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw TransportError(host: "known_hosts", kind: .connect, "cannot read \(path); check its permissions")
        }
        exists = true
        var entries: [(Int, String)] = [], revoked: [(Int, String, String)] = []
        for (index, raw) in String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.hasPrefix("@revoked") {
                // `@revoked HOSTS TYPE KEY [comment]`: that key is refused for every host.
                let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
                if fields.count >= 4 { revoked.append((index + 1, fields[2], fields[3])) }
                continue
            }
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix("@") { continue }
            entries.append((index + 1, line))
        }
        self.entries = entries
        self.revoked = revoked
    }

    /// Runs `body` with a libssh2 collection holding the given entry lines.
    private func withCollection<T>(_ session: OpaquePointer, _ lines: [(Int, String)], _ body: (OpaquePointer) -> T) -> T? {
        guard let hosts = libssh2_knownhost_init(session) else { return nil }
        defer { libssh2_knownhost_free(hosts) }
        for (_, line) in lines { _ = libssh2_knownhost_readline(hosts, line, line.utf8.count, fileOpenSSH) }
        return body(hosts)
    }

    private static func check(_ hosts: OpaquePointer, host: String, port: Int, key: [UInt8], type: HostKeyType) -> Int32 {
        var found: UnsafeMutablePointer<libssh2_knownhost>?
        return key.withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { chars in
                libssh2_knownhost_checkp(hosts, host, Int32(port), chars.baseAddress, key.count,
                                         typePlain | keyEncodingRaw | type.knownHostBits, &found)
            }
        }
    }

    /// The key types recorded for a host (a dummy key of each type: a mismatch means the type is
    /// recorded), so the handshake can ask for one of those first, as OpenSSH does.
    func recordedAlgorithms(session: OpaquePointer, host: String, port: Int) -> [String] {
        withCollection(session, entries) { hosts in
            HostKeyType.all.filter { Self.check(hosts, host: host, port: port, key: [0x78], type: $0) == 1 }.map(\.algorithm)
        } ?? []
    }

    func verdict(session: OpaquePointer, host: String, port: Int, key: [UInt8], type: HostKeyType) -> Verdict {
        let encoded = Data(key).base64EncodedString()
        if let line = revoked.first(where: { $0.1 == type.algorithm && $0.2 == encoded }) { return .revoked(line: line.0) }
        guard let result = withCollection(session, entries, { Self.check($0, host: host, port: port, key: key, type: type) }) else { return .checkFailed }
        switch result {
        case 0: return .match
        case 1:
            // Find the offending line(s): each line alone mismatches or not.
            let lines = entries.filter { entry in
                withCollection(session, [entry]) { Self.check($0, host: host, port: port, key: key, type: type) } == 1
            }.map(\.0)
            return .changed(lines: lines)
        case 2:   // LIBSSH2_KNOWNHOST_CHECK_NOTFOUND
            let others = recordedAlgorithms(session: session, host: host, port: port).filter { $0 != type.algorithm }
            return .unknown(otherAlgorithms: others)
        default:  // LIBSSH2_KNOWNHOST_CHECK_FAILURE
            return .checkFailed
        }
    }

    /// The host field OpenSSH writes: `host`, or `[host]:port` when the port is not 22.
    static func hostField(_ host: String, port: Int) -> String { port == 22 ? host : "[\(host)]:\(port)" }

    /// Appends one entry (accept-new), creating the file and its folder when missing.
    static func append(path: String, host: String, port: Int, type: HostKeyType, key: [UInt8]) throws {
        appendLock.lock()
        defer { appendLock.unlock() }
        let folder = (path as NSString).deletingLastPathComponent
        if !folder.isEmpty, !FileManager.default.fileExists(atPath: folder) {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        }
        var line = "\(hostField(host, port: port)) \(type.algorithm) \(Data(key).base64EncodedString())\n"
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw POSIXFailure(call: "open", path: path) }
        defer { close(fd) }
        // Start on a fresh line when the file does not end with one.
        var size = stat()
        if fstat(fd, &size) == 0, size.st_size > 0 {
            let reader = open(path, O_RDONLY | O_CLOEXEC)
            if reader >= 0 {
                var last: UInt8 = 0
                if pread(reader, &last, 1, off_t(size.st_size - 1)) == 1, last != 0x0a { line = "\n" + line }
                close(reader)
            }
        }
        let written = line.utf8CString.withUnsafeBufferPointer { write(fd, $0.baseAddress, $0.count - 1) }
        guard written == line.utf8.count else { throw POSIXFailure(call: "write", path: path) }
    }

    private static let appendLock = NSLock()
}

struct POSIXFailure: Error, CustomStringConvertible {
    var call: String
    var path: String
    var code: Int32 = errno
    var description: String { "\(call) \(path): \(String(cString: strerror(code)))" }
}

/// `SHA256:…` as OpenSSH prints fingerprints.
func sha256Fingerprint(session: OpaquePointer) -> String {
    guard let hash = libssh2_hostkey_hash(session, 3) else { return "SHA256:?" }
    let data = Data(bytes: hash, count: 32)
    return "SHA256:" + data.base64EncodedString().replacingOccurrences(of: "=", with: "")
}
