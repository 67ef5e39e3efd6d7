import Yams

/// Seeds 002/003: the rest of a Pacemaker cluster next to the database — any primitive resource
/// (`ocf:heartbeat:IPaddr2`, `ocf:heartbeat:Filesystem`, `systemd:nginx`, …), groups of them, and
/// location, colocation and order constraints that may name pgha's own objects (the pgsql clone,
/// the VIP groups). Rendered by Sources/PghaRender/PcsCommands.swift into the same single CIB push
/// as pgha's own objects, and compared and repaired with them (Sources/PghaRuntime/ClusterConfig*.swift).
extension ClusterSpec {
    /// `pacemaker.resources[]`.
    public struct Resource: Sendable, Equatable {
        public var id: String
        /// `class:provider:type` (ocf) or `class:type` (systemd, lsb, service).
        public var agent: String
        public var params: [Pair]
        public var meta: [Pair]
        public var operations: [ResourceOperation]
        /// The group it belongs to (groups are made in the order their first member is listed,
        /// members in the order listed).
        public var group: String?
        /// Its position in `pacemaker.resources` (diagnostics name it; an entry that did not
        /// decode leaves a gap).
        public var index: Int

        public init(id: String, agent: String, params: [Pair] = [], meta: [Pair] = [], operations: [ResourceOperation] = [],
                    group: String? = nil, index: Int = 0) {
            self.index = index
            self.id = id
            self.agent = agent
            self.params = params
            self.meta = meta
            self.operations = operations
            self.group = group
        }
    }

    public struct Pair: Sendable, Equatable {
        public var key: String
        public var value: String
        public init(_ key: String, _ value: String) {
            self.key = key
            self.value = value
        }
    }

    /// `operations: [{name: monitor, interval: 10s, timeout: 20s, on_fail: restart}]`.
    public struct ResourceOperation: Sendable, Equatable {
        public var name: String
        public var interval: String?
        public var timeout: String?
        public var onFail: String?
        public init(name: String, interval: String? = nil, timeout: String? = nil, onFail: String? = nil) {
            self.name = name
            self.interval = interval
            self.timeout = timeout
            self.onFail = onFail
        }
    }

    /// A role of a promotable resource, as the spec says it (pcs's word differs by dialect).
    public enum ConstraintRole: String, Sendable, CaseIterable { case promoted, unpromoted }
    public enum OrderAction: String, Sendable, CaseIterable { case start, stop, promote, demote }
    public enum OrderKind: String, Sendable, CaseIterable { case Mandatory, Optional, Serialize }

    /// `pacemaker.constraints[]`: its rule, and its position in the list (diagnostics name it).
    public struct Constraint: Sendable, Equatable {
        public var rule: ConstraintRule
        public var index: Int
        public init(_ rule: ConstraintRule, index: Int = 0) {
            self.rule = rule
            self.index = index
        }
    }

    /// One of `location`, `colocation`, `order`.
    public enum ConstraintRule: Sendable, Equatable {
        /// `location: {resource: app, node: node3, score: -INFINITY}`.
        case location(resource: String, node: String, score: String)
        /// `colocation: {resource: app, with: msPostgresql, with_role: promoted, score: INFINITY}`.
        case colocation(resource: String, role: ConstraintRole?, with: String, withRole: ConstraintRole?, score: String)
        /// `order: {first: msPostgresql, first_action: promote, then: app, then_action: start, kind: Mandatory, symmetrical: false}`.
        case order(first: String, firstAction: OrderAction?, then: String, thenAction: OrderAction?, kind: OrderKind?, symmetrical: Bool?)

        /// The resources it names, with the key that names each.
        public var references: [(key: String, id: String)] {
            switch self {
            case .location(let resource, _, _): return [("resource", resource)]
            case .colocation(let resource, _, let with, _, _): return [("resource", resource), ("with", with)]
            case .order(let first, _, let then, _, _, _): return [("first", first), ("then", then)]
            }
        }
        public var kind: String {
            switch self {
            case .location: return "location"
            case .colocation: return "colocation"
            case .order: return "order"
            }
        }
    }

