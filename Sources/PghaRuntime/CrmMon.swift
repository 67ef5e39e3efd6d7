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
    public var quorate: Bool
    public var onlineNodes: [String]
    public var instances: [Instance]
    public var failures: [Failure]

    /// The one status query.
    public static let query = Command("crm_mon", "-1", "--output-as=xml")
    /// The same as a probe, its XML as text (the cluster-start and verify steps share it).
    public static let probe = Probe("crm_mon", "\(query) 2>/dev/null")

    /// nil when crm_mon printed nothing usable (no cluster here yet, or not XML).
    public static func parse(_ xml: String) -> CrmMonStatus? {
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
        return CrmMonStatus(quorate: quorate, onlineNodes: online, instances: instances, failures: failures)
    }

    public func nodes(of resource: String, role: String) -> [String] {
        instances.filter { $0.resource == resource && $0.role == role }.compactMap(\.node).sorted()
    }
}
