import Foundation
import PghaSpec

/// Which pgpool.conf names to write (topology pgpool): the spec's `pgpool.dialect`, checked
/// against the pgpool-II the hosts have; else what the hosts have; else (not installed yet) the
/// 4.2+ names of every pgpool-II a current distribution ships (Debian 12: 4.3).
public enum PgpoolDialectChoice {
    public static func choose(declared: PgpoolSpec.Dialect?, versions: [(host: String, output: String)]) throws -> (PgpoolSpec.Dialect, String) {
        let found = versions.compactMap { entry in PgpoolSpec.Dialect.detect(versionOutput: entry.output).map { (entry.host, $0, entry.output) } }
        let dialects = Set(found.map(\.1))
        if dialects.count > 1 {
            throw DialectProblem(message: "the nodes run pgpool-II of different generations (\(found.map { "\($0.0): \($0.2)" }.joined(separator: "; "))); one pgpool.conf cannot serve both: upgrade them to one version")
        }
        if let detected = dialects.first {
            let version = found.first.map(\.2) ?? ""
            if let declared, declared != detected {
                throw DialectProblem(message: "pgpool.dialect is \(declared.rawValue) but the hosts run \(version) (\(detected.rawValue) names); correct pgpool.dialect or remove it")
            }
            return (detected, "pgpool-II dialect \(detected.rawValue)\(detected == .v4_0 ? "" : "+") names (\(version) on the hosts)")
        }
        if let declared { return (declared, "pgpool-II dialect \(declared.rawValue) names (pgpool.dialect; pgpool-II is not installed yet)") }
        return (.v4_2, "pgpool-II dialect 4.2+ names (pgpool-II is not installed yet; the distributions ship 4.2 or later)")
    }

    public struct DialectProblem: Error, CustomStringConvertible {
        public var message: String
        public var description: String { message }
    }
}

/// The lines of an OpenSSH known_hosts file that pin `host` (plain or hashed entries), as
/// "KEYTYPE BASE64": what pgpool's scripts need in their own known_hosts.
public enum KnownHostsKeys {
    public static func keys(for host: String, port: Int, in text: String) -> [String] {
        let field = port == 22 ? host : "[\(host)]:\(port)"
        var keys: [String] = []
        for line in text.split(separator: "\n") {
            let words = line.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
            guard words.count >= 3, !words[0].hasPrefix("#"), !words[0].hasPrefix("@") else { continue }
            let names = words[0]
            let matches: Bool
            if names.hasPrefix("|1|") {
                let parts = names.split(separator: "|").map(String.init)
                guard parts.count == 3, let salt = Data(base64Encoded: parts[1]), let hash = Data(base64Encoded: parts[2]) else { continue }
                matches = HMACSHA1.digest(key: Array(salt), message: Array(field.utf8)) == Array(hash)
            } else {
                matches = names.split(separator: ",").contains { String($0) == field }
            }
            if matches { keys.append("\(words[1]) \(words[2])") }
        }
        return keys
    }
}
