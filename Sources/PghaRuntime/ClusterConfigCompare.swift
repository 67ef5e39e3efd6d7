import PghaShell
import PghaRender

/// One way the live cluster configuration differs from what pgha declares, as a plan line:
/// `~ property no-quorum-policy: ignore → stop`.
public struct ClusterConfigDifference: Equatable, Sendable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        case property
        case resourceDefault = "resource default"
        case fencing, resource, group, clone, operation, constraint
    }
    public var kind: Kind
    public var action: Action
    /// The line without its sign.
    public var text: String

    public init(_ kind: Kind, _ action: Action, _ text: String) {
        self.kind = kind
        self.action = action
        self.text = text
    }

    public var description: String { "\(action.symbol) \(text)" }

    /// Properties and resource defaults are set in place; anything else means rebuilding
    /// pgha's resources and constraints.
    public var needsRebuild: Bool { kind != .property && kind != .resourceDefault }
}

extension ClusterConfig {
    /// What differs between pgha's declared configuration and the live one, in the desired
    /// configuration's order (properties, defaults, resources as pcs builds them, constraints),
    /// then pgha's constraints that should not be there. Only what pgha declares or owns is
    /// looked at: Pacemaker's own properties, extra operations pcs adds (agent defaults, the
    /// fence device's monitor), other people's resources and constraints, cli-ban/cli-prefer
    /// locations and operational meta (target-role, is-managed) are not drift.
    public static func compare(desired: ClusterConfig, live: ClusterConfig) -> [ClusterConfigDifference] {
        var differences: [ClusterConfigDifference] = []
        func add(_ kind: ClusterConfigDifference.Kind, _ action: Action, _ text: String) {
            differences.append(ClusterConfigDifference(kind, action, text))
        }

        func compareAttributes(_ wanted: [Attribute], _ have: [Attribute], _ kind: ClusterConfigDifference.Kind, _ label: String) {
            for wanted in wanted {
                if let have = have.first(where: { $0.name == wanted.name }) {
                    if !CIBValue.same(wanted.name, have.value, wanted.value) {
                        add(kind, .update, "\(label) \(wanted.name): \(have.value) → \(wanted.value)")
                    }
                } else {
                    add(kind, .create, "\(label) \(wanted.name): \(wanted.value)")
                }
            }
        }
        compareAttributes(desired.properties, live.properties, .property, "property")
        compareAttributes(desired.resourceDefaults, live.resourceDefaults, .resourceDefault, "resource default")

        let livePrimitives = Dictionary(live.allPrimitives.map { ($0.primitive.id, $0) }, uniquingKeysWith: { first, _ in first })
        let liveTop = Dictionary(live.resources.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })

        func comparePrimitive(_ wanted: Primitive, parent: String?, parentKind: String?) {
            let kind: ClusterConfigDifference.Kind = wanted.agent.isStonith ? .fencing : .resource
            let label = "\(kind.rawValue) \(wanted.id)"
            guard let (have, haveParent) = livePrimitives[wanted.id] else {
                add(kind, .create, "\(label) (\(describe(wanted)))")
                return
            }
            if haveParent != parent {
                func place(_ id: String?, _ kind: String?) -> String { id.map { "in \(kind ?? "group") \($0)" } ?? "top level" }
                let liveKind = haveParent.flatMap { liveTop[$0] }.map { $0.tag == "group" ? "group" : "clone" }
                add(kind, .update, "\(label): \(place(haveParent, liveKind)) → \(place(parent, parentKind))")
            }
            if have.agent.description != wanted.agent.description {
                add(kind, .update, "\(label) agent: \(have.agent) → \(wanted.agent)")
            }
            compareAttributes(wanted.instance, have.instance, label: label, kind: kind, ignoring: [])
            compareAttributes(wanted.meta, have.meta, label: "\(label) meta", kind: kind, ignoring: CIBValue.operationalMeta)
            compareOperations(wanted, have)
        }

        func compareAttributes(_ wanted: [Attribute], _ have: [Attribute], label: String,
                               kind: ClusterConfigDifference.Kind, ignoring: Set<String>,
                               name canonicalName: (String) -> String = { $0 }) {
            for w in wanted {
                if let h = have.first(where: { canonicalName($0.name) == canonicalName(w.name) }) {
                    if !CIBValue.same(canonicalName(w.name), h.value, w.value) {
                        add(kind, .update, "\(label) \(w.name): \(h.value) → \(w.value)")
                    }
                } else {
                    add(kind, .update, "\(label) \(w.name): (unset) → \(w.value)")
                }
            }
            // Anything else on pgha's own resource would be lost when it is rebuilt: show it.
            for h in have where !ignoring.contains(h.name) && !wanted.contains(where: { canonicalName($0.name) == canonicalName(h.name) }) {
                add(kind, .update, "\(label) \(h.name): \(h.value) → (unset)")
            }
        }

