import Foundation
import PghaShell
import PghaSpec

/// A file on a host as a fact.
public struct FileFact: Equatable, Sendable {
    public var exists: Bool
    public var mode: String?
    public var owner: String?
    public var group: String?
    /// The text, for non-sensitive files.
    public var content: String?
    /// sha256 of the content, for sensitive files (the secret never travels back).
    public var digest: String?
    /// What is at the path when it is not a regular file: "symlink" or "other" (a directory, a device…).
    public var notARegularFile: String?

    public static let absent = FileFact(exists: false)

    public init(exists: Bool, mode: String? = nil, owner: String? = nil, group: String? = nil,
                content: String? = nil, digest: String? = nil) {
        self.exists = exists
        self.mode = mode
        self.owner = owner
        self.group = group
        self.content = content
        self.digest = digest
    }

    public static func parse(_ raw: String?, sensitive: Bool = false) -> FileFact? {
        guard let raw else { return nil }
        let lines = raw.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard let first = lines.first, first != "absent" else { return .absent }
        if first == "symlink" || first == "other" {
            var fact = FileFact(exists: true)
            fact.notARegularFile = first
            return fact
        }
        let meta = first.split(separator: " ").map(String.init)
        guard meta.count == 3 else { return nil }
        let payload = lines.count > 1 ? lines[1] : ""
        if sensitive {
            return FileFact(exists: true, mode: meta[0], owner: meta[1], group: meta[2], digest: payload)
        }
        let content = Data(base64Encoded: payload).flatMap { String(data: $0, encoding: .utf8) } ?? (payload.isEmpty ? "" : nil)
        return FileFact(exists: true, mode: meta[0], owner: meta[1], group: meta[2], content: content)
    }
}

/// /etc/os-release
public struct OSRelease: Equatable, Sendable {
    public var id: String
    public var versionID: String
    public var idLike: [String]
    public var prettyName: String

    public init(id: String, versionID: String, idLike: [String], prettyName: String) {
        self.id = id
        self.versionID = versionID
        self.idLike = idLike
        self.prettyName = prettyName
    }

    public enum Family: String, Sendable { case debian, el, unknown }
    public var family: Family {
        let ids = [id] + idLike
        if ids.contains("debian") || ids.contains("ubuntu") { return .debian }
        if ids.contains(where: { ["rhel", "centos", "fedora", "rocky", "almalinux", "ol"].contains($0) }) { return .el }
        return .unknown
    }

    public static func parse(_ text: String) -> OSRelease? {
        var values: [String: String] = [:]
        for line in text.split(separator: "\n") {
            guard let equals = line.firstIndex(of: "=") else { continue }
            var value = String(line[line.index(after: equals)...])
            if value.count >= 2, value.hasPrefix("\""), value.hasSuffix("\"") { value = String(value.dropFirst().dropLast()) }
            values[String(line[..<equals])] = value
        }
        guard let id = values["ID"] else { return nil }
        return OSRelease(id: id, versionID: values["VERSION_ID"] ?? "", idLike: (values["ID_LIKE"] ?? "").split(separator: " ").map(String.init),
                         prettyName: values["PRETTY_NAME"] ?? id)
    }
}

/// The probe `parseInstalledPackages` reads: dpkg on Debian, rpm on EL.
public func installedPackagesQuery(_ names: [String]) -> Shell {
    "if command -v dpkg-query >/dev/null; then dpkg-query -W -f='${Package}\\t${Status}\\t${Version}\\n' \(words: names); else rpm -q --qf '%{NAME}\\tinstall ok installed\\t%{VERSION}-%{RELEASE}\\n' \(words: names) | grep -v 'is not installed'; fi"
}

/// Installs packages with apt (waiting for another apt to finish) or yum.
public func installPackagesCommand(_ names: [String]) -> Shell {
    "if command -v apt-get >/dev/null; then DEBIAN_FRONTEND=noninteractive apt-get install -y -q -o DPkg::Lock::Timeout=300 \(words: names); else yum install -y \(words: names); fi"
}

/// `dpkg-query -W -f='${Package}\t${Status}\t${Version}\n' …` or the rpm equivalent:
/// name → version, installed packages only.
public func parseInstalledPackages(_ text: String) -> [String: String] {
    var installed: [String: String] = [:]
    for line in text.split(separator: "\n") {
        let fields = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
        guard fields.count == 3, fields[1] == "install ok installed" else { continue }
        installed[fields[0]] = fields[2]
    }
    return installed
}

/// A package version without the epoch (`1:`) and the packaging revision (`-1+deb12u1`, `-3.el9`).
public func upstream(_ packageVersion: String) -> String {
    var version = packageVersion
    if let colon = version.firstIndex(of: ":"), version[..<colon].allSatisfy(\.isNumber) { version = String(version[version.index(after: colon)...]) }
    if let dash = version.lastIndex(of: "-") { version = String(version[..<dash]) }
    return version
}

/// `pcs --version --full`: the version on the first line, capability ids after it.
public struct PcsCapabilities: Equatable, Sendable {
    public var version: String
    public var capabilities: Set<String>

    public static func parse(_ text: String) -> PcsCapabilities? {
        let words = text.split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init)
        guard let version = words.first, version.first?.isNumber == true else { return nil }
        return PcsCapabilities(version: version, capabilities: Set(words.dropFirst()))
    }

    public var versionParts: [Int] { version.split(separator: ".").compactMap { Int($0.prefix { $0.isNumber }) } }

    /// The capability table: the capability (from pcsd's capabilities.xml) that sets each dialect
    /// apart from the one before, newest first (docs/architecture.md, "pcs dialects").
    public static let dialectTable: [(capability: String, dialect: ClusterSpec.PcsDialect)] = [
        ("pcmk.constraint.colocation.simple.options.score", .v0_12),  // a constraint's score as score=
        ("pcmk.cib.roles.promoted-unpromoted", .v0_11),               // Promoted/Unpromoted
        ("pcs.auth.separated-name-and-address", .v0_10),              // host auth NAME addr=ADDR
    ]

    /// The dialect to generate for, by capability rather than by version number.
    public var dialect: ClusterSpec.PcsDialect {
        Self.dialectTable.first { capabilities.contains($0.capability) }?.dialect ?? .v0_9
    }

    /// `0.11.5` of `0.11.5-1+deb12u1`.
    public var upstreamVersion: String { upstream(version) }
}
