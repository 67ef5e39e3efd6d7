import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import PghaRender
import PghaSpec

/// The parts of a Pacemaker CIB that pgha manages, as plain values: cluster properties, resource
/// defaults, resources (primitives, groups, clones, fencing devices) and colocation/order
/// constraints. The live side is parsed from `cibadmin --query --scope configuration`; the
/// desired side is read from the very pcs commands pgha runs (`desired(spec:dialect:)`), so the
/// two cannot disagree about what pgha asks for.
///
/// Values are kept as Pacemaker or pcs wrote them (for display); comparisons go through
/// `CIBValue`, which knows that `60s` = `1min` = `60000ms`, `Master` = `Promoted`, `yes` = `true`.
public struct ClusterConfig: Equatable, Sendable {
    public struct Attribute: Equatable, Sendable {
        public var name: String
        public var value: String
        public init(_ name: String, _ value: String) {
            self.name = name
            self.value = value
        }
    }

    /// `ocf:heartbeat:IPaddr2`, `stonith:fence_xvm`, `systemd:httpd`.
    public struct Agent: Equatable, Sendable, CustomStringConvertible {
        public var standard: String
        public var provider: String?
        public var type: String
        public init(standard: String, provider: String?, type: String) {
            self.standard = standard
            self.provider = provider
            self.type = type
        }
        /// An agent as pcs takes it: `IPaddr2` alone means ocf:heartbeat:IPaddr2.
        public init(pcsName name: String) {
            let parts = name.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
            switch parts.count {
            case 3: self.init(standard: parts[0], provider: parts[1], type: parts[2])
            case 2: self.init(standard: parts[0], provider: nil, type: parts[1])
            default: self.init(standard: "ocf", provider: "heartbeat", type: name)
            }
        }
        public var description: String { [standard, provider, type].compactMap { $0 }.joined(separator: ":") }
        public var isStonith: Bool { standard == "stonith" }
    }

    public struct Operation: Equatable, Sendable {
        public var name: String
        public var interval: String
        public var role: String?
        public var timeout: String?
        public var onFail: String?
        public init(name: String, interval: String, role: String? = nil, timeout: String? = nil, onFail: String? = nil) {
            self.name = name
            self.interval = interval
            self.role = role
            self.timeout = timeout
            self.onFail = onFail
        }
    }

    public struct Primitive: Equatable, Sendable {
        public var id: String
        public var agent: Agent
        public var instance: [Attribute]
        public var meta: [Attribute]
        public var operations: [Operation]
        public init(id: String, agent: Agent, instance: [Attribute] = [], meta: [Attribute] = [], operations: [Operation] = []) {
            self.id = id
            self.agent = agent
            self.instance = instance
            self.meta = meta
            self.operations = operations
        }
    }

    public struct Group: Equatable, Sendable {
        public var id: String
        public var members: [Primitive]
        public var meta: [Attribute]
    }

    /// A clone; promotable ones are `<clone>` with meta promotable=true (pcs 0.10+) or
    /// `<master>` (pcs 0.9, `tag` says which).
    public struct Clone: Equatable, Sendable {
        public enum Child: Equatable, Sendable {
            case primitive(Primitive)
            case group(Group)
            public var id: String {
                switch self {
                case .primitive(let p): return p.id
                case .group(let g): return g.id
                }
            }
        }
        public var id: String
        public var tag: String
        public var promotable: Bool
        /// Meta attributes other than `promotable`.
        public var meta: [Attribute]
        public var child: Child
    }

    public enum Resource: Equatable, Sendable {
        case primitive(Primitive)
        case group(Group)
        case clone(Clone)