        func compareOperations(_ wanted: Primitive, _ have: Primitive) {
            var used = Set<Int>()
            for op in wanted.operations {
                let label = "\(wanted.id) op \(op.name)" + (op.role.map { " (\(CIBValue.role($0) ?? $0))" } ?? "")
                // Match by name and role; with several (a resource may monitor at two
                // intervals), prefer the one with the same interval.
                let candidates = have.operations.indices.filter {
                    !used.contains($0) && have.operations[$0].name == op.name &&
                        CIBValue.role(have.operations[$0].role) == CIBValue.role(op.role)
                }
                let match = candidates.first { CIBValue.same("interval", have.operations[$0].interval, op.interval) } ?? candidates.first
                guard let index = match else {
                    add(.operation, .create, "\(label) \(describeOperation(op))")
                    continue
                }
                used.insert(index)
                let h = have.operations[index]
                var changes: [String] = []
                func check(_ name: String, _ live: String?, _ wanted: String?) {
                    switch (live, wanted) {
                    case (nil, nil): break
                    case let (l?, w?) where CIBValue.same(name, l, w): break
                    default: changes.append("\(name) \(live ?? "(unset)") → \(wanted ?? "(unset)")")
                    }
                }
                check("interval", h.interval, op.interval)
                check("timeout", h.timeout, op.timeout)
                check("on-fail", h.onFail, op.onFail)
                if !changes.isEmpty { add(.operation, .update, "\(label): \(changes.joined(separator: ", "))") }
            }
        }

        for resource in desired.resources {
            switch resource {
            case .primitive(let p):
                comparePrimitive(p, parent: nil, parentKind: nil)
            case .group(let group):
                if case .group(let have)? = liveTop[group.id] {
                    let (haveIDs, wantIDs) = (have.members.map(\.id), group.members.map(\.id))
                    if haveIDs != wantIDs {
                        add(.group, .update, "group \(group.id) members: \(haveIDs.joined(separator: " ")) → \(wantIDs.joined(separator: " "))")
                    }
                    compareAttributes(group.meta, have.meta, label: "group \(group.id) meta", kind: .group, ignoring: CIBValue.operationalMeta)
                } else {
                    add(.group, .create, "group \(group.id) (\(group.members.map(\.id).joined(separator: " ")))")
                }
                for member in group.members { comparePrimitive(member, parent: group.id, parentKind: "group") }
            case .clone(let clone):
                if case .clone(let have)? = liveTop[clone.id] {
                    if have.promotable != clone.promotable {
                        add(.clone, .update, "clone \(clone.id) promotable: \(have.promotable) → \(clone.promotable)")
                    }
                    compareAttributes(clone.meta, have.meta, label: "clone \(clone.id)", kind: .clone,
                                      ignoring: CIBValue.operationalMeta, name: CIBValue.cloneMetaName)
                } else {
                    let meta = clone.meta.map { "\($0.name)=\($0.value)" }.joined(separator: " ")
                    add(.clone, .create, "clone \(clone.id) (\(clone.promotable ? "promotable " : "")\(clone.child.id)\(meta.isEmpty ? "" : " " + meta))")
                }
                switch clone.child {
                case .primitive(let p): comparePrimitive(p, parent: clone.id, parentKind: "clone")
                case .group(let g): for member in g.members { comparePrimitive(member, parent: g.id, parentKind: "group") }
                }
            }
        }