    /// The groups of `pacemaker.resources`, in the order their first member is listed.
    public static func groups(of resources: [Resource]) -> [(id: String, members: [String])] {
        var groups: [(id: String, members: [String])] = []
        for resource in resources {
            guard let group = resource.group else { continue }
            if let i = groups.firstIndex(where: { $0.id == group }) { groups[i].members.append(resource.id) } else { groups.append((group, [resource.id])) }
        }
        return groups
    }
}

extension SpecDecoder {
    func decodeResources(_ node: Yams.Node?, _ path: String) -> [ClusterSpec.Resource] {
        var result: [ClusterSpec.Resource] = []
        for (i, item) in (r.sequence(node, path) ?? []).enumerated() {
            let p = "\(path)[\(i)]"
            guard let f = r.mapping(item, p, allowed: ["id", "agent", "params", "meta", "operations", "group"], required: ["id", "agent"]),
                  let id = r.string(f["id"], "\(p).id"), let agent = r.string(f["agent"], "\(p).agent") else { continue }
            var resource = ClusterSpec.Resource(id: id, agent: agent, index: i)
            resource.params = (r.scalarMap(f["params"], "\(p).params") ?? []).map { .init($0.key, $0.value) }
            resource.meta = (r.scalarMap(f["meta"], "\(p).meta") ?? []).map { .init($0.key, $0.value) }
            for (j, opNode) in (r.sequence(f["operations"], "\(p).operations") ?? []).enumerated() {
                let op = "\(p).operations[\(j)]"
                guard let o = r.mapping(opNode, op, allowed: ["name", "interval", "timeout", "on_fail"], required: ["name"]),
                      let name = r.string(o["name"], "\(op).name") else { continue }
                resource.operations.append(.init(name: name, interval: r.string(o["interval"], "\(op).interval"),
                                                 timeout: r.string(o["timeout"], "\(op).timeout"), onFail: r.string(o["on_fail"], "\(op).on_fail")))
            }
            resource.group = r.string(f["group"], "\(p).group")
            result.append(resource)
        }
        return result
    }

    func decodeConstraints(_ node: Yams.Node?, _ path: String) -> [ClusterSpec.Constraint] {
        var result: [ClusterSpec.Constraint] = []
        for (i, item) in (r.sequence(node, path) ?? []).enumerated() {
            let p = "\(path)[\(i)]"
            guard let outer = r.mapping(item, p, allowed: ["location", "colocation", "order"]) else { continue }
            guard outer.order.count == 1, let kind = outer.order.first else {
                r.error(p, "a constraint is one of location, colocation or order (one key), found \(outer.order.isEmpty ? "none" : outer.order.joined(separator: ", "))", at: item)
                continue
            }
            let c = "\(p).\(kind)"
            switch kind {
            case "location":
                guard let f = r.mapping(outer[kind], c, allowed: ["resource", "node", "score"], required: ["resource", "node", "score"]),
                      let resource = r.string(f["resource"], "\(c).resource"), let node = r.string(f["node"], "\(c).node"),
                      let score = r.string(f["score"], "\(c).score") else { continue }
                result.append(.init(.location(resource: resource, node: node, score: score), index: i))
            case "colocation":
                guard let f = r.mapping(outer[kind], c, allowed: ["resource", "role", "with", "with_role", "score"], required: ["resource", "with"]),
                      let resource = r.string(f["resource"], "\(c).resource"), let with = r.string(f["with"], "\(c).with") else { continue }
                let role = f.has("role") ? r.choice(f["role"], "\(c).role", ClusterSpec.ConstraintRole.self) : nil
                let withRole = f.has("with_role") ? r.choice(f["with_role"], "\(c).with_role", ClusterSpec.ConstraintRole.self) : nil
                if (f.has("role") && role == nil) || (f.has("with_role") && withRole == nil) { continue }
                result.append(.init(.colocation(resource: resource, role: role, with: with, withRole: withRole,
                                                score: r.string(f["score"], "\(c).score") ?? "INFINITY"), index: i))
            default:
                guard let f = r.mapping(outer[kind], c, allowed: ["first", "first_action", "then", "then_action", "kind", "symmetrical"],
                                        required: ["first", "then"]),
                      let first = r.string(f["first"], "\(c).first"), let then = r.string(f["then"], "\(c).then") else { continue }
                let firstAction = f.has("first_action") ? r.choice(f["first_action"], "\(c).first_action", ClusterSpec.OrderAction.self) : nil
                let thenAction = f.has("then_action") ? r.choice(f["then_action"], "\(c).then_action", ClusterSpec.OrderAction.self) : nil
                let kind = f.has("kind") ? r.choice(f["kind"], "\(c).kind", ClusterSpec.OrderKind.self) : nil
                if (f.has("first_action") && firstAction == nil) || (f.has("then_action") && thenAction == nil) || (f.has("kind") && kind == nil) { continue }
                result.append(.init(.order(first: first, firstAction: firstAction, then: then, thenAction: thenAction, kind: kind,
                                           symmetrical: f.has("symmetrical") ? r.bool(f["symmetrical"], "\(c).symmetrical") : nil), index: i))
            }
        }
        return result
    }
}