        public var id: String {
            switch self {
            case .primitive(let p): return p.id
            case .group(let g): return g.id
            case .clone(let c): return c.id
            }
        }
        /// The element name in the CIB.
        public var tag: String {
            switch self {
            case .primitive: return "primitive"
            case .group: return "group"
            case .clone(let c): return c.tag
            }
        }
        public var meta: [Attribute] {
            switch self {
            case .primitive(let p): return p.meta
            case .group(let g): return g.meta
            case .clone(let c): return c.meta
            }
        }
        /// Every primitive in this resource with the id of the group or clone holding it.
        public var primitives: [(primitive: Primitive, parent: String?)] {
            switch self {
            case .primitive(let p): return [(p, nil)]
            case .group(let g): return g.members.map { ($0, g.id) }
            case .clone(let c):
                switch c.child {
                case .primitive(let p): return [(p, c.id)]
                case .group(let g): return g.members.map { ($0, g.id) }
                }
            }
        }
        /// The ids of this resource and of everything inside it.
        public var allIDs: [String] {
            switch self {
            case .primitive(let p): return [p.id]
            case .group(let g): return [g.id] + g.members.map(\.id)
            case .clone(let c): return [c.id] + Resource(c.child).allIDs
            }
        }
        init(_ child: Clone.Child) {
            switch child {
            case .primitive(let p): self = .primitive(p)
            case .group(let g): self = .group(g)
            }
        }
    }

    public struct Colocation: Equatable, Sendable {
        public var id: String?
        public var rsc: String
        public var rscRole: String?
        public var withRsc: String
        public var withRscRole: String?
        public var score: String
    }

    public struct Order: Equatable, Sendable {
        public var id: String?
        public var first: String
        public var firstAction: String?
        public var then: String
        public var thenAction: String?
        public var kind: String?
        /// The pcs 0.9 way of saying kind: INFINITY (Mandatory) or 0 (Optional).
        public var score: String?
        public var symmetrical: String?
    }

    public enum Constraint: Equatable, Sendable {
        case colocation(Colocation)
        case order(Order)

        public var id: String? {
            switch self {
            case .colocation(let c): return c.id
            case .order(let o): return o.id
            }
        }
        public var tag: String {
            switch self {
            case .colocation: return "rsc_colocation"
            case .order: return "rsc_order"
            }
        }
        /// The resources it ties together.
        public var resources: [String] {
            switch self {
            case .colocation(let c): return [c.rsc, c.withRsc]
            case .order(let o): return [o.first, o.then]
            }
        }
    }

    public var properties: [Attribute]
    public var resourceDefaults: [Attribute]
    public var resources: [Resource]
    public var constraints: [Constraint]

    public init(properties: [Attribute] = [], resourceDefaults: [Attribute] = [], resources: [Resource] = [],
                constraints: [Constraint] = []) {
        self.properties = properties
        self.resourceDefaults = resourceDefaults
        self.resources = resources
        self.constraints = constraints
    }

    /// Every primitive anywhere (top level, in groups, in clones) with its parent's id.
    public var allPrimitives: [(primitive: Primitive, parent: String?)] { resources.flatMap(\.primitives) }

    /// The ids of every resource, group and clone.
    public var allResourceIDs: Set<String> { Set(resources.flatMap(\.allIDs)) }
}

// MARK: - Equivalent values

/// How Pacemaker reads a value, so that two spellings of the same thing compare equal.
public enum CIBValue {
    /// Milliseconds of a Pacemaker duration: `60` (seconds), `60s`, `1min`, `60000ms`, `1h`,
    /// or ISO 8601 `PT1M`.
    public static func milliseconds(_ text: String) -> Int? {
        let value = text.trimmingCharacters(in: .whitespaces).lowercased()
        guard !value.isEmpty else { return nil }
        if value.hasPrefix("pt") || value.hasPrefix("p") { return iso8601(value) }
        let digits = value.prefix { $0.isNumber }
        guard !digits.isEmpty, let number = Int(digits) else { return nil }
        let unit = value.dropFirst(digits.count).trimmingCharacters(in: .whitespaces)
        switch unit {
        case "", "s", "sec", "secs", "second", "seconds": return number * 1000
        case "ms", "msec", "msecs": return number
        case "us", "usec", "usecs": return number / 1000
        case "m", "min", "mins", "minute", "minutes": return number * 60_000
        case "h", "hr", "hrs", "hour", "hours": return number * 3_600_000
        default: return nil
        }
    }

    static func iso8601(_ value: String) -> Int? {
        // PnDTnHnMnS, the subset Pacemaker users write for intervals.
        var total = 0, number = "", inTime = false
        for character in value.dropFirst() {
            if character == "t" { inTime = true; continue }
            if character.isNumber { number.append(character); continue }
            guard let n = Int(number) else { return nil }
            number = ""
            switch (character, inTime) {
            case ("d", false): total += n * 86_400_000
            case ("h", true): total += n * 3_600_000
            case ("m", true): total += n * 60_000
            case ("s", true): total += n * 1000
            default: return nil
            }
        }
        return number.isEmpty ? total : nil
    }

