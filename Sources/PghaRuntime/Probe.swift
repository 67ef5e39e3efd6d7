import Foundation
import PghaShell

/// One read of a host, typed: its section name in the fact script, the read-only command that
/// prints it, the shared values (SharedFacts) the command reads, and how its output becomes a
/// value. A step declares its probes; `facts[probe]` gives the parsed value back. Two probes of
/// one name with different commands on a host are a defect the catalog reports
/// (StepCatalog.init), never a silent pick of one of them.
public struct Probe<Value>: Sendable {
    public let name: String
    public let command: Shell
    public let reads: [SharedFacts.Value]
    let parse: @Sendable (String) -> Value

    public init(_ name: String, _ command: Shell, reads: [SharedFacts.Value] = [],
                parse: @escaping @Sendable (String) -> Value) {
        self.name = name
        self.command = command
        self.reads = reads
        self.parse = parse
    }

    /// The same probe parsed otherwise.
    public func map<Other>(_ transform: @escaping @Sendable (Value) -> Other) -> Probe<Other> {
        let parse = self.parse
        return Probe<Other>(name, command, reads: reads) { transform(parse($0)) }
    }
}

extension Probe where Value == String {
    /// A probe whose value is its output as printed.
    public init(_ name: String, _ command: Shell, reads: [SharedFacts.Value] = []) {
        self.init(name, command, reads: reads) { $0 }
    }
}

extension Probe where Value == Bool {
    /// A probe that prints "yes" or "no".
    public static func yesNo(_ name: String, _ command: Shell, reads: [SharedFacts.Value] = []) -> Probe<Bool> {
        Probe(name, command, reads: reads) { $0 == "yes" }
    }
}

extension FactScript {
    /// A typed probe and the shared values it reads.
    public mutating func add<Value>(_ probe: Probe<Value>) {
        for value in probe.reads { share(value.variable, value.command) }
        add(probe.name, probe.command)
    }
}

extension Facts {
    /// The probe's value. A section the host did not print (the probe's command failed before
    /// printing) parses as empty output, which every probe reads as "nothing there".
    public subscript<Value>(_ probe: Probe<Value>) -> Value { probe.parse(sections[probe.name] ?? "") }

    /// Whether the host printed the probe's section at all.
    public func has<Value>(_ probe: Probe<Value>) -> Bool { sections[probe.name] != nil }
}

/// `key=value` lines, as several probes print them; a later key wins.
public func keyValueLines(_ text: String) -> [String: String] {
    var values: [String: String] = [:]
    for line in text.split(separator: "\n") {
        let parts = line.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        if parts.count == 2 { values[parts[0]] = parts[1] }
    }
    return values
}
