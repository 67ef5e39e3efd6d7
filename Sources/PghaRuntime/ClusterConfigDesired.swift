import Foundation
import PghaRender
import PghaSpec

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
        case ["constraint", "location"]:
            // location R prefers|avoids NODE[=SCORE]… (no score: INFINITY)
            guard words.count >= 5, words[3] == "prefers" || words[3] == "avoids" else { throw unknown() }
            for word in words.dropFirst(4) {
                let (node, score) = word.contains("=") ? try { let a = try pair(word); return (a.name, a.value) }() : (word, "INFINITY")
                let signed = words[3] == "avoids" ? (score.hasPrefix("-") ? String(score.dropFirst()) : "-" + score.drop { $0 == "+" }) : score
                constraints.append(.location(Location(id: nil, rsc: words[2], node: node, score: signed)))
            }
        default:
            throw unknown()
        }
    }
}