    /// Pacemaker's crm_is_true/false. Numbers count only where a boolean is expected
    /// (`strict`), so migration-threshold=1 never equals "true".
    public static func boolean(_ text: String, numbers: Bool = false) -> Bool? {
        switch text.trimmingCharacters(in: .whitespaces).lowercased() {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        case "1", "y": return numbers ? true : nil
        case "0", "n": return numbers ? false : nil
        default: return nil
        }
    }

    /// Roles: pcs 0.9/0.10 and Pacemaker 1.1 say Master/Slave, 0.11+ and Pacemaker 2.1
    /// Promoted/Unpromoted; role words in pcs commands are case-insensitive.
    public static func role(_ text: String?) -> String? {
        guard let text, !text.isEmpty else { return nil }
        switch text.lowercased() {
        case "master", "promoted": return "Promoted"
        case "slave", "unpromoted": return "Unpromoted"
        case "started": return "Started"
        case "stopped": return "Stopped"
        default: return text
        }
    }

    /// Scores: `+INFINITY` = `INFINITY` = `infinity`.
    public static func score(_ text: String) -> String {
        let value = text.trimmingCharacters(in: .whitespaces)
        switch value.lowercased() {
        case "infinity", "+infinity", "inf", "+inf": return "INFINITY"
        case "-infinity", "-inf": return "-INFINITY"
        default: return value.hasPrefix("+") ? String(value.dropFirst()) : value
        }
    }

    /// Names whose values are durations.
    public static func isDuration(_ name: String) -> Bool {
        name.hasSuffix("timeout") || name.hasSuffix("interval") ||
            ["dc-deadtime", "shutdown-escalation", "priority-fencing-delay", "pcmk_delay_max", "pcmk_delay_base"].contains(name)
    }

    /// Names whose values are booleans (so that 1/0 count as true/false there).
    static let booleanNames: Set<String> = [
        "notify", "promotable", "globally-unique", "interleave", "ordered", "symmetrical",
        "is-managed", "maintenance", "maintenance-mode", "stonith-enabled", "symmetric-cluster",
        "start-failure-is-fatal", "enable-startup-probes", "concurrent-fencing", "startup-fencing",
        "stop-orphan-resources", "stop-orphan-actions", "restart_on_promote", "check_wal_receiver",
    ]

    /// One spelling per meaning, for comparisons.
    public static func canonical(_ name: String, _ value: String) -> String {
        let trimmed = value.trimmingCharacters(in: .whitespaces)
        if ["infinity", "+infinity", "-infinity"].contains(trimmed.lowercased()) { return score(trimmed) }
        if isDuration(name), let ms = milliseconds(trimmed) { return "\(ms)ms" }
        if let flag = boolean(trimmed, numbers: booleanNames.contains(name)) { return flag ? "true" : "false" }
        return trimmed
    }

    public static func same(_ name: String, _ a: String, _ b: String) -> Bool {
        a == b || canonical(name, a) == canonical(name, b)
    }

    /// pcs 0.9 spelled the promotable clone's limits master-max/master-node-max.
    public static func cloneMetaName(_ name: String) -> String {
        switch name {
        case "master-max": return "promoted-max"
        case "master-node-max": return "promoted-node-max"
        default: return name
        }
    }

    /// Meta attributes people set to operate a cluster (`pcs resource disable`, `unmanage`):
    /// not configuration drift, and kept when pgha rebuilds the resource.
    public static let operationalMeta: Set<String> = ["target-role", "is-managed", "maintenance"]
}

// MARK: - Reading a CIB

public struct ClusterConfigError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