extension Grammar {
    /// Resource agents other than fence agents (those are `pacemaker.fencing`): `ocf:PROVIDER:TYPE`,
    /// or `systemd:UNIT`, `lsb:NAME`, `service:NAME` (a systemd unit may carry `@instance`).
    public static let resourceAgent = "ocf:[A-Za-z0-9_.-]+:[A-Za-z0-9_.-]+|(?:systemd|lsb|service):[A-Za-z0-9_.@-]+"
    /// An operation's on-fail policies (Pacemaker's).
    public static let onFailPolicies = ["ignore", "block", "stop", "restart", "fence", "standby", "demote"]
    /// Pacemaker scores: an integer, or INFINITY with an optional sign.
    public static let score = "[+-]?(?:INFINITY|[0-9]{1,7})"
}

extension SpecValidator {
    /// ids, agents, names, durations and references of `pacemaker.resources` and
    /// `pacemaker.constraints`; pgha's own ids (from `ownIDs`) may be named by constraints but
    /// not taken by a resource or group.
    func checkResources(ownIDs: [(String, String)]) {
        let pm = spec.pacemaker
        var seen = Dictionary(ownIDs.map { ($0.0, $0.1) }, uniquingKeysWith: { a, _ in a })
        let attribute = "a Pacemaker attribute name (letters, digits, '_', '.', '-', not starting with a digit)"
        for resource in pm.resources {
            let p = "pacemaker.resources[\(resource.index)]"
            checkNewID(resource.id, "\(p).id", &seen)
            if resource.agent.hasPrefix("stonith:") || resource.agent.hasPrefix("fence_") {
                r.error("\(p).agent", "'\(resource.agent)' is a fence agent; fencing devices go in pacemaker.fencing")
            } else if !Grammar.matches(resource.agent, Grammar.resourceAgent) {
                r.error("\(p).agent", "'\(resource.agent)' is not a resource agent like ocf:heartbeat:IPaddr2, systemd:nginx or lsb:NAME (letters, digits and _ . - between the colons)")
            }
            for (label, pairs) in [("params", resource.params), ("meta", resource.meta)] {
                for pair in pairs {
                    if !Grammar.matches(pair.key, Grammar.pacemakerName) {
                        r.keyError("\(p).\(label).\(pair.key)", "'\(pair.key)' is not \(attribute)")
                    } else if label == "params" && Grammar.namesASecret(pair.key) {
                        r.error("\(p).params.\(pair.key)", "'\(pair.key)' carries a secret, and a resource's parameters are stored in the CIB in clear text (on every node, in cibadmin --query and crm_report); use the agent's file or script parameter if it has one")
                    }
                }
            }
            var intervals: [String: Double] = [:]
            for (j, op) in resource.operations.enumerated() {
                let o = "\(p).operations[\(j)]"
                refuse(op.name, "\(o).name", unless: Grammar.matches(op.name, Grammar.operationName), "an operation name like monitor, start or stop")
                for (key, value) in [("interval", op.interval), ("timeout", op.timeout)] {
                    if let value { refuse(value, "\(o).\(key)", unless: Grammar.matches(value, Grammar.duration), "a duration like 10s, 500ms or 2min") }
                }
                if let onFail = op.onFail {
                    let allowed = Grammar.onFailPolicies
                    if !allowed.contains(onFail) {
                        let hint = closestMatch(onFail, in: allowed).map { "; did you mean '\($0)'?" } ?? ""
                        r.error("\(o).on_fail", "'\(onFail)' is not one of \(allowed.joined(separator: ", "))\(hint)")
                    }
                }
                // Pacemaker tells a resource's operations of one name apart by interval.
                let seconds = op.interval.flatMap(Self.seconds) ?? (op.name == "monitor" ? 60 : 0)
                if let previous = intervals[op.name], previous == seconds {
                    r.error("\(o).interval", "a second \(op.name) operation at the same interval; Pacemaker tells a resource's operations apart by name and interval")
                }
                intervals[op.name] = seconds
            }
        }
        let groups = ClusterSpec.groups(of: pm.resources)
        for group in groups {
            guard let first = pm.resources.first(where: { $0.group == group.id }) else { continue }
            checkNewID(group.id, "pacemaker.resources[\(first.index)].group", &seen)
        }
        let own = Set(ownIDs.map(\.0))
        let promotable: Set<String> = [pm.pgsqlClone]
        let known = Array(own) + pm.resources.map(\.id) + groups.map(\.id)
        let members = Set(pm.resources.filter { $0.group != nil }.map(\.id))
        for entry in pm.constraints {
            let constraint = entry.rule
            let c = "pacemaker.constraints[\(entry.index)].\(constraint.kind)"
            for (key, id) in constraint.references {
                if !known.contains(id) {
                    let hint = closestMatch(id, in: known).map { "; did you mean '\($0)'?" } ?? ""
                    r.error("\(c).\(key)", "'\(id)' is not a resource of this spec (pacemaker.resources, their groups, or pgha's own: \(ownIDs.map(\.0).filter { !$0.isEmpty }.joined(separator: ", ")))\(hint)")
                } else if members.contains(id) {
                    r.error("\(c).\(key)", "'\(id)' is a member of group '\(pm.resources.first { $0.id == id }?.group ?? "")', which already keeps its members together and in order; constrain the group instead")
                }
            }
            switch constraint {
            case .location(_, let node, let score):
                if spec.node(named: node) == nil {
                    r.error("\(c).node", "'\(node)' is not a node of this spec (\(spec.nodes.map(\.name).joined(separator: ", ")))")
                }
                refuse(score, "\(c).score", unless: Grammar.matches(score, Grammar.score), "a score (an integer, INFINITY or -INFINITY)")
            case .colocation(let resource, let role, let with, let withRole, let score):
                refuse(score, "\(c).score", unless: Grammar.matches(score, Grammar.score), "a score (an integer, INFINITY or -INFINITY)")
                if role != nil && !promotable.contains(resource) { r.error("\(c).role", "'\(resource)' is not promotable; only \(pm.pgsqlClone) has roles") }
                if withRole != nil && !promotable.contains(with) { r.error("\(c).with_role", "'\(with)' is not promotable; only \(pm.pgsqlClone) has roles") }
                if resource == with { r.error("\(c).with", "a resource colocated with itself") }
            case .order(let first, let firstAction, let then, let thenAction, _, _):
                for (key, id, action) in [("first_action", first, firstAction), ("then_action", then, thenAction)] {
                    if let action, action == .promote || action == .demote, !promotable.contains(id) {
                        r.error("\(c).\(key)", "'\(id)' is not promotable; \(action.rawValue) applies to \(pm.pgsqlClone) only")
                    }
                }
                if first == then { r.error("\(c).then", "a resource ordered after itself") }
            }
            // A constraint between two of pgha's own objects would be taken for one of pgha's and
            // compete with the ones pgha builds.
            if constraint.references.allSatisfy({ own.contains($0.id) }) {
                r.error(c, "ties together only pgha's own objects (\(constraint.references.map(\.id).joined(separator: ", "))); pgha builds those constraints itself")
            }
        }
    }