        // Constraints between pgha's own resources are pgha's: match them by meaning (not id).
        var liveOwned = live.constraints.filter { desired.owns($0) }
        for constraint in desired.constraints {
            if let index = liveOwned.firstIndex(where: { $0.key == constraint.key }) {
                liveOwned.remove(at: index)
            } else {
                add(.constraint, .create, "constraint \(constraint.text)")
            }
        }
        for constraint in liveOwned {
            add(.constraint, .delete, "constraint \(constraint.text)\(constraint.id.map { " (id \($0))" } ?? "")")
        }
        return differences
    }

    /// `ocf:heartbeat:IPaddr2 ip=10.77.0.101 nic=eth0 cidr_netmask=24 meta migration-threshold=0`
    static func describe(_ p: Primitive) -> String {
        var words = [p.agent.description] + p.instance.map { quote("\($0.name)=\($0.value)") }
        if !p.meta.isEmpty { words += ["meta"] + p.meta.map { quote("\($0.name)=\($0.value)") } }
        return words.joined(separator: " ")
    }

    static func describeOperation(_ op: Operation) -> String {
        var words = ["interval=\(op.interval)"]
        if let timeout = op.timeout { words.append("timeout=\(timeout)") }
        if let onFail = op.onFail { words.append("on-fail=\(onFail)") }
        return words.joined(separator: " ")
    }

    /// pgha's objects in the live CIB, by the XPath `cibadmin --node-path` prints: top-level
    /// resources that have the id of one of pgha's resources, and colocation/order
    /// constraints between pgha's resources. The repair removes those the rebuild does not
    /// produce again.
    public func ownedPaths(desired: ClusterConfig) -> (resources: [String], constraints: [String]) {
        let owned = desired.allResourceIDs
        let resources = self.resources.filter { owned.contains($0.id) }.map { "/cib/configuration/resources/\($0.tag)[@id='\($0.id)']" }
        let constraints = self.constraints.filter { $0.id != nil && desired.owns($0) }
            .map { "/cib/configuration/constraints/\($0.tag)[@id='\($0.id!)']" }
        return (resources, constraints)
    }

    /// Whether a live constraint is pgha's (this being the desired configuration): a colocation or
    /// order between resources pgha declares; a location of a resource the spec places with a
    /// location of its own, except the `cli-` ones `pcs resource move/ban` make (an operator's).
    public func owns(_ constraint: Constraint) -> Bool {
        if case .location(let l) = constraint {
            if l.id?.hasPrefix("cli-") == true { return false }
            return constraints.contains { if case .location(let mine) = $0 { return mine.rsc == l.rsc } else { return false } }
        }
        return constraint.resources.allSatisfy(allResourceIDs.contains)
    }

    /// Whether any of the desired configuration's resources (or fencing devices) exists.
    public func holdsAnyResource(of desired: ClusterConfig) -> Bool {
        !allResourceIDs.isDisjoint(with: desired.allResourceIDs)
    }
}

extension ClusterConfig.Constraint {
    /// The constraint's meaning, with every default spelled out.
    var key: String {
        switch self {
        case .colocation(let c):
            return "colocation \(c.rsc) \(CIBValue.role(c.rscRole) ?? "Started") \(c.withRsc) \(CIBValue.role(c.withRscRole) ?? "Started") \(CIBValue.score(c.score))"
        case .location(let l):
            return "location \(l.rsc) \(l.node) \(CIBValue.score(l.score))"
        case .order(let o):
            let first = o.firstAction ?? "start"
            return "order \(first) \(o.first) \(o.thenAction ?? first) \(o.then) \(o.effectiveKind) symmetrical=\(o.effectiveSymmetrical)"
        }
    }

    /// The constraint as pcs takes it: `colocation slave-group with Unpromoted msPostgresql INFINITY`.
    var text: String {
        switch self {
        case .colocation(let c):
            let sourceRole = CIBValue.role(c.rscRole).flatMap { $0 == "Started" ? nil : $0 }
            let targetRole = CIBValue.role(c.withRscRole).flatMap { $0 == "Started" ? nil : $0 }
            return (["colocation", sourceRole, c.rsc, "with", targetRole, c.withRsc, CIBValue.score(c.score)] as [String?])
                .compactMap { $0 }.joined(separator: " ")
        case .location(let l):
            let score = CIBValue.score(l.score)
            return score.hasPrefix("-") ? "location \(l.rsc) avoids \(l.node)=\(score.dropFirst())" : "location \(l.rsc) prefers \(l.node)=\(score)"
        case .order(let o):
            var words = ["order", o.firstAction, o.first, "then", o.thenAction, o.then].compactMap { $0 }
            words.append("kind=\(o.effectiveKind)")
            if !o.effectiveSymmetrical { words.append("symmetrical=false") }
            return words.joined(separator: " ")
        }
    }
}

extension ClusterConfig.Order {
    /// pcs 0.9 writes score=INFINITY / score=0 where 0.10+ write kind=Mandatory / kind=Optional.
    public var effectiveKind: String {
        if let kind { return kind.prefix(1).uppercased() + kind.dropFirst().lowercased() }
        if let score { return CIBValue.score(score) == "0" ? "Optional" : "Mandatory" }
        return "Mandatory"
    }

    public var effectiveSymmetrical: Bool {
        symmetrical.flatMap { CIBValue.boolean($0, numbers: true) } ?? (effectiveKind != "Serialize")
    }
}
