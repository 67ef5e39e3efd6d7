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
        // A link is reported as one and never read through: its owner chose where it points.
        add("file:\(path)", "if [ -L \(path) ]; then echo symlink; elif [ -f \(path) ]; then stat -c '%a %U %G' \(path); \(body); elif [ -e \(path) ]; then echo other; else echo absent; fi")
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

/// The facts of one host: raw probe output by probe name, parsed on demand.
public struct Facts: Sendable {
    public var sections: [String: String]
    public init(_ sections: [String: String]) { self.sections = sections }
    public subscript(_ name: String) -> String? { sections[name] }
    public func file(_ path: String, sensitive: Bool = false) -> FileFact? {
        FileFact.parse(sections["file:\(path)"], sensitive: sensitive)
    }
}