    /// With STONITH on, every node must be one some device can fence. A device that names its
    /// targets (`pcmk_host_list`: names separated by spaces or commas; `pcmk_host_map`:
    /// `node:ports` entries separated by `;` or spaces, `node1:1;node2:2,3` — Pacemaker's
    /// example — with `=` also taken for `:`) covers those; one that names none, or whose
    /// `pcmk_host_check` is `dynamic-list` or `none`, asks its agent (or fences anything), so
    /// then nothing can be said here.
    func checkFencingCoverage() {
        let pm = spec.pacemaker
        guard pm.stonithEnabled, !pm.fencing.isEmpty else { return }
        let nodes = spec.nodes.map(\.name)
        var covered = Set<String>()
        var dynamic = false
        for (i, device) in pm.fencing.enumerated() {
            let list = device.parameters.last { $0.key == "pcmk_host_list" }?.value
            let map = device.parameters.last { $0.key == "pcmk_host_map" }?.value
            let check = device.parameters.last { $0.key == "pcmk_host_check" }?.value
            guard list != nil || map != nil, check != "dynamic-list", check != "none" else { dynamic = true; continue }
            var names: [(String, String)] = []
            if let list { names += Self.words(list, separators: " ,").map { ($0, "pcmk_host_list") } }
            if let map {
                names += Self.words(map, separators: " ;").map {
                    (String($0.split(maxSplits: 1, whereSeparator: { $0 == ":" || $0 == "=" }).first ?? ""), "pcmk_host_map")
                }
            }
            for (name, key) in names {
                let path = "pacemaker.fencing[\(i)].parameters.\(key)"
                if nodes.contains(name) { covered.insert(name) } else if !Grammar.isHostName(name) {
                    r.error(path, "'\(Grammar.escaped(name))' is not a node name (a host name: letters, digits and '-' in labels separated by '.')")
                } else {
                    // A shared device (a PDU) may also serve hosts of other clusters; a typo here
                    // leaves a node uncovered, which is the error below.
                    let hint = closestMatch(name, in: nodes).map { "; did you mean '\($0)'?" } ?? ""
                    r.warning(path, "'\(name)' is not a node of this spec (\(nodes.joined(separator: ", ")))\(hint)")
                }
            }
        }
        let uncovered = nodes.filter { !covered.contains($0) }
        if !dynamic && !uncovered.isEmpty {
            r.error("pacemaker.fencing", "no device can fence \(uncovered.joined(separator: ", ")): each device names the nodes it fences (pcmk_host_list or pcmk_host_map) and none names \(uncovered.count == 1 ? "it" : "them"); with STONITH on, Pacemaker would not recover what runs there when it fails. Add \(uncovered.count == 1 ? "it" : "them") to a device, or a device for \(uncovered.count == 1 ? "it" : "them")")
        }
    }

    static func words(_ text: String, separators: String) -> [String] {
        text.split(whereSeparator: { separators.contains($0) }).map(String.init)
    }

    func checkNewID(_ id: String, _ path: String, _ seen: inout [String: String]) {
        if !Grammar.matches(id, Grammar.pacemakerID) {
            r.error(path, "'\(id)' is not a valid Pacemaker id (letters, digits, '_', '.', '-', not starting with a digit)")
        } else if let other = seen[id] {
            r.error(path, "the id '\(id)' is already used by \(other) (resources, groups, clones and fencing devices share one namespace)")
        } else {
            seen[id] = path
        }
    }
}
