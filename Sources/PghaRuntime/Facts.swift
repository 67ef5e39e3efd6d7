import Foundation
import PghaShell
import PghaSpec

/// Read-only probes of one host, batched into a single shell script so that gathering every
/// fact a plan needs costs one round trip. Each probe prints a section header and its output.
/// The header carries a marker drawn at random for each script, so nothing a host prints (a
/// file's content, a name from the CIB) can forge the section of another fact.
public struct FactScript: Sendable {
    public let marker: String
    public private(set) var probes: [(name: String, command: Shell)] = []
    public private(set) var shared: [(variable: String, command: Shell)] = []
    /// Probe names added twice with different commands: a defect of the steps that asked.
    public private(set) var conflicts: [String] = []

    public init(marker: String = randomMarker(prefix: "@@pgha-fact")) { self.marker = marker }

    /// The fixed marker of recorded fact fixtures (Tests/Fixtures/facts/), never of a live script.
    public static let fixtureMarker = "@@pgha-fact-fixture"

    /// A value several probes read — one cibadmin or psql call instead of one per probe. The
    /// script computes it once, before the probes, into the shell variable `variable` (one of
    /// SharedFacts' names: a fixed identifier, never a value).
    public mutating func share(_ variable: SharedFacts.Variable, _ command: Shell) {
        guard !shared.contains(where: { $0.variable == variable.rawValue }) else { return }
        shared.append((variable.rawValue, command))
    }

    /// A probe. The same name asked twice with the same command is read once; with another
    /// command it is a conflict, and gathering facts fails naming it.
    public mutating func add(_ name: String, _ command: Shell) {
        if let existing = probes.first(where: { $0.name == name }) {
            if existing.command != command, !conflicts.contains(name) { conflicts.append(name) }
            return
        }
        probes.append((name, command))
    }

    /// Every probe of `other` (its shared values too), as if added here.
    public mutating func merge(_ other: FactScript) {
        for value in other.shared where !shared.contains(where: { $0.variable == value.variable }) { shared.append(value) }
        for probe in other.probes { add(probe.name, probe.command) }
        for name in other.conflicts where !conflicts.contains(name) { conflicts.append(name) }
    }

    /// A file's mode, owner, group and either its content (base64) or, for secrets, a digest.
    /// `-h`/`-L`-free stat of the path itself: a symbolic link shows as what it is.
    public mutating func file(_ path: String, sensitive: Bool = false) {
        let body: Shell = sensitive ? "sha256sum < \(path) | cut -d' ' -f1" : "base64 -w0 < \(path); echo"
        add("file:\(path)", "if [ -f \(path) ]; then stat -c '%a %U %G' \(path); \(body); else echo absent; fi")
    }

    public var script: String {
        var lines: [Shell] = ["export LC_ALL=C PATH=/usr/sbin:/usr/bin:/sbin:/bin:$PATH"]
        for value in shared {
            // The variable name is one of SharedFacts.Variable's fixed identifiers.
            lines.append(Shell(assigning: value.variable, "$( { \(value.command) ; } 2>/dev/null )"))
        }
        for probe in probes {
            lines.append("printf '\\n%s %s\\n' \(marker) \(probe.name)")
            lines.append("{ \(probe.command) ; } 2>/dev/null || true")
        }
        return Shell.lines(lines).text + "\n"
    }

    /// Splits the script's output back into one raw text per probe.
    public func parse(_ output: String) -> [String: String] {
        let header = marker + " "
        var sections: [String: String] = [:]
        var current: String?
        var lines: [Substring] = []
        func flush() {
            if let current, sections[current] == nil { sections[current] = lines.joined(separator: "\n").trimmingCharacters(in: .newlines) }
            lines = []
        }
        for line in output.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix(header) {
                flush()
                current = String(line.dropFirst(header.count))
            } else if current != nil {
                lines.append(line)
            }
        }
        flush()
        return sections
    }
}

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

    /// The dialect to generate for, by capability rather than by version number (docs/architecture.md, "pcs dialects"):
    /// Promoted/Unpromoted roles mean 0.11+, separate node names and addresses mean 0.10.
    public var dialect: ClusterSpec.PcsDialect {
        if capabilities.contains("pcmk.cib.roles.promoted-unpromoted") { return .v0_11 }
        if capabilities.contains("pcs.auth.separated-name-and-address") { return .v0_10 }
        return .v0_9
    }
}
