import Foundation
import PghaShell
import PghaSpec
#if canImport(FoundationXML)
import FoundationXML
#endif

/// The parts of `crm_mon --output-as=xml` pgha checks: quorum, online nodes, where each
/// resource instance runs in which role, and failed actions with the agent's exit reason.
public struct CrmMonStatus: Equatable, Sendable {
    public struct Instance: Equatable, Sendable {
        public var resource: String
        public var role: String
        public var node: String?
        public var failed: Bool
    }
    public struct Failure: Equatable, Sendable {
        public var operation: String
        public var node: String
        public var status: String
        public var reason: String
    }
    /// A node as the cluster sees it.
    public struct Node: Equatable, Sendable {
        public var name: String
        public var online: Bool
        public var standby: Bool
        public var maintenance: Bool
        /// Lost without being fenced yet (Pacemaker will fence it).
        public var unclean: Bool
        public var pending: Bool
    }
    /// A location constraint pgha did not write: `pcs resource ban/move` leave these (`cli-ban-…`, `cli-prefer-…`).
    public struct Ban: Equatable, Sendable {
        public var id: String
        public var resource: String
        public var node: String
        public var weight: String
    }
    public var quorate: Bool
    public var onlineNodes: [String]
    public var instances: [Instance]
    public var failures: [Failure]
    public var nodes: [Node] = []
    /// Node attributes by node (the pgsql agent's `pgsql-status`, `pgsql-data-status`, `master-pgsql`…).
    public var attributes: [String: [String: String]] = [:]
    /// Fail counts by node, then resource (only those above zero).
    public var failCounts: [String: [String: String]] = [:]
    public var bans: [Ban] = []
    /// The designated controller; nil without one (no quorum yet, or the cluster stopped).
    public var dc: String?

    /// How crm_mon names a promotable clone's roles: Pacemaker 2.1 says Promoted/Unpromoted,
    /// older ones Master/Slave.
    public static let promotedRoles: Set<String> = ["Promoted", "Master"]
    public static let unpromotedRoles: Set<String> = ["Unpromoted", "Slave"]

    /// The nodes where `resource` (a clone's primitive) runs promoted.
    public func promoted(_ resource: String) -> [String] {
        instances.filter { $0.resource == resource && Self.promotedRoles.contains($0.role) }.compactMap(\.node)
    }

    /// The one status query: every section (nodes, attributes, fail counts, bans, failures).
    public static let query = Command("crm_mon", "-1", "--output-as=xml", "--include=all")
    /// The same as a probe, its XML as text (the cluster-start and verify steps share it).
    public static let probe = Probe("crm_mon", "\(query) 2>/dev/null")

    /// nil when crm_mon printed nothing usable (no cluster here yet, or not XML).
    public static func parse(_ xml: String) -> CrmMonStatus? { withXMLLock { parseLocked(xml) } }

    static func parseLocked(_ xml: String) -> CrmMonStatus? {
        // XMLDocument on Linux crashes on an empty document and recovers from broken ones:
        // only well-formed XML reaches it.
        guard xml.contains("<") else { return nil }
        let checker = XMLParser(data: Data(xml.utf8))
        guard checker.parse(), checker.parserError == nil else { return nil }
        guard let document = try? XMLDocument(xmlString: xml, options: []), let root = document.rootElement() else { return nil }
        func elements(_ path: String) -> [XMLElement] { ((try? root.nodes(forXPath: path)) ?? []).compactMap { $0 as? XMLElement } }
        func attribute(_ element: XMLElement, _ name: String) -> String? { element.attribute(forName: name)?.stringValue }
        let quorate = elements("//summary/current_dc").first.map { attribute($0, "with_quorum") == "true" } ?? false
        let online = elements("//nodes/node").filter { attribute($0, "online") == "true" }.compactMap { attribute($0, "name") }
        let instances = elements("//resources//resource").map { element in
            Instance(resource: attribute(element, "id") ?? "", role: attribute(element, "role") ?? "",
                     node: (element.elements(forName: "node").first).flatMap { attribute($0, "name") },
                     failed: attribute(element, "failed") == "true")
        }
        let failures = elements("//failures/failure").map { element in
            Failure(operation: attribute(element, "op_key") ?? "", node: attribute(element, "node") ?? "",
                    status: attribute(element, "exitstatus") ?? attribute(element, "status") ?? "",
                    reason: attribute(element, "exitreason") ?? "")
        }
        let nodes = elements("//nodes/node").map { element in
            Node(name: attribute(element, "name") ?? "", online: attribute(element, "online") == "true",
                 standby: attribute(element, "standby") == "true", maintenance: attribute(element, "maintenance") == "true",
                 unclean: attribute(element, "unclean") == "true", pending: attribute(element, "pending") == "true")
        }
        var attributes: [String: [String: String]] = [:]
        for node in elements("//node_attributes/node") {
            guard let name = attribute(node, "name") else { continue }
            for element in node.elements(forName: "attribute") {
                if let key = attribute(element, "name") { attributes[name, default: [:]][key] = attribute(element, "value") ?? "" }
            }
        }
        var failCounts: [String: [String: String]] = [:]
        for node in elements("//node_history/node") {
            guard let name = attribute(node, "name") else { continue }
            for history in node.elements(forName: "resource_history") {
                if let id = attribute(history, "id"), let count = attribute(history, "fail-count"), count != "0" {
                    failCounts[name, default: [:]][id] = count
                }
            }
        }
        let bans = elements("//bans/ban").map { element in
            Ban(id: attribute(element, "id") ?? "", resource: attribute(element, "resource") ?? "",
                node: attribute(element, "node") ?? "", weight: attribute(element, "weight") ?? "")
        }
        let dc = elements("//summary/current_dc").first.flatMap { attribute($0, "present") == "true" ? attribute($0, "name") : nil }
        return CrmMonStatus(quorate: quorate, onlineNodes: online, instances: instances, failures: failures,
                            nodes: nodes, attributes: attributes, failCounts: failCounts, bans: bans, dc: dc)
    }

    public func nodes(of resource: String, role: String) -> [String] {
        instances.filter { $0.resource == resource && $0.role == role }.compactMap(\.node).sorted()
    }
}

/// FoundationXML on Linux (XMLParser, XMLDocument over libxml2) makes no promise of being safe
/// from several threads at once, and pgha's decisions run on every core (a refused apply once
/// died of heap corruption in CI, cause not pinned down): every XML reading takes this lock (a
/// crm_mon or CIB document parses in a few ms). Recursive: a parse may call another.
private let xmlLock = NSRecursiveLock()

func withXMLLock<T>(_ body: () throws -> T) rethrows -> T {
    xmlLock.lock()
    defer { xmlLock.unlock() }
    return try body()
}