extension ClusterConfig {
    /// Parses `cibadmin --query --scope configuration` output (a `<configuration>` element) or a
    /// whole `<cib>` document.
    public static func parse(_ xml: String) throws -> ClusterConfig {
        // XMLDocument on Linux recovers from errors (a truncated document parses as whatever
        // came before the cut, `<a></b>` as `<a/>`); XMLParser reports them, though its parse()
        // still returns true for a truncated document: check parserError too.
        let checker = XMLParser(data: Data(xml.utf8))
        guard checker.parse(), checker.parserError == nil else {
            throw ClusterConfigError("the CIB is not well-formed XML: \(checker.parserError.map { "\($0.localizedDescription)" } ?? "parse error") at line \(checker.lineNumber)")
        }
        let document: XMLDocument
        do { document = try XMLDocument(xmlString: xml, options: []) } catch {
            throw ClusterConfigError("the CIB is not well-formed XML: \(error.localizedDescription)")
        }
        guard let root = document.rootElement() else { throw ClusterConfigError("the CIB is empty") }
        let configuration: XMLElement
        switch root.name {
        case "configuration": configuration = root
        case "cib":
            guard let element = root.elements(forName: "configuration").first else {
                throw ClusterConfigError("the CIB has no <configuration>")
            }
            configuration = element
        default: throw ClusterConfigError("expected <cib> or <configuration>, found <\(root.name ?? "?")>")
        }

        var config = ClusterConfig()
        for set in children(configuration, "crm_config").flatMap({ children($0, "cluster_property_set") }) {
            merge(nvpairs(set), into: &config.properties)
        }
        for set in children(configuration, "rsc_defaults").flatMap({ children($0, "meta_attributes") }) {
            merge(nvpairs(set), into: &config.resourceDefaults)
        }
        for element in children(configuration, "resources").flatMap(elementChildren) {
            if let resource = resource(element) { config.resources.append(resource) }
        }
        for element in children(configuration, "constraints").flatMap(elementChildren) {
            if let constraint = constraint(element) { config.constraints.append(constraint) }
        }
        return config
    }

    static func children(_ element: XMLElement, _ name: String) -> [XMLElement] { element.elements(forName: name) }
    static func elementChildren(_ element: XMLElement) -> [XMLElement] { (element.children ?? []).compactMap { $0 as? XMLElement } }
    static func attribute(_ element: XMLElement, _ name: String) -> String? { element.attribute(forName: name)?.stringValue }

    /// The name/value pairs of one attribute set (references by id-ref are not followed).
    static func nvpairs(_ set: XMLElement) -> [Attribute] {
        children(set, "nvpair").compactMap { pair in
            guard let name = attribute(pair, "name") else { return nil }
            return Attribute(name, attribute(pair, "value") ?? "")
        }
    }

    /// Pacemaker uses the first set that defines a name (sets without rules, in order).
    static func merge(_ pairs: [Attribute], into list: inout [Attribute]) {
        for pair in pairs where !list.contains(where: { $0.name == pair.name }) { list.append(pair) }
    }

    static func attributes(_ element: XMLElement, _ setName: String) -> [Attribute] {
        var list: [Attribute] = []
        for set in children(element, setName) { merge(nvpairs(set), into: &list) }
        return list
    }

    static func primitive(_ element: XMLElement) -> Primitive? {
        guard let id = attribute(element, "id") else { return nil }
        let agent = Agent(standard: attribute(element, "class") ?? "", provider: attribute(element, "provider"),
                          type: attribute(element, "type") ?? "")
        let operations = children(element, "operations").flatMap { children($0, "op") }.map { op in
            Operation(name: attribute(op, "name") ?? "", interval: attribute(op, "interval") ?? "0",
                      role: attribute(op, "role"), timeout: attribute(op, "timeout"), onFail: attribute(op, "on-fail"))
        }
        return Primitive(id: id, agent: agent, instance: attributes(element, "instance_attributes"),
                         meta: attributes(element, "meta_attributes"), operations: operations)
    }

    static func group(_ element: XMLElement) -> Group? {
        guard let id = attribute(element, "id") else { return nil }
        return Group(id: id, members: children(element, "primitive").compactMap(primitive),
                     meta: attributes(element, "meta_attributes"))
    }

    static func resource(_ element: XMLElement) -> Resource? {
        switch element.name {
        case "primitive": return primitive(element).map(Resource.primitive)
        case "group": return group(element).map(Resource.group)
        case "clone", "master":
            guard let id = attribute(element, "id") else { return nil }
            let child: Clone.Child
            if let p = children(element, "primitive").first.flatMap(primitive) { child = .primitive(p) }
            else if let g = children(element, "group").first.flatMap(group) { child = .group(g) }
            else { return nil }
            var meta = attributes(element, "meta_attributes")
            let promotable = element.name == "master" ||
                meta.first { $0.name == "promotable" }.flatMap { CIBValue.boolean($0.value, numbers: true) } == true
            meta.removeAll { $0.name == "promotable" }
            return .clone(Clone(id: id, tag: element.name ?? "clone", promotable: promotable, meta: meta, child: child))
        default:
            return nil  // bundles, templates, tags: nothing pgha creates
        }
    }

