import CLibCrypto
import Foundation
import PghaShell
import PghaSpec

/// What the server holds as the replication role's password, without the verifier itself
/// travelling: the fact script reads pg_authid on the host and prints only the SCRAM salt and
/// iteration count (public parts of a verifier) and an MD5 digest of the whole stored value.
/// pgha computes the verifier of the spec's password with that salt and compares digests.
public enum StoredPassword: Equatable, Sendable {
    case scram(iterations: Int, salt: [UInt8], digest: String)
    case md5(digest: String)
    /// No password, or a form pgha cannot check (plain text from an old server).
    case none
    case absent
    /// Nothing read (the server did not answer): nothing to judge.
    case unknown

    /// `scram ITER SALT DIGEST`, `md5 DIGEST`, `none`, `absent`; anything else (a host's
    /// garbage) is `none`, which is treated as a mismatch.
    public static func parse(_ text: String) -> StoredPassword {
        let words = text.split(separator: " ").map(String.init)
        if words.isEmpty { return .unknown }
        switch words.first {
        case "scram" where words.count == 4:
            guard let iterations = Int(words[1]), (1...10_000_000).contains(iterations),
                  let salt = Data(base64Encoded: words[2]), isDigest(words[3]) else { return .none }
            return .scram(iterations: iterations, salt: Array(salt), digest: words[3])
        case "md5" where words.count == 2 && isDigest(words[1]): return .md5(digest: words[1])
        case "absent": return .absent
        default: return .none
        }
    }

    /// Whether the server holds a password that is not `password` (nothing read, or no role
    /// yet, is no difference: there is nothing to judge, or the role is created with it).
    public func differs(from password: String, user: String) -> Bool {
        self != .unknown && self != .absent && !matches(password: password, user: user)
    }

    static func isDigest(_ s: String) -> Bool { s.count == 32 && s.allSatisfy { $0.isHexDigit && !$0.isUppercase } }

    /// Whether `password` for `user` is what the server stores.
    public func matches(password: String, user: String) -> Bool {
        switch self {
        case let .scram(iterations, salt, digest):
            guard let verifier = ScramVerifier.make(password: password, salt: salt, iterations: iterations) else { return false }
            return Self.md5Hex(Array(verifier.utf8)) == digest
        case let .md5(digest):
            return Self.md5Hex(Array(("md5" + Self.md5Hex(Array((password + user).utf8))).utf8)) == digest
        case .none, .absent, .unknown:
            return false
        }
    }

    static func md5Hex(_ bytes: [UInt8]) -> String {
        var out = [UInt8](repeating: 0, count: 16)
        var length: UInt32 = 0
        _ = EVP_Digest(bytes, bytes.count, &out, &length, EVP_md5(), nil)
        return out.map { String(format: "%02x", $0) }.joined()
    }

    /// The SQL expression (of pg_authid's columns) the fact script prints.
    public static func sql(role: String) -> String {
        let parts = "split_part(rolpassword, '$', 2)"
        return """
            coalesce((select case when rolpassword like 'SCRAM-SHA-256$%' then 'scram ' || split_part(\(parts), ':', 1) || ' ' || split_part(\(parts), ':', 2) || ' ' || md5(rolpassword) \
            when rolpassword like 'md5%' then 'md5 ' || md5(rolpassword) else 'none' end from pg_authid where rolname = \(sqlLiteral(role))), 'absent')
            """
    }
}

/// The replication role's password follows the spec on a running cluster: when the password
/// the spec names changes, every node's .pgpass is rewritten (pgpass step) and this step sets
/// the role's password on whichever node is primary now (on every other node it has nothing to
/// do: the role replicates). Without it a changed password reached .pgpass only, and every
/// standby failed to reconnect after its next disconnect. A bootstrap sets the password with
/// the role (ReplicationUserStep).
public struct ReplicationPasswordStep: Step {
    public let host: String
    public let name = "replication-password"
    public var dependsOn: [String] = []
    let probes: ServerProbes
    let password: String

    public init(host: String, probes: ServerProbes, password: String) {
        self.host = host
        self.probes = probes
        self.password = password
    }

    var role: String { probes.spec.replication.user }
    var stored: Probe<StoredPassword> { probes.storedPassword }

    public var summary: String { "set \(role)'s password from \(probes.spec.replication.password) when it differs (on the current primary; sensitive, a SCRAM verifier on stdin)" }

    public func probe(_ script: inout FactScript) {
        script.add(probes.managed)
        script.add(stored)
        script.add(probes.serverRole)
    }

    public func decide(_ facts: Facts) throws -> Change? {
        // Only a running primary can set it; where the role is absent the replication-user step comes first.
        guard facts[probes.managed], facts[probes.serverRole] == "primary" else { return nil }
        return facts[stored].differs(from: password, user: role) ? Self.change(probes.spec) : nil
    }

    /// The change both this step and a bootstrap's replication-user step show.
    static func change(_ spec: ClusterSpec) -> Change {
        Change(.update, "set role \(spec.replication.user)'s password: the server's is not the one \(spec.replication.password) gives (sensitive)")
    }

    public func apply(_ change: Change, facts: Facts, on connection: HostConnection) async throws {
        _ = try await run(ReplicationUserStep.setPassword(role: role, password: password, tools: probes.pg.tools, create: false),
                          on: connection, display: "psql (set the replication role's password, SQL on stdin)")
    }
}
