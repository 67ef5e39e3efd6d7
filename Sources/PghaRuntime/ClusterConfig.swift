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

    /// A location of one resource on one node with a score (`pcs constraint location R prefers
    /// N=S` / `avoids`); rule-based locations are never pgha's.
    public struct Location: Equatable, Sendable {
        public var id: String?
        public var rsc: String
        public var node: String
        public var score: String
    }

    public enum Constraint: Equatable, Sendable {
        case colocation(Colocation)
        case order(Order)
        case location(Location)

        public var id: String? {
            switch self {
            case .colocation(let c): return c.id
            case .order(let o): return o.id
            case .location(let l): return l.id
            }
        }
        public var tag: String {
            switch self {
            case .colocation: return "rsc_colocation"
            case .order: return "rsc_order"
            case .location: return "rsc_location"
            }
        }
        /// The resources it ties together.
        public var resources: [String] {
            switch self {
            case .colocation(let c): return [c.rsc, c.withRsc]
            case .order(let o): return [o.first, o.then]
            case .location(let l): return [l.rsc]
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