    static func constraint(_ element: XMLElement) -> Constraint? {
        // Constraints over resource sets are never pgha's.
        guard element.elements(forName: "resource_set").isEmpty else { return nil }
        switch element.name {
        case "rsc_colocation":
            guard let rsc = attribute(element, "rsc"), let with = attribute(element, "with-rsc") else { return nil }
            return .colocation(Colocation(id: attribute(element, "id"), rsc: rsc, rscRole: attribute(element, "rsc-role"),
                                          withRsc: with, withRscRole: attribute(element, "with-rsc-role"),
                                          score: attribute(element, "score") ?? "INFINITY"))
        case "rsc_order":
            guard let first = attribute(element, "first"), let then = attribute(element, "then") else { return nil }
            return .order(Order(id: attribute(element, "id"), first: first, firstAction: attribute(element, "first-action"),
                                then: then, thenAction: attribute(element, "then-action"), kind: attribute(element, "kind"),
                                score: attribute(element, "score"), symmetrical: attribute(element, "symmetrical")))
        default:
            return nil  // locations (including cli-ban/cli-prefer) and tickets: not pgha's
        }
    }
}

// MARK: - What pgha wants

extension ClusterConfig {
    /// The configuration pgha's own pcs commands (PcsCommands.resourceCommands) build.
    public static func desired(spec: ClusterSpec, dialect: ClusterSpec.PcsDialect) throws -> ClusterConfig {
        try ClusterConfig(pcsCommands: PcsCommands(spec: spec, dialect: dialect).resourceCommands())
    }

    /// Reads `pcs -f FILE …` commands the way pcs applies them to a CIB. It knows the commands
    /// PcsCommands writes and refuses anything else, so a new kind of command in PcsCommands
    /// cannot silently escape the drift check.
    public init(pcsCommands commands: [ShellCommand]) throws {
        self.init()
        for command in commands {
            let words = command.arguments
            guard words.count > 3, words[0] == "pcs", words[1] == "-f" else { continue }  // cib, cp, cib-push
            try apply(Array(words.dropFirst(3)))
        }
    }

    mutating func apply(_ words: [String]) throws {
        func unknown() -> ClusterConfigError { ClusterConfigError("the drift check does not know `pcs \(words.joined(separator: " "))`") }
        /// `[qualifier] A <joiner> [qualifier] B`, the shape of both constraint commands, taken off
        /// the front of `rest`. Qualifiers are matched case-insensitively (pcs 0.9 writes `master`).
        func takeBinary(_ rest: inout [String], joinedBy joiner: String, qualifiers: Set<String>) throws
            -> (String?, String, String?, String) {
            func qualifier() -> String? {
                guard let word = rest.first, qualifiers.contains(word.lowercased()) else { return nil }
                return rest.removeFirst()
            }
            func required() throws -> String {
                guard !rest.isEmpty else { throw unknown() }
                return rest.removeFirst()
            }
            let leftQualifier = qualifier()
            let left = try required()
            guard try required() == joiner else { throw unknown() }
            let rightQualifier = qualifier()
            return (leftQualifier, left, rightQualifier, try required())
        }
        func pair(_ word: String) throws -> Attribute {
            guard let equals = word.firstIndex(of: "="), equals != word.startIndex else { throw unknown() }
            return Attribute(String(word[..<equals]), String(word[word.index(after: equals)...]))
        }
        func set(_ attribute: Attribute, in list: inout [Attribute]) {
            if let i = list.firstIndex(where: { $0.name == attribute.name }) { list[i] = attribute } else { list.append(attribute) }
        }

        switch Array(words.prefix(2)) {
        case ["property", "set"]:
            for word in words.dropFirst(2) { set(try pair(word), in: &properties) }
        case ["resource", "defaults"]:
            // `resource defaults update k=v` (pcs 0.10+) or `resource defaults k=v` (0.9)
            for word in words.dropFirst(2) where word != "update" { set(try pair(word), in: &resourceDefaults) }
        case ["stonith", "create"], ["resource", "create"]:
            guard words.count >= 4 else { throw unknown() }
            let agent = words[0] == "stonith" ? Agent(standard: "stonith", provider: nil, type: words[3]) : Agent(pcsName: words[3])
            var primitive = Primitive(id: words[2], agent: agent)
            var section = "params"
            for word in words.dropFirst(4) {
                switch (section, word) {
                case (_, "meta"): section = "meta"
                case (_, "op"): section = "op name"
                case ("op name", _):
                    primitive.operations.append(Operation(name: word, interval: ""))
                    section = "op"
                case ("params", _): set(try pair(word), in: &primitive.instance)
                case ("meta", _): set(try pair(word), in: &primitive.meta)
                default:
                    let option = try pair(word)
                    let i = primitive.operations.count - 1
                    switch option.name {
                    case "interval": primitive.operations[i].interval = option.value
                    case "timeout": primitive.operations[i].timeout = option.value
                    case "on-fail": primitive.operations[i].onFail = option.value
                    case "role": primitive.operations[i].role = option.value
                    default: throw unknown()
                    }
                }
            }
            // pcs's default interval for an op given without one.
            for i in primitive.operations.indices where primitive.operations[i].interval.isEmpty {
                primitive.operations[i].interval = primitive.operations[i].name == "monitor" ? "60s" : "0s"
            }
            resources.append(.primitive(primitive))
        case ["resource", "promotable"], ["resource", "master"]:
            // 0.10+: promotable PRIMITIVE CLONE [meta] k=v…; 0.9: master CLONE PRIMITIVE k=v…
            guard words.count >= 4 else { throw unknown() }
            let legacy = words[1] == "master"
            let (cloneID, primitiveID) = legacy ? (words[2], words[3]) : (words[3], words[2])
            guard let index = resources.firstIndex(where: { $0.id == primitiveID }),
                  case .primitive(let primitive) = resources[index] else { throw unknown() }
            let meta = try words.dropFirst(4).filter { $0 != "meta" }.map(pair)
            resources[index] = .clone(Clone(id: cloneID, tag: legacy ? "master" : "clone", promotable: true,
                                            meta: meta, child: .primitive(primitive)))
        case ["resource", "group"]:
            guard words.count >= 5, words[2] == "add" else { throw unknown() }
            let groupID = words[3]
            var members: [Primitive] = []
            for id in words.dropFirst(4) {
                guard let index = resources.firstIndex(where: { $0.id == id }), case .primitive(let p) = resources[index] else { throw unknown() }
                members.append(p)
                resources.remove(at: index)
            }
            if let index = resources.firstIndex(where: { $0.id == groupID }), case .group(var group) = resources[index] {
                group.members += members
                resources[index] = .group(group)
            } else {
                resources.append(.group(Group(id: groupID, members: members, meta: [])))  // pcs appends new groups
            }
        case ["constraint", "colocation"]:
            // colocation add [role] SOURCE with [role] TARGET [score] [options]
            guard words.count > 2, words[2] == "add" else { throw unknown() }
            var rest = Array(words.dropFirst(3))
            let (sourceRole, source, targetRole, target) = try takeBinary(&rest, joinedBy: "with",
                                                                          qualifiers: ["master", "slave", "promoted", "unpromoted", "started", "stopped"])
            var score = "INFINITY"
            if let word = rest.first, !word.contains("=") { score = word; rest.removeFirst() }
            for option in try rest.map(pair) {
                guard option.name == "score" else { throw unknown() }
                score = option.value
            }
            constraints.append(.colocation(Colocation(id: nil, rsc: source, rscRole: sourceRole, withRsc: target,
                                                      withRscRole: targetRole, score: score)))
        case ["constraint", "order"]:
            // order [action] FIRST then [action] THEN [options]
            var rest = Array(words.dropFirst(2))
            let (firstAction, first, thenAction, then) = try takeBinary(&rest, joinedBy: "then", qualifiers: ["start", "stop", "promote", "demote"])
            var order = Order(id: nil, first: first, firstAction: firstAction, then: then, thenAction: thenAction)
            for option in try rest.map(pair) {
                switch option.name {
                case "kind": order.kind = option.value
                case "score": order.score = option.value
                case "symmetrical": order.symmetrical = option.value
                default: throw unknown()
                }
            }
            constraints.append(.order(order))
        default:
            throw unknown()
        }
    }
}
